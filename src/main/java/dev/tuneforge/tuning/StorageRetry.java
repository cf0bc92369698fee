package dev.tuneforge.tuning;

import java.time.Duration;

/** How long the tuning worker waits before retrying a job whose storage failed: doubling from first to at most max. */
public record StorageRetry(Duration first, Duration max) {
    public StorageRetry {
        if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
            throw new IllegalArgumentException("storage retry: first must be positive and max at least first");
        }
    }

    public static StorageRetry defaults() {
        return new StorageRetry(Duration.ofSeconds(1), Duration.ofSeconds(60));
    }

    Duration next(Duration previous) {
        Duration doubled = previous.multipliedBy(2);
        return doubled.compareTo(max) > 0 ? max : doubled;
    }
}
