package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.GgmlType;
import dev.tuneforge.engine.tensor.GgufFile;
import dev.tuneforge.engine.tensor.GgufWriting;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * llama.cpp's own Q8_0 files of the fixtures (src/test/resources/gguf, made by its converter's rules and
 * {@code llama-quantize}) read back under Hugging Face names: the same Q8_0 bytes as quantizing the safetensors
 * checkpoint at load, q/k rows un-permuted (stories-260k is a {@code llama}), Gemma's 1 + w norms undone.
 */
class GgufCheckpointTest {
    static final Path FIXTURES = Path.of("src/test/resources/gguf");
    private static final Path SHARED = Path.of(System.getProperty("tuneforge.sharedModels", "../shared/models"));

    @Test
    void storiesQ8_0MatricesAreOurQuantizationByteForByteAndItsF16DownProjectionsTheCheckpointsInF16() {
        Map<GgmlType, Integer> types = compare(new HfModelDirectory(Path.of("models/stories-260k")),
                FIXTURES.resolve("stories260K-Q8_0.gguf"));
        // llama-quantize keeps a matrix whose rows (172) are not a multiple of 32 in F16: the five down projections
        assertEquals(Map.of(GgmlType.Q8_0, 1 + 5 * 6, GgmlType.F16, 5), types);
    }

    @Test
    void qwen3AndGemma3FilesHoldOurQ8_0BytesAndTheirNorms() {
        assertEquals(Map.of(GgmlType.Q8_0, 1 + 4 * 7), compare(new HfModelDirectory(SHARED.resolve("tiny-qwen3/hf")),
                FIXTURES.resolve("tiny-qwen3-Q8_0.gguf")));
        assertEquals(Map.of(GgmlType.Q8_0, 1 + 6 * 7), compare(new HfModelDirectory(SHARED.resolve("tiny-gemma3/hf")),
                FIXTURES.resolve("tiny-gemma3-Q8_0.gguf")));
    }

    @Test
    void aFileWhoseTensorsDoNotFitConfigJsonIsRefusedNamingTheTensor(@org.junit.jupiter.api.io.TempDir Path tmp) {
        ModelConfig config = new HfModelDirectory(Path.of("models/stories-260k")).config();
        GgufFile stories = GgufFile.open(FIXTURES.resolve("stories260K-Q8_0.gguf"));
        java.util.function.BiFunction<String, java.util.function.UnaryOperator<java.util.List<GgufWriting.Entry>>, String> refused =
                (name, change) -> assertThrows(IllegalArgumentException.class, () -> new GgufCheckpoint(config,
                        GgufWriting.write(tmp.resolve(name), GgufWriting.metadata(stories),
                                change.apply(new java.util.ArrayList<>(GgufWriting.tensors(stories)))), ScalarType.Float))
                        .getMessage();
        String message = refused.apply("q4.gguf", ts -> replace(ts, "blk.0.attn_v.weight",
                t -> new GgufWriting.Entry(t.name(), t.dims(), GgmlType.Q4_0.id, new byte[32 * 2 * 18])));
        assertTrue(message.contains("q4.gguf: tensor blk.0.attn_v.weight is Q4_0; Tuneforge reads Q8_0, F32, F16 or BF16"),
                message);
        message = refused.apply("shape.gguf", ts -> replace(ts, "blk.1.ffn_up.weight",
                t -> new GgufWriting.Entry(t.name(), new long[]{64, 160}, t.type(), new byte[160 * 68])));
        assertTrue(message.contains("shape.gguf: tensor blk.1.ffn_up.weight has shape [160, 64] (rows first), "
                + "config.json implies [172, 64]"), message);
        message = refused.apply("missing.gguf", ts -> {
            ts.removeIf(t -> t.name().equals("blk.2.attn_v.weight"));
            return ts;
        });
        assertTrue(message.contains("missing.gguf lacks tensor blk.2.attn_v.weight (model.layers.2.self_attn.v_proj.weight)"),
                message);
        message = refused.apply("untied.gguf", ts -> {
            GgufWriting.Entry embedding = ts.get(0);
            ts.add(new GgufWriting.Entry("output.weight", embedding.dims(), embedding.type(), embedding.data()));
            return ts;
        });
        assertTrue(message.contains("untied.gguf holds tensor output.weight, which a \"llama\" model of config.json "
                + "does not have (config.json ties the head to the embedding)"), message);
        var metadata = GgufWriting.metadata(stories);
        metadata.remove("general.architecture");
        message = assertThrows(IllegalArgumentException.class, () -> new GgufCheckpoint(config, GgufWriting.write(
                tmp.resolve("anonymous.gguf"), metadata, GgufWriting.tensors(stories)), ScalarType.Float)).getMessage();
        assertTrue(message.contains("anonymous.gguf has no general.architecture"), message);
    }

    private static java.util.List<GgufWriting.Entry> replace(java.util.List<GgufWriting.Entry> tensors, String name,
                                                             java.util.function.UnaryOperator<GgufWriting.Entry> change) {
        tensors.replaceAll(t -> t.name().equals(name) ? change.apply(t) : t);
        return tensors;
    }

    /** Compares every tensor of {@code gguf} with the folder's safetensors; the matrices' GGUF types, counted. */
    private static Map<GgmlType, Integer> compare(HfModelDirectory dir, Path gguf) {
        ModelConfig config = dir.config();
        CheckpointTensors hf = new CheckpointTensors(dir, ScalarType.Float);
        GgufCheckpoint read = new GgufCheckpoint(config, gguf, ScalarType.Float);
        GgufFile file = GgufFile.open(gguf);
        Map<GgmlType, Integer> types = new java.util.TreeMap<>();
        boolean onePlus = config.architecture().norm() == Architecture.Norm.ONE_PLUS_WEIGHT;
        for (var e : GgufCheckpoint.ggufNames(config).entrySet()) {
            String name = e.getKey();
            Tensor want = hf.get(name).to(ScalarType.Float).contiguous();
            Tensor got = read.get(name);
            if (want.dim() == 1) {
                if (onePlus && name.endsWith("norm.weight")) {
                    // what the model multiplies by: 1 + w in float32, as the converter stored it
                    want = want.add(new org.bytedeco.pytorch.Scalar(1.0));
                    got = got.add(new org.bytedeco.pytorch.Scalar(1.0));
                }
                assertArrayEquals(Tensors.toFloats(want), Tensors.toFloats(got), name);
                continue;
            }
            GgmlType type = file.tensors().get(e.getValue()).type();
            types.merge(type, 1, Integer::sum);
            if (type == GgmlType.Q8_0) {
                Tensor ours = org.bytedeco.pytorch.global.torch.empty(new long[]{want.size(0),
                        Q8Blocks.rowBytes(want.size(1))}, Tensors.options(ScalarType.Byte),
                        new org.bytedeco.pytorch.MemoryFormatOptional());
                Q8Blocks.quantize(want, MemorySegment.ofAddress(ours.data_ptr().address()).reinterpret(ours.nbytes()));
                assertTrue(Arrays.equals(bytes(ours), bytes(got)), name + ": Q8_0 bytes differ");
            } else {
                assertEquals(GgmlType.F16, type, name);
                assertArrayEquals(Tensors.toFloats(want.to(ScalarType.Half).to(ScalarType.Float)),
                        Tensors.toFloats(got.to(ScalarType.Float)), name);
            }
        }
        return types;
    }

    private static byte[] bytes(Tensor t) {
        Tensor c = t.contiguous();
        return MemorySegment.ofAddress(c.data_ptr().address()).reinterpret(c.nbytes())
                .toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }
}
