package dev.tuneforge.engine;

import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsTest {
    @TempDir
    Path tmp;

    @Test
    void roundTripKeepsDtypesShapesAndBytes() {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("f32", torch.randn(3, 5));
        in.put("bf16", torch.randn(4, 2).to(ScalarType.BFloat16));
        in.put("f16", torch.randn(7).to(ScalarType.Half));
        in.put("i64", Tensors.longs(new long[]{1, -2, 3}));
        Path file = tmp.resolve("t.safetensors");
        Safetensors.write(file, in, Map.of("note", "x"));
        Map<String, Tensor> out = Safetensors.read(file);
        assertEquals(in.keySet(), out.keySet());
        for (String k : in.keySet()) {
            assertTrue(Tensors.bitwiseEqual(in.get(k), out.get(k)), k);
        }
        assertEquals("x", Safetensors.readHeader(file).metadata().get("note"));
        // header is 8-byte aligned, as the format requires
        assertEquals(0, (Safetensors.readHeader(file).dataStart() - 8) % 8);
    }

    /** Each tensor's mapping is released once it is copied, not when the garbage collector gets to it. */
    @Test
    void readingLeavesNothingOfTheFileMapped() throws Exception {
        Path maps = Path.of("/proc/self/maps");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(maps), "needs Linux's /proc/self/maps");
        Path file = tmp.resolve("mapped.safetensors");
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (int i = 0; i < 4; i++) {
            in.put("w" + i, torch.randn(256, 1024)); // 1 MB each: mapped, not read through a buffer
        }
        Safetensors.write(file, in, Map.of());
        Map<String, Tensor> kept = Safetensors.read(file);
        Map<String, Tensor> converted = Safetensors.read(file, t -> t.to(ScalarType.BFloat16));
        String path = file.toRealPath().toString();
        String mapped = Files.readAllLines(maps).stream()
                .filter(line -> line.endsWith(path))
                .collect(java.util.stream.Collectors.joining("\n"));
        assertEquals("", mapped, "mappings of the file left after reading");
        for (String k : in.keySet()) {
            assertTrue(Tensors.bitwiseEqual(in.get(k), kept.get(k)), k);
            assertTrue(Tensors.bitwiseEqual(in.get(k).to(ScalarType.BFloat16), converted.get(k)), k);
        }
    }

    @Test
    void conversionOnReadOwnsItsMemory() {
        Path file = tmp.resolve("c.safetensors");
        Tensor t = torch.randn(16, 16).to(ScalarType.BFloat16);
        Safetensors.write(file, Map.of("w", t), Map.of());
        Tensor asFloat = Safetensors.read(file, x -> x.to(ScalarType.Float)).get("w");
        assertArrayEquals(Tensors.toFloats(t), Tensors.toFloats(asFloat));
        Tensor same = Safetensors.read(file, x -> x.to(ScalarType.BFloat16)).get("w");
        System.gc();
        assertArrayEquals(Tensors.toFloats(t), Tensors.toFloats(same));
    }

    @Test
    void rejectsFilesThatAreNotSafetensors() throws Exception {
        Path file = tmp.resolve("bad.safetensors");
        Files.write(file, new byte[]{(byte) 0xff, 0, 0, 0, 0, 0, 0, 0x7f, 1, 2});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Safetensors.read(file));
        assertTrue(e.getMessage().contains("not a safetensors file"), e.getMessage());
    }
}
