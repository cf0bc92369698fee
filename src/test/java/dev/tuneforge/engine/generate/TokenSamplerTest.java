package dev.tuneforge.engine.generate;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Sampling frequencies against the distribution each option asks for, and the orderings sampling relies on. */
class TokenSamplerTest {
    /** Probabilities 0.4, 0.25, 0.15, 0.1, 0.06, 0.04 at temperature 1, shuffled over the indices. */
    private static final double[] PROBABILITIES = {0.1, 0.4, 0.04, 0.25, 0.06, 0.15};
    private static final float[] LOGITS = logits(PROBABILITIES);

    @Test
    void temperatureOneWithoutCutsSamplesTheSoftmax() {
        assertFrequencies(options(1.0, 1.0, 0), PROBABILITIES);
    }

    @Test
    void topKRenormalisesOverTheKMostLikely() {
        assertFrequencies(options(1.0, 1.0, 2), new double[]{0, 0.4 / 0.65, 0, 0.25 / 0.65, 0, 0});
    }

    @Test
    void topPKeepsTheFewestMostLikelyReachingIt() {
        // 0.4 + 0.25 = 0.65 >= 0.6: the two most likely, renormalised
        assertFrequencies(options(1.0, 0.6, 0), new double[]{0, 0.4 / 0.65, 0, 0.25 / 0.65, 0, 0});
        // after a top-k of 4 the probabilities are renormalised over 0.9 first: 0.444, 0.278, 0.167, 0.111, and
        // 0.75 needs three of them
        assertFrequencies(options(1.0, 0.75, 4), new double[]{0, 0.4 / 0.8, 0, 0.25 / 0.8, 0, 0.15 / 0.8});
    }

    @Test
    void temperatureSharpens() {
        double[] sharpened = new double[PROBABILITIES.length];
        double total = 0;
        for (int i = 0; i < sharpened.length; i++) {
            sharpened[i] = PROBABILITIES[i] * PROBABILITIES[i];
            total += sharpened[i];
        }
        for (int i = 0; i < sharpened.length; i++) {
            sharpened[i] /= total;
        }
        assertFrequencies(options(0.5, 1.0, 0), sharpened);
    }

    @Test
    void topKOfOneIsTheLargest() {
        TokenSampler sampler = new TokenSampler(new GenerationOptions(10, 2.0, 1.0, 1, 3L, List.of()));
        for (int i = 0; i < 100; i++) {
            assertEquals(1, sampler.next(LOGITS));
        }
    }

    @Test
    void largestOrdersByValueThenIndex() {
        float[] values = {3, -1, 7, 7, -5, 0, 3, 9};
        assertArrayEquals(new int[]{7, 2, 3, 0, 6}, TokenSampler.largest(values, 5));
        assertArrayEquals(new int[]{7, 2, 3, 0, 6, 5, 1, 4}, TokenSampler.largest(values, 8));
    }

    @Test
    void mostLikelyCoversWhatIsNeededInOrder() {
        Random random = new Random(2);
        double[] weights = new double[5000];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = Math.exp(-random.nextDouble() * 30);
        }
        weights[1234] = 1;
        double total = 0;
        for (double w : weights) {
            total += w;
        }
        int[] order = TokenSampler.mostLikely(weights, 0.9 * total);
        assertEquals(1234, order[0]);
        double covered = 0;
        for (int i = 0; i < order.length; i++) {
            covered += weights[order[i]];
            if (i > 0) {
                assertTrue(weights[order[i]] <= weights[order[i - 1]], "descending at " + i);
            }
        }
        assertTrue(covered >= 0.9 * total, "covers 90%: " + covered / total);
        assertTrue(order.length < weights.length, "not every token: " + order.length);
        assertEquals(weights.length, TokenSampler.mostLikely(weights, 2 * total).length, "all when more is needed");
    }

    private static GenerationOptions options(double temperature, double topP, int topK) {
        return new GenerationOptions(10, temperature, topP, topK, 7L, List.of());
    }

    private static void assertFrequencies(GenerationOptions options, double[] expected) {
        TokenSampler sampler = new TokenSampler(options);
        int draws = 200_000;
        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < draws; i++) {
            counts[(int) sampler.next(LOGITS)]++;
        }
        for (int i = 0; i < counts.length; i++) {
            assertEquals(expected[i], counts[i] / (double) draws, 0.005, "token " + i + " with " + options);
        }
    }

    private static float[] logits(double[] probabilities) {
        float[] logits = new float[probabilities.length];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) Math.log(probabilities[i]) + 3;
        }
        return logits;
    }
}
