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
 * The decoder's attention scores: four keys at a time
 * and the rest one by one, for head sizes around the vector lengths, against double-precision sums.
 */
class ScaledDotsTest {
    @Test
    void scoresMatchDoublePrecisionSums() throws Exception {
        Random random = new Random(7);
        Generator gen = torch.createCPUGenerator(7);
        for (int dim : new int[]{5, 12, 16, 20, 64, 100, 128}) {
            for (int n : new int[]{1, 3, 4, 5, 8, 9, 97}) {
                int skipRows = 2;
                int rows = n + skipRows + 1;
                Tensor keyTensor = torch.randn(new long[]{rows, dim}, new GeneratorOptional(gen),
                        new TensorOptions(ScalarType.Float));
                float[] values = Tensors.toFloats(keyTensor);
                java.lang.foreign.MemorySegment keys = java.lang.foreign.MemorySegment.ofAddress(keyTensor.data_ptr().address())
                        .reinterpret((long) rows * dim * Float.BYTES);
                int qOff = 3;
                float[] q = new float[qOff + dim];
                for (int d = 0; d < q.length; d++) {
                    q[d] = (float) random.nextGaussian();
                }
                int outOff = 5;
                float[] out = new float[outOff + n + 2];
                float scale = 0.125f;
                VectorMath.scaledDots(q, qOff, keys, (long) skipRows * dim, dim, n, scale, out, outOff);
                for (int t = 0; t < n; t++) {
                    double expected = 0;
                    double magnitude = 0;
                    for (int d = 0; d < dim; d++) {
                        double term = (double) q[qOff + d] * values[(skipRows + t) * dim + d];
                        expected += term;
                        magnitude += Math.abs(term);
                    }
                    assertTrue(Math.abs(out[outOff + t] - expected * scale) <= 1e-6 * magnitude * scale + 1e-7,
                            "dim " + dim + ", " + n + " keys, key " + t + ": " + out[outOff + t] + " against "
                                    + expected * scale);
                }
                for (int i = 0; i < outOff; i++) {
                    assertEquals(0f, out[i], "wrote before the output at " + i);
                }
                for (int i = outOff + n; i < out.length; i++) {
                    assertEquals(0f, out[i], "wrote past the output at " + i);
                }
                // the segment is a view of the tensor's memory: it must not be freed while it is read
                java.lang.ref.Reference.reachabilityFence(keyTensor);
            }
        }
    }
}
