package dev.tuneforge.quota;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.LongSupplier;

/**
 * Requests per project in a sliding 60-second window: a request is admitted while fewer than the limit were admitted
 * in the last 60 seconds; else the wait until the oldest of them leaves the window is known exactly. In memory: a
 * restart starts every window afresh.
 */
final class RequestRate {
    static final Duration WINDOW = Duration.ofMinutes(1);
    private final LongSupplier nanoTime;
    private final Map<String, ArrayDeque<Long>> admitted = new ConcurrentHashMap<>();

    RequestRate(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Admits a request of {@code project} (null) or says how long until one would be admitted. */
    Duration admit(String project, long limit) {
        ArrayDeque<Long> times = admitted.computeIfAbsent(project, p -> new ArrayDeque<>());
        synchronized (times) {
            long now = nanoTime.getAsLong();
            long windowStart = now - WINDOW.toNanos();
            while (!times.isEmpty() && times.peekFirst() - windowStart <= 0) {
                times.pollFirst();
            }
            if (times.size() < limit) {
                times.addLast(now);
                return null;
            }
            // a lowered limit leaves more in the window than it allows: the wait is for the excess to leave
            long[] ordered = times.stream().mapToLong(Long::longValue).toArray();
            long freesAt = ordered[(int) (ordered.length - limit)] + WINDOW.toNanos();
            return Duration.ofNanos(Math.max(1, freesAt - now));
        }
    }
}
