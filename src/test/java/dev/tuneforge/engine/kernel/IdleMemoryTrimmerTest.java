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
        IdleMemoryTrimmer t = new IdleMemoryTrimmer(Duration.ofSeconds(5), 0.05, 32 * MB, cpu::get, rss::get, () -> 0, () -> {
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

    /** Native memory freed by a collection after a trim (resident size unchanged) is trimmed once quiet again. */
    @Test
    void trimsAfterACollectionThatFollowedTheLastTrim() {
        AtomicLong cpu = new AtomicLong();
        AtomicLong rss = new AtomicLong(500 * MB);
        AtomicLong collections = new AtomicLong(7);
        IdleMemoryTrimmer t = new IdleMemoryTrimmer(Duration.ofSeconds(5), 0.05, 32 * MB, cpu::get, rss::get,
                collections::get, () -> rss.set(rss.get() > 1000 * MB ? 1040 * MB : rss.get()), false);
        rss.set(1600 * MB);
        assertTrue(t.check(), "quiet and grown");
        assertEquals(1040 * MB, rss.get(), "a dequantized copy still referenced stays");
        assertFalse(t.check(), "nothing collected, nothing grown");
        collections.incrementAndGet();
        rss.set(1040 * MB - 1);
        assertTrue(t.check(), "a collection ran since the trim: what it freed may be trimmed");
        assertFalse(t.check(), "and only once per collection");
        collections.incrementAndGet();
        cpu.addAndGet(Duration.ofSeconds(3).toNanos());
        assertFalse(t.check(), "not while busy");
        assertEquals(2, t.trims());
    }

    @Test
    void startsOnLinux() {
        try (IdleMemoryTrimmer t = IdleMemoryTrimmer.start()) {
            assertTrue(t != null, "glibc and process CPU time are available on Linux");
        }
    }
}
