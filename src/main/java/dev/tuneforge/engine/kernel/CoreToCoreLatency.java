package dev.tuneforge.engine.kernel;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * How long a cache line takes to go from one core to another and back: the calling thread writes a counter, a
 * second thread echoes it into a line of its own, the caller waits to see it. The single-token decoder hands
 * vectors between its cores hundreds of times a token, so this latency matters to it as well as memory bandwidth.
 * On the shared 2-vCPU VM this project is benchmarked on it moved between ~30–220 ns and ~230–690 ns from minute to
 * minute, and the read bandwidth with it: ~35 GB/s when the two vCPUs were close, ~55–65 GB/s when they were far
 * apart (their own paths to memory, and a slow path between them).
 */
public final class CoreToCoreLatency {
    /** Longs between the two counters: 128 bytes, so that they never share a line (nor an adjacent-line pair). */
    private static final int SPACING = 16;
    private static final int PING = SPACING;
    private static final int PONG = 3 * SPACING;
    private static final int BATCHES = 21;
    private static final long DEADLINE_NANOS = 2_000_000_000L;

    private CoreToCoreLatency() {
    }

    /**
     * The median over {@value #BATCHES} batches of {@code tripsPerBatch} round trips of the mean round trip in
     * nanoseconds; NaN where this process has one processor (the echo would wait for the caller's time slice) or
     * the trips did not finish within two seconds (the second thread was not scheduled).
     */
    public static double roundTripNanos(int tripsPerBatch) {
        if (tripsPerBatch < 1) {
            throw new IllegalArgumentException("tripsPerBatch must be at least 1, got " + tripsPerBatch);
        }
        if (Runtime.getRuntime().availableProcessors() < 2) {
            return Double.NaN;
        }
        AtomicLongArray lines = new AtomicLongArray(4 * SPACING);
        long total = (long) BATCHES * tripsPerBatch;
        Thread echo = Thread.ofPlatform().daemon().name("tuneforge-latency-probe").start(() -> {
            long seen = 0;
            long start = System.nanoTime();
            int spins = 0;
            while (seen < total) {
                long ping = lines.get(PING);
                if (ping < 0) {
                    return;
                } else if (ping != seen) {
                    seen = ping;
                    lines.set(PONG, ping);
                } else if ((++spins & 1023) == 0 && System.nanoTime() - start > DEADLINE_NANOS) {
                    return;
                } else {
                    Thread.onSpinWait();
                }
            }
        });
        double[] means = new double[BATCHES];
        long deadline = System.nanoTime() + DEADLINE_NANOS;
        long counter = 0;
        int spins = 0;
        try {
            for (int b = 0; b < BATCHES; b++) {
                long start = System.nanoTime();
                for (int i = 0; i < tripsPerBatch; i++) {
                    lines.set(PING, ++counter);
                    while (lines.get(PONG) != counter) {
                        if ((++spins & 1023) == 0 && System.nanoTime() > deadline) {
                            return Double.NaN;
                        }
                        Thread.onSpinWait();
                    }
                }
                means[b] = (System.nanoTime() - start) / (double) tripsPerBatch;
            }
        } finally {
            // stops the echo, also when the caller gave up first
            lines.set(PING, -1);
        }
        try {
            echo.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Arrays.sort(means);
        return means[BATCHES / 2];
    }
}
