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
                new double[]{300, 300, 70}, new double[]{0, 0, 0}, 0);
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
    void aRoundDuringWhichTheHypervisorTookTheCpusIsLeftOutOfTheUndisturbedFigure() {
        // the same bandwidth before and after the first three rounds; the second had 8% of the CPU time stolen;
        // the fourth saw a phase change, with nothing stolen
        Benchmark.DecodeRounds rounds = new Benchmark.DecodeRounds(new double[]{70, 70, 70, 70},
                new double[]{450, 300, 460, 500}, new double[]{64, 64, 64, 64}, new double[]{64, 63, 64, 35},
                new double[]{400, 400, 400, 400}, new double[]{0, 0.08, 0.005, 0}, 0);
        assertEquals(3, rounds.steadyRounds());
        assertEquals(45.0 / 64, rounds.steadyUtilisation(BYTES_PER_TOKEN), 1e-9);
        assertTrue(rounds.undisturbed(0));
        assertTrue(!rounds.undisturbed(1));
        assertTrue(rounds.undisturbed(2));
        assertTrue(!rounds.undisturbed(3));
        assertEquals(2, rounds.undisturbedRounds());
        assertEquals((45.0 / 64 + 46.0 / 64) / 2, rounds.undisturbedUtilisation(BYTES_PER_TOKEN), 1e-9);
    }

    @Test
    void trainingStepsDuringWhichTheCpusWereTakenAreLeftOutUnlessAllWere() {
        assertArrayEquals(new double[]{0.6, 0.62}, Benchmark.undisturbedOrAll(new double[]{0.6, 0.9, 0.62},
                new double[]{0, 0.12, 0.004}), 1e-12);
        assertArrayEquals(new double[]{0.8, 0.9}, Benchmark.undisturbedOrAll(new double[]{0.8, 0.9},
                new double[]{0.05, 0.12}), 1e-12);
    }

    @Test
    void withoutASteadyRoundThereIsNoSteadyFigure() {
        Benchmark.DecodeRounds rounds = new Benchmark.DecodeRounds(new double[]{70}, new double[]{400},
                new double[]{64}, new double[]{34}, new double[]{300}, new double[]{0}, 0);
        assertTrue(Double.isNaN(rounds.steadyUtilisation(BYTES_PER_TOKEN)));
        assertEquals(0, rounds.steadyRounds());
        assertTrue(Double.isNaN(rounds.undisturbedUtilisation(BYTES_PER_TOKEN)));
        assertEquals(0, rounds.undisturbedRounds());
    }
}
