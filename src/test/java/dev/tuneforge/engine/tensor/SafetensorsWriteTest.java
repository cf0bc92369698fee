package dev.tuneforge.engine.tensor;

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
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Tensors are written from native memory piece by piece: any piece size gives the same file. */
class SafetensorsWriteTest {
    @TempDir
    Path tmp;

    @Test
    void writingInPiecesGivesTheSameFileAsInOnePiece() throws Exception {
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("f32", torch.randn(33, 17));
        in.put("transposed", torch.randn(6, 9).t()); // not contiguous: written row-major as its shape says
        in.put("bf16", torch.randn(5, 3).to(ScalarType.BFloat16));
        in.put("empty", torch.randn(0, 4));
        Path whole = tmp.resolve("whole.safetensors");
        Path pieces = tmp.resolve("pieces.safetensors");
        Safetensors.write(whole, in, Map.of("k", "v"));
        // 7 bytes: pieces that end inside elements and do not divide any tensor's size
        Safetensors.write(pieces, in, Map.of("k", "v"), 7);

        assertArrayEquals(Files.readAllBytes(whole), Files.readAllBytes(pieces));
        Map<String, Tensor> out = Safetensors.read(pieces);
        for (String name : in.keySet()) {
            assertTrue(Tensors.bitwiseEqual(in.get(name).contiguous(), out.get(name)), name);
        }
        assertEquals(0, out.get("empty").numel());
        assertArrayEquals(new long[]{9, 6}, Tensors.shape(out.get("transposed")));
    }
}
