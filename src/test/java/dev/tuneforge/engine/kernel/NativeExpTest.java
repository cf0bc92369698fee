package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The team decoder's vector exponential (SwiGLU's and attention's softmax) against Java's: within one float step
 * where e^x is a normal float, the same zero, subnormal range and infinity at the ends, and NaN kept.
 */
class NativeExpTest {
    @Test
    void agreesWithJavasExponentialWithinOneStep() {
        Assumptions.assumeTrue(NativeRowPairs.VECTOR_EXP != null, NativeRowPairs.status());
        int n = 1_000_003; // not a multiple of the vector width: the masked tail runs too
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = -110f + 200f * i / (n - 1);
        }
        float[] got = NativeTeam.exp(x);
        for (int i = 0; i < n; i++) {
            float want = (float) Math.exp(x[i]);
            if (want >= Float.MIN_NORMAL && !Float.isInfinite(want)) {
                float step = Math.ulp(want);
                assertTrue(Math.abs(got[i] - want) <= step, "e^" + x[i] + ": " + got[i] + ", want " + want);
            } else if (want < Float.MIN_NORMAL) {
                // subnormal or zero: the last steps differ in relative terms, not in absolute ones
                assertTrue(got[i] >= 0 && got[i] <= 2 * Float.MIN_NORMAL, "e^" + x[i] + ": " + got[i]);
            } else {
                assertEquals(Float.POSITIVE_INFINITY, got[i], "e^" + x[i]);
            }
        }
        float[] special = NativeTeam.exp(new float[]{Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, 0f,
                -0f, 88.7f, 88.8f, -200f, 1e-8f});
        assertEquals(0f, special[0]);
        assertEquals(Float.POSITIVE_INFINITY, special[1]);
        assertTrue(Float.isNaN(special[2]));
        assertEquals(1f, special[3]);
        assertEquals(1f, special[4]);
        assertEquals((float) Math.exp(88.7f), special[5], Math.ulp((float) Math.exp(88.7f)));
        assertEquals(Float.POSITIVE_INFINITY, special[6]);
        assertEquals(0f, special[7]);
        assertEquals(1f, special[8]);
    }
}
