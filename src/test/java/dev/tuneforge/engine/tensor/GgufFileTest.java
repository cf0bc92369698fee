package dev.tuneforge.engine.tensor;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading llama.cpp's GGUF files, and the errors for files that are not sound. */
class GgufFileTest {
    private static final Path STORIES = Path.of("src/test/resources/gguf/stories260K-Q8_0.gguf");

    @TempDir
    Path tmp;

    @Test
    void readsTheMetadataAndTensorsLlamaCppWrote() {
        GgufFile f = GgufFile.open(STORIES);
        assertEquals(3, f.version());
        assertEquals("llama", f.string("general.architecture"));
        assertEquals(5L, f.integer("llama.block_count"));
        assertEquals(64L, f.integer("llama.embedding_length"));
        assertEquals(1e-5, (Double) f.metadata().get("llama.attention.layer_norm_rms_epsilon"), 1e-12);
        GgufFile.ArrayValue tokens = (GgufFile.ArrayValue) f.metadata().get("tokenizer.ggml.tokens");
        assertEquals(512, tokens.length());
        assertEquals("<s>", tokens.values().get(1));
        GgufFile.TensorInfo q = f.tensors().get("blk.0.attn_q.weight");
        assertEquals(GgmlType.Q8_0, q.type());
        assertArrayEquals(new long[]{64, 64}, q.shape());
        assertEquals(0, q.offset() % 32);
        Tensor blocks = f.read("blk.0.attn_q.weight");
        assertEquals(ScalarType.Byte.value, blocks.scalar_type().value);
        assertArrayEquals(new long[]{64, 2 * 34}, Tensors.shape(blocks));
        GgufFile.TensorInfo down = f.tensors().get("blk.0.ffn_down.weight");
        assertEquals(GgmlType.F16, down.type());
        assertArrayEquals(new long[]{64, 172}, Tensors.shape(f.read("blk.0.ffn_down.weight")));
        assertEquals(1 + 5 * 9 + 1, f.tensors().size());
    }

    @Test
    void aFileWrittenFromWhatWasReadReadsTheSame() {
        GgufFile f = GgufFile.open(STORIES);
        GgufFile copy = GgufFile.open(GgufWriting.write(tmp.resolve("copy.gguf"), GgufWriting.metadata(f),
                GgufWriting.tensors(f)));
        assertEquals(f.metadata(), copy.metadata());
        assertEquals(f.tensors().keySet(), copy.tensors().keySet());
        for (String name : List.of("token_embd.weight", "blk.4.ffn_down.weight", "output_norm.weight")) {
            assertTrue(f.read(name).equal(copy.read(name)), name);
        }
    }

    @Test
    void aFileThatIsNotGgufOrOfAnotherVersionIsRefused() throws IOException {
        byte[] bytes = Files.readAllBytes(STORIES);
        bytes[3] = 'X';
        Path wrongMagic = Files.write(tmp.resolve("wrong-magic.gguf"), bytes);
        assertMessage(wrongMagic, "wrong-magic.gguf is not a GGUF file");

        bytes = Files.readAllBytes(STORIES);
        bytes[4] = 1;
        assertMessage(Files.write(tmp.resolve("v1.gguf"), bytes), "GGUF version 1 is not supported");
        bytes[4] = 0;
        bytes[7] = 3;
        assertMessage(Files.write(tmp.resolve("big.gguf"), bytes), "big.gguf: a big-endian GGUF file, which is not supported");

        assertMessage(Files.write(tmp.resolve("empty.gguf"), new byte[0]), "empty.gguf is truncated");
    }

    @Test
    void aTruncatedFileSaysWhereItEnds() throws IOException {
        byte[] bytes = Files.readAllBytes(STORIES);
        assertMessage(Files.write(tmp.resolve("counts.gguf"), Arrays.copyOf(bytes, 200)),
                "counts.gguf is truncated or damaged: the tensor count 47 cannot fit in its 200 bytes");
        var e = assertThrows(IllegalArgumentException.class,
                () -> GgufFile.open(Files.write(tmp.resolve("header.gguf"), Arrays.copyOf(bytes, 2000))));
        assertTrue(e.getMessage().contains("header.gguf is truncated: it ends (2000 bytes) inside")
                && e.getMessage().contains("metadata tokenizer.ggml.tokens"), e.getMessage());
        // the last tensor's data cut short
        assertMessage(Files.write(tmp.resolve("data.gguf"), Arrays.copyOf(bytes, bytes.length - 100)),
                "data.gguf is truncated: tensor ");
    }

    @Test
    void aTensorOfAnUnknownTypeOrRowsNotOfWholeBlocksIsRefused() {
        GgufFile f = GgufFile.open(STORIES);
        Map<String, Object> metadata = GgufWriting.metadata(f);
        List<GgufWriting.Entry> tensors = GgufWriting.tensors(f).stream().map(t -> t.name().equals("blk.0.attn_v.weight")
                ? new GgufWriting.Entry(t.name(), t.dims(), 77, t.data()) : t).toList();
        GgufFile unknown = GgufFile.open(GgufWriting.write(tmp.resolve("unknown.gguf"), metadata, tensors));
        var e = assertThrows(IllegalArgumentException.class, () -> unknown.read("blk.0.attn_v.weight"));
        assertTrue(e.getMessage().contains("tensor blk.0.attn_v.weight is type 77, which Tuneforge does not read"),
                e.getMessage());

        tensors = GgufWriting.tensors(f).stream().map(t -> t.name().equals("blk.0.attn_v.weight")
                ? new GgufWriting.Entry(t.name(), new long[]{48, 32}, t.type(), t.data()) : t).toList();
        assertMessage(GgufWriting.write(tmp.resolve("rows.gguf"), metadata, tensors),
                "tensor blk.0.attn_v.weight (Q8_0) has rows of 48 elements, not a multiple of its block of 32");
    }

    private static void assertMessage(Path file, String expected) {
        var e = assertThrows(IllegalArgumentException.class, () -> GgufFile.open(file));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}
