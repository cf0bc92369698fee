package dev.tuneforge.engine.kernel;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoder's kernels for a bfloat16 KV cache:
 * attention scores against bf16 keys and weighted sums of bf16 values, for head sizes around the vector lengths,
 * against double-precision sums of the same bf16 values (the rounding of what is stored: {@code BFloat16Test}).
 */
class Bf16CacheKernelsTest {
    @Test
    void scoresAndWeightedSumsOverBfloat16RowsMatchDoublePrecisionSums() throws Exception {
        Random random = new Random(7);
        Generator gen = torch.createCPUGenerator(7);
        for (int dim : new int[]{5, 12, 16, 20, 64, 100, 128}) {
            for (int n : new int[]{1, 3, 4, 5, 8, 9, 97}) {
                int skipRows = 2;
                int rows = n + skipRows + 1;
                Tensor rowTensor = torch.randn(new long[]{rows, dim}, new GeneratorOptional(gen),
                        new TensorOptions(ScalarType.Float)).to(ScalarType.BFloat16).contiguous();
                float[] values = Tensors.toFloats(rowTensor.to(ScalarType.Float));
                java.lang.foreign.MemorySegment rowSegment = java.lang.foreign.MemorySegment.ofAddress(
                        rowTensor.data_ptr().address()).reinterpret((long) rows * dim * 2);
                int off = 3;
                float[] q = new float[off + Math.max(dim, n)];
                for (int i = 0; i < q.length; i++) {
                    q[i] = (float) random.nextGaussian();
                }
                float[] out = new float[off + Math.max(dim, n) + 2];
                float scale = 0.125f;
                VectorMath.scaledDotsBf16(q, off, rowSegment, (long) skipRows * dim, dim, n, scale, out, off);
                for (int t = 0; t < n; t++) {
                    double expected = 0;
                    double magnitude = 0;
                    for (int d = 0; d < dim; d++) {
                        double term = (double) q[off + d] * values[(skipRows + t) * dim + d];
                        expected += term;
                        magnitude += Math.abs(term);
                    }
                    assertTrue(Math.abs(out[off + t] - expected * scale) <= 1e-6 * magnitude * scale + 1e-7,
                            "scores, dim " + dim + ", " + n + " keys, key " + t + ": " + out[off + t] + " against "
                                    + expected * scale);
                }
                assertUntouchedAround(out, off, n, "scores");

                float[] sums = new float[off + dim + 2];
                VectorMath.weightedSumBf16(q, off, n, rowSegment, (long) skipRows * dim, dim, sums, off);
                for (int d = 0; d < dim; d++) {
                    double expected = 0;
                    double magnitude = 0;
                    for (int t = 0; t < n; t++) {
                        double term = (double) q[off + t] * values[(skipRows + t) * dim + d];
                        expected += term;
                        magnitude += Math.abs(term);
                    }
                    assertTrue(Math.abs(sums[off + d] - expected) <= 1e-6 * magnitude + 1e-7,
                            "weighted sum, dim " + dim + ", " + n + " values, element " + d + ": " + sums[off + d]
                                    + " against " + expected);
                }
                assertUntouchedAround(sums, off, dim, "weighted sums");
                // the segment is a view of the tensor's memory: it must not be freed while it is read
                java.lang.ref.Reference.reachabilityFence(rowTensor);
            }
        }
    }

    private static void assertUntouchedAround(float[] out, int off, int n, String what) {
        for (int i = 0; i < off; i++) {
            assertEquals(0f, out[i], what + ": wrote before the output at " + i);
        }
        for (int i = off + n; i < out.length; i++) {
            assertEquals(0f, out[i], what + ": wrote past the output at " + i);
        }
    }
}
