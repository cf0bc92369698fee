package dev.tuneforge.engine.kernel;

import dev.tuneforge.engine.tensor.BFloat16;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The batched decoder's products (team_batch.c's rows_multi): bf16 weights times the inputs rounded to bf16, summed in
 * fp32, by VDPBF16PS where the CPU has AVX512-BF16 and by FMAs otherwise; f32 weights by FMAs. 37 rows (tiles of 4 and
 * the 1 left) against 7 inputs (a tile of 4 and one of 3) of 70 columns (two 32-column lines and a 6-column tail).
 */
class BatchProductTest {
    private static final int F32 = 0;
    private static final int BF16 = 1;
    private static final int ROWS = 37;
    private static final int COLS = 70;
    private static final int INPUTS = 7;

    @BeforeAll
    static void nativeLibrary() {
        assumeTrue(NativeRowPairs.available(), NativeRowPairs.status());
    }

    @Test
    void theBf16ProductRunsOnVdpbf16psWhereTheCpuHasIt() {
        assertEquals(CpuFeatures.hasAvx512Bf16(), NativeTeam.bf16DotInHardware());
    }

    @ParameterizedTest(name = "emulated: {0}")
    @ValueSource(booleans = {false, true})
    void bf16ProductsMultiplyTheInputsRoundedToBf16(boolean emulated) {
        Random random = new Random(5);
        short[] w = new short[ROWS * COLS];
        for (int i = 0; i < w.length; i++) {
            w[i] = BFloat16.round((float) random.nextGaussian() * 0.1f);
        }
        float[] x = inputs(random);
        float[] y = NativeTeam.batchProduct(BF16, MemorySegment.ofArray(w), ROWS, COLS, x, emulated);
        int apartFromUnrounded = 0;
        for (int b = 0; b < INPUTS; b++) {
            for (int r = 0; r < ROWS; r++) {
                double rounded = 0;
                double unrounded = 0;
                double magnitude = 0;
                for (int c = 0; c < COLS; c++) {
                    double weight = BFloat16.toFloat(w[r * COLS + c]);
                    rounded += weight * BFloat16.toFloat(BFloat16.round(x[b * COLS + c]));
                    unrounded += weight * x[b * COLS + c];
                    magnitude += Math.abs(weight * x[b * COLS + c]);
                }
                // fp32 sums of COLS exact products: each addition rounds by at most 2^-24 of the running sum
                double bound = COLS * Math.ulp(1f) / 2 * magnitude;
                float actual = y[b * ROWS + r];
                assertTrue(Math.abs(actual - rounded) <= bound, "row " + r + " input " + b + ": " + actual
                        + " against " + rounded + " (bound " + bound + ")");
                apartFromUnrounded += Math.abs(actual - unrounded) > bound ? 1 : 0;
            }
        }
        assertTrue(apartFromUnrounded > ROWS * INPUTS / 2,
                "the inputs' rounding shows in most results: " + apartFromUnrounded + " of " + ROWS * INPUTS);
    }

    @Test
    void f32ProductsSumInFloat() {
        Random random = new Random(6);
        float[] w = new float[ROWS * COLS];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) random.nextGaussian() * 0.1f;
        }
        float[] x = inputs(random);
        float[] y = NativeTeam.batchProduct(F32, MemorySegment.ofArray(w), ROWS, COLS, x, false);
        for (int b = 0; b < INPUTS; b++) {
            for (int r = 0; r < ROWS; r++) {
                double want = 0;
                double magnitude = 0;
                for (int c = 0; c < COLS; c++) {
                    want += (double) w[r * COLS + c] * x[b * COLS + c];
                    magnitude += Math.abs((double) w[r * COLS + c] * x[b * COLS + c]);
                }
                double bound = COLS * Math.ulp(1f) * magnitude;
                assertTrue(Math.abs(y[b * ROWS + r] - want) <= bound, "row " + r + " input " + b);
            }
        }
    }

    /** The batch-invariance the decoder promises: an input's results are the same bits alone or among six others. */
    @ParameterizedTest(name = "dtype {0}")
    @ValueSource(ints = {F32, BF16, BF16 + 10})
    void anInputsResultsDoNotDependOnTheOthers(int kind) {
        boolean emulated = kind > 10;
        int dtype = kind % 10;
        Random random = new Random(7);
        MemorySegment w;
        if (dtype == BF16) {
            short[] bf16 = new short[ROWS * COLS];
            for (int i = 0; i < bf16.length; i++) {
                bf16[i] = BFloat16.round((float) random.nextGaussian());
            }
            w = MemorySegment.ofArray(bf16);
        } else {
            float[] f32 = new float[ROWS * COLS];
            for (int i = 0; i < f32.length; i++) {
                f32[i] = (float) random.nextGaussian();
            }
            w = MemorySegment.ofArray(f32);
        }
        float[] x = inputs(random);
        float[] together = NativeTeam.batchProduct(dtype, w, ROWS, COLS, x, emulated);
        for (int b = 0; b < INPUTS; b++) {
            float[] alone = NativeTeam.batchProduct(dtype, w, ROWS, COLS,
                    Arrays.copyOfRange(x, b * COLS, (b + 1) * COLS), emulated);
            assertArrayEquals(alone, Arrays.copyOfRange(together, b * ROWS, (b + 1) * ROWS), "input " + b);
        }
    }

    /** Inputs of mixed magnitudes, most of them not bf16 values. */
    private static float[] inputs(Random random) {
        float[] x = new float[INPUTS * COLS];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (random.nextGaussian() * Math.pow(10, random.nextInt(5) - 2));
        }
        return x;
    }
}
