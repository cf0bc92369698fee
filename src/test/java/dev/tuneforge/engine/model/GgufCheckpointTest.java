package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.GgmlType;
import dev.tuneforge.engine.tensor.GgufFile;
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
