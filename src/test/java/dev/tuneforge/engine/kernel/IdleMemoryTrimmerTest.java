package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IdleMemoryTrimmerTest {
    private static final long MB = 1L << 20;

    @Test
    void trimsOnlyWhenQuietAndGrown() {
        AtomicLong cpu = new AtomicLong();
        AtomicLong rss = new AtomicLong(500 * MB);
        AtomicInteger trims = new AtomicInteger();
        IdleMemoryTrimmer t = new IdleMemoryTrimmer(Duration.ofSeconds(5), 0.05, 32 * MB, cpu::get, rss::get, () -> {
            trims.incrementAndGet();
            rss.set(520 * MB);
        }, false);

        rss.set(900 * MB);
        cpu.addAndGet(Duration.ofSeconds(4).toNanos());
        assertFalse(t.check(), "busy: 80% of a core over the period");
        cpu.addAndGet(Duration.ofMillis(100).toNanos());
        assertTrue(t.check(), "quiet (2% of a core) and 400 MB above the last trim");
        assertEquals(1, trims.get());

        rss.set(540 * MB);
        assertFalse(t.check(), "grown 20 MB since the trim: under the threshold");
        rss.set(560 * MB);
        assertTrue(t.check());
        assertEquals(2, t.trims());
    }

    @Test
    void startsOnLinux() {
        try (IdleMemoryTrimmer t = IdleMemoryTrimmer.start()) {
            assertTrue(t != null, "glibc and process CPU time are available on Linux");
        }
    }
}
