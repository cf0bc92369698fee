package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The decoder's low-rank update y += B·t in one pass,
 * for lengths around the vector lengths and ranks 0–9, at an offset into y, against double-precision sums.
 */
class AddScaledRowsTest {
    @Test
    void addsEveryRowTimesItsWeight() throws Exception {
        Random random = new Random(11);
        for (int n : new int[]{1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 576}) {
            for (int rank : new int[]{0, 1, 2, 8, 9}) {
                float[] a = gaussian(random, rank * n);
                float[] w = gaussian(random, rank + 3);
                float[] out = gaussian(random, n + 5);
                float[] before = out.clone();
                VectorMath.addScaledRows(out, 2, w, 3, a, rank, n);
                for (int i = 0; i < n; i++) {
                    double expected = before[2 + i];
                    double magnitude = Math.abs(expected);
                    for (int k = 0; k < rank; k++) {
                        expected += (double) w[3 + k] * a[k * n + i];
                        magnitude += Math.abs((double) w[3 + k] * a[k * n + i]);
                    }
                    assertEquals(expected, out[2 + i], 1e-5 * (1 + magnitude), "n " + n + ", rank " + rank + ", i " + i);
                }
                // nothing outside [2, 2 + n) is written
                assertEquals(before[0], out[0]);
                assertEquals(before[1], out[1]);
                assertEquals(Arrays.toString(Arrays.copyOfRange(before, 2 + n, n + 5)),
                        Arrays.toString(Arrays.copyOfRange(out, 2 + n, n + 5)));
            }
        }
    }

    private static float[] gaussian(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return v;
    }
}
