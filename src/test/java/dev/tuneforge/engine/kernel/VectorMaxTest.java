package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The largest of a range in vector lanes: softmax's
 * shift, whose errors the softmax itself would hide (any shift gives the same probabilities until one overflows).
 */
class VectorMaxTest {
    @Test
    void findsTheLargestWhereverItIs() throws Exception {
        Random random = new Random(9);
        for (int n = 0; n <= 70; n++) {
            for (int at = 0; at < Math.max(1, n); at++) {
                float[] a = new float[n + 4];
                for (int i = 0; i < a.length; i++) {
                    a[i] = -100 - random.nextFloat() * 100;
                }
                a[1] = 1000; // outside the range: must not count
                if (n > 0) {
                    a[2 + at] = -1.5f;
                }
                float expected = n == 0 ? Float.NEGATIVE_INFINITY : -1.5f;
                assertEquals(expected, VectorMath.max(a, 2, n), "n " + n + ", largest at " + at);
            }
        }
    }
}
