package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The log-probabilities' normaliser against a double-precision reference, and its edge cases. */
class LogSumExpTest {
    @Test
    void agreesWithTheDoublePrecisionSumOnRowsOfLogits() {
        Random random = new Random(11);
        for (int n : new int[]{1, 15, 16, 17, 1000, 49_152, 151_937}) {
            float[] logits = new float[n];
            for (int i = 0; i < n; i++) {
                logits[i] = (float) (random.nextGaussian() * 4 + (i % 97 == 0 ? 20 : 0));
            }
            double want = reference(logits);
            double got = LogSumExp.of(logits);
            assertEquals(want, got, 1e-5 * Math.max(1, Math.abs(want)), "n = " + n);
            assertEquals(want, LogSumExp.scalar(logits), 1e-9 * Math.max(1, Math.abs(want)), "n = " + n);
            // the same logits, the same bits (the row is read afresh every call)
            assertEquals(Double.doubleToRawLongBits(got), Double.doubleToRawLongBits(LogSumExp.of(logits.clone())));
        }
    }

    @Test
    void oneDominantValueGivesItself() {
        float[] logits = new float[49_152];
        java.util.Arrays.fill(logits, -1000f);
        logits[12_345] = 3.5f;
        assertEquals(3.5, LogSumExp.of(logits), 1e-6);
    }

    @Test
    void edgeCases() {
        assertEquals(Double.NEGATIVE_INFINITY, LogSumExp.of(new float[]{Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}));
        assertEquals(Double.POSITIVE_INFINITY, LogSumExp.of(new float[]{1f, Float.POSITIVE_INFINITY}));
        assertTrue(Double.isNaN(LogSumExp.of(new float[]{1f, Float.NaN, 2f})));
        // a masked token (-infinity) adds nothing
        assertEquals(Math.log(2), LogSumExp.of(new float[]{0f, Float.NEGATIVE_INFINITY, 0f}), 1e-7);
    }

    @Test
    void theNativeLoopRunsWhereTheLibraryDoes() {
        Assumptions.assumeTrue(NativeRowPairs.available(), NativeRowPairs.status());
        assertTrue(NativeRowPairs.LOG_SUM_EXP != null);
    }

    private static double reference(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) {
            max = Math.max(max, v);
        }
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return max + Math.log(sum);
    }
}
