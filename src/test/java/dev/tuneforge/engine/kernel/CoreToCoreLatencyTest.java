package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class CoreToCoreLatencyTest {
    @Test
    void aRoundTripBetweenTwoCoresTakesNanosecondsToMicroseconds() {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs two processors");
        double nanos = CoreToCoreLatency.roundTripNanos(1_000);
        // a line's trip there and back: tens of ns on one die, hundreds across dies or sockets
        assertTrue(nanos > 5 && nanos < 100_000, "round trip " + nanos + " ns");
    }

    @Test
    void theEchoThreadEndsWithTheProbe() throws InterruptedException {
        assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs two processors");
        CoreToCoreLatency.roundTripNanos(100);
        Thread.sleep(50);
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("tuneforge-latency-probe")), "the echo thread is still running");
    }

    @Test
    void atLeastOneTripPerBatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CoreToCoreLatency.roundTripNanos(0));
        assertEquals("tripsPerBatch must be at least 1, got 0", e.getMessage());
    }
}
