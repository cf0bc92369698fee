package dev.tuneforge.engine.kernel;

import dev.tuneforge.engine.tensor.BFloat16;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The decoder's matrix-vector products against a
 * double-precision sum over the same values, for widths around the vector lengths, enough rows to be split
 * across the cores, and odd row counts (rows are read in pairs from the two halves; an odd last row alone); and
 * extra float32 rows multiplied in the same job.
 */
class WeightMatrixTest {
    @Test
    void productsMatchADoublePrecisionSumInBf16AndFp32() throws Exception {
        Generator gen = torch.createCPUGenerator(5);
        Random random = new Random(5);
        for (ScalarType type : new ScalarType[]{ScalarType.BFloat16, ScalarType.Float}) {
            for (int[] shape : new int[][]{{3000, 5}, {3000, 16}, {3000, 31}, {3000, 32}, {3000, 48}, {3000, 64},
                    {3000, 100}, {3000, 576}, {3000, 1000}, {3001, 576}, {3001, 31}, {1, 64}, {7, 100}, {255, 48}}) {
                int rows = shape[0];
                int cols = shape[1];
                Tensor w = torch.randn(new long[]{rows, cols}, new GeneratorOptional(gen), new TensorOptions(ScalarType.Float))
                        .to(type).contiguous();
                float[] values = Tensors.toFloats(w.to(ScalarType.Float));
                float[] x = new float[cols];
                for (int c = 0; c < cols; c++) {
                    x[c] = (float) random.nextGaussian();
                }
                WeightMatrix matrix = type == ScalarType.Float ? WeightMatrix.float32(w.data_ptr().address(), rows, cols)
                        : WeightMatrix.bfloat16(w.data_ptr().address(), rows, cols);
                // the loop in use (native where built) and the Java loop it falls back to
                for (WeightMatrix loop : new WeightMatrix[]{matrix, matrix.withJavaLoop()}) {
                    float[] y = new float[rows];
                    loop.multiply(x, y);
                    // the matrix is a view of w's memory: w must not be collected (and freed) while it is read
                    java.lang.ref.Reference.reachabilityFence(w);
                    String what = type + " " + rows + "×" + cols + (loop == matrix ? "" : " (Java loop)");
                    double[] tolerances = new double[rows];
                    for (int r = 0; r < rows; r++) {
                        tolerances[r] = assertProduct(y[r], values, r * cols, x, what + " row " + r);
                    }
                    checkExtraRows(loop, rows, cols, x, y, tolerances, random);
                    checkScratch(loop, rows, cols, x, y, tolerances);
                    java.lang.ref.Reference.reachabilityFence(w);
                }
            }
        }
    }

    /**
     * The build compiles the native loop where gcc and x86-64 Linux allow (CI's machines do); it must then load and
     * be used on a CPU with AVX-512, or the decoder silently falls back to the slower Java loop.
     */
    @Test
    void theNativeLoopIsUsedWhereItWasBuilt() throws Exception {
        boolean built = WeightMatrix.class.getResource("/native/linux-x86_64/libtuneforge-decoder.so") != null;
        String status = WeightMatrix.loopStatus();
        org.junit.jupiter.api.Assumptions.assumeTrue(built && CpuFeatures.hasAvx512()
                && !"0".equals(System.getenv("TUNEFORGE_NATIVE_LOOP")), status);
        WeightMatrix matrix = WeightMatrix.bfloat16(0L, 1, 1);
        assertTrue(matrix.usesNativeLoop(), status);
        assertTrue(!matrix.withJavaLoop().usesNativeLoop());
    }

    /** The native loop has no bounds checks: short arrays are refused before any row runs. */
    @Test
    void shortVectorsAreRefused() throws Exception {
        Tensor w = torch.ones(new long[]{64, 32}, new TensorOptions(ScalarType.BFloat16));
        WeightMatrix matrix = WeightMatrix.bfloat16(w.data_ptr().address(), 64, 32);
        for (WeightMatrix loop : new WeightMatrix[]{matrix, matrix.withJavaLoop()}) {
            float[] y = new float[63];
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> loop.multiply(new float[32], y));
            org.junit.jupiter.api.Assertions.assertEquals("a 64×32 product needs x of at least 32 and y of at least 64 elements, got 32 and 63",
                    e.getMessage());
            assertTrue(java.util.Arrays.equals(y, new float[63]), "wrote into y");
            org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> loop.multiply(new float[31], new float[64]));
        }
        java.lang.ref.Reference.reachabilityFence(w);
    }

    /**
     * A decoder's scratch for the regrouped x, left dirty by earlier products (NaN here), gives the same product, and
     * so does one too short to use (a fresh array is taken instead).
     */
    private static void checkScratch(WeightMatrix matrix, int rows, int cols, float[] x, float[] expectedY,
                                     double[] tolerances) throws Exception {
        for (int length : new int[]{cols + 7, cols, cols - 1}) {
            float[] scratch = new float[length];
            java.util.Arrays.fill(scratch, Float.NaN);
            float[] y = new float[rows];
            matrix.multiply(x, y, null, null, scratch);
            // equal up to rounding, as in checkExtraRows (the Java loop's lanes); NaN from the scratch fails
            for (int r = 0; r < rows; r++) {
                assertTrue(Math.abs(y[r] - expectedY[r]) <= tolerances[r], rows + "×" + cols + " row " + r
                        + " with a scratch of " + length + " floats: " + y[r] + " against " + expectedY[r]);
            }
        }
    }

    /**
     * Extra rows (an adapter's A, float32 or bf16) in the same job: their products (bf16 ones of the values they widen
     * to), and the matrix's as without them.
     */
    private static void checkExtraRows(WeightMatrix matrix, int rows, int cols, float[] x, float[] expectedY,
                                       double[] tolerances, Random random) throws Exception {
        for (boolean bf16 : new boolean[]{false, true}) {
            for (int extra : new int[]{1, 8, 24, 100}) {
                float[] extraRows = new float[extra * cols];
                for (int i = 0; i < extraRows.length; i++) {
                    float value = (float) random.nextGaussian();
                    extraRows[i] = bf16 ? BFloat16.toFloat(BFloat16.round(value)) : value;
                }
                float[] y = new float[rows];
                float[] extraY = new float[extra + 3];
                MemorySegment extraRowsInMemory = Arena.ofAuto().allocate((long) extraRows.length * Float.BYTES, 64);
                for (int i = 0; i < extraRows.length; i++) {
                    if (bf16) {
                        extraRowsInMemory.setAtIndex(ValueLayout.JAVA_SHORT, i, BFloat16.round(extraRows[i]));
                    } else {
                        extraRowsInMemory.setAtIndex(ValueLayout.JAVA_FLOAT, i, extraRows[i]);
                    }
                }
                long bytes = (long) extraRows.length * (bf16 ? 2 : Float.BYTES);
                matrix.multiply(x, y, new NativeMatrix(extraRowsInMemory.asSlice(0, bytes), bf16), extraY, null);
                String what = rows + "×" + cols + " with " + extra + (bf16 ? " bf16" : " float32") + " extra rows";
                // equal up to rounding: interpreted and compiled Vector API code sum the lanes in different orders
                for (int r = 0; r < rows; r++) {
                    assertTrue(Math.abs(y[r] - expectedY[r]) <= tolerances[r],
                            what + ", row " + r + ": " + y[r] + " against " + expectedY[r]);
                }
                for (int i = 0; i < extra; i++) {
                    assertProduct(extraY[i], extraRows, i * cols, x, what + ", extra row " + i);
                }
                for (int i = extra; i < extraY.length; i++) {
                    assertTrue(extraY[i] == 0, "wrote past the extra rows at " + i);
                }
            }
        }
    }

    private static double assertProduct(float got, float[] values, int offset, float[] x, String what) {
        double expected = 0;
        double scale = 0;
        for (int c = 0; c < x.length; c++) {
            expected += (double) values[offset + c] * x[c];
            scale += Math.abs((double) values[offset + c] * x[c]);
        }
        double tolerance = 1e-5 * scale + 1e-6;
        assertTrue(Math.abs(got - expected) <= tolerance, what + ": " + got + " against " + expected);
        return tolerance;
    }
}
