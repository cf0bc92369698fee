package dev.tuneforge.engine.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bench's decode figures on a machine whose bandwidth changes between rounds: each round against the higher
 * bandwidth measured around it, and the rounds where the bandwidth did not visibly change picked out.
 */
class DecodeRoundsTest {
    private static final double BYTES_PER_TOKEN = 100e6;

    @Test
    void eachRoundIsMeasuredAgainstTheBandwidthAroundIt() {
        // 400 tokens/s × 100 MB = 40 GB/s; 200 tokens/s × 100 MB = 20 GB/s
        Benchmark.DecodeRounds rounds = new Benchmark.DecodeRounds(new double[]{70, 60, 80},
                new double[]{400, 200, 380}, new double[]{64, 64, 35}, new double[]{62, 34, 36},
                new double[]{300, 300, 70}, 0);
        assertArrayEquals(new double[]{64, 64, 36}, rounds.bandwidths(), 1e-9);
        // 40/64 = 62.5%, 20/64 = 31.3%, 38/36 = 105.6%: the median is 62.5%
        assertEquals(0.625, rounds.utilisation(BYTES_PER_TOKEN), 1e-9);
        assertEquals(380, rounds.tokensPerSecond(), 1e-9);
        assertEquals(70, rounds.timeToFirstTokenMs(), 1e-9);
        // the second round saw 64 before and 34 after: a phase change, left out of the steady figure
        assertTrue(rounds.steady(0));
        assertTrue(!rounds.steady(1));
        assertTrue(rounds.steady(2));
        assertEquals(2, rounds.steadyRounds());
        assertEquals((0.625 + 38.0 / 36) / 2, rounds.steadyUtilisation(BYTES_PER_TOKEN), 1e-9);
    }

    @Test
    void withoutASteadyRoundThereIsNoSteadyFigure() {
        Benchmark.DecodeRounds rounds = new Benchmark.DecodeRounds(new double[]{70}, new double[]{400},
                new double[]{64}, new double[]{34}, new double[]{300}, 0);
        assertTrue(Double.isNaN(rounds.steadyUtilisation(BYTES_PER_TOKEN)));
        assertEquals(0, rounds.steadyRounds());
    }
}
