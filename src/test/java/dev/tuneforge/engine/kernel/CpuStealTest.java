package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /proc/stat's steal column read as a share of the CPU time between two moments. */
class CpuStealTest {
    @Test
    void theShareStolenIsTheStealTicksOverAllTicksGuestTimeLeftOut() {
        // user nice system idle iowait irq softirq steal guest guest_nice
        CpuSteal.Snapshot before = CpuSteal.parse("cpu  1000 20 300 5000 10 0 5 40 700 0");
        CpuSteal.Snapshot after = CpuSteal.parse("cpu  1100 20 330 5050 10 0 5 60 770 0");
        assertEquals(40, before.stolen());
        assertEquals(6375, before.total());
        // 200 ticks went by (100 user, 30 system, 50 idle, 20 steal; the 70 guest ticks are inside user)
        assertEquals(20.0 / 200, before.stolenShareUntil(after), 1e-12);
    }

    @Test
    void aKernelWithoutAStealColumnStealsNothing() {
        CpuSteal.Snapshot before = CpuSteal.parse("cpu 10 0 5 100");
        CpuSteal.Snapshot after = CpuSteal.parse("cpu 20 0 5 110");
        assertEquals(0, before.stolenShareUntil(after), 1e-12);
    }

    @Test
    void onlyTheSummaryLineIsAccepted() {
        assertThrows(IllegalArgumentException.class, () -> CpuSteal.parse("cpu0 10 0 5 100 0 0 0 3 0 0"));
    }

    @Test
    void withoutTicksInBetweenThereIsNoShare() {
        CpuSteal.Snapshot unreadable = new CpuSteal.Snapshot(0, 0);
        assertTrue(Double.isNaN(unreadable.stolenShareUntil(unreadable)));
        assertTrue(CpuSteal.undisturbed(Double.NaN));
    }

    @Test
    void underOnePercentCountsAsUndisturbed() {
        assertTrue(CpuSteal.undisturbed(0));
        assertTrue(CpuSteal.undisturbed(0.0099));
        assertFalse(CpuSteal.undisturbed(0.01));
        assertFalse(CpuSteal.undisturbed(0.15));
    }

    @Test
    void thisMachinesCountersAdvance() throws InterruptedException {
        CpuSteal.Snapshot before = CpuSteal.now();
        long end = System.nanoTime() + 100_000_000L;
        while (System.nanoTime() < end) {
            Thread.onSpinWait();
        }
        CpuSteal.Snapshot after = CpuSteal.now();
        assertTrue(before.total() > 0, "/proc/stat read");
        assertTrue(after.total() > before.total(), "100 ms of ticks");
        double share = before.stolenShareUntil(after);
        assertTrue(share >= 0 && share <= 1, "share " + share);
    }
}
