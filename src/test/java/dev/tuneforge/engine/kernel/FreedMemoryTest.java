package dev.tuneforge.engine.kernel;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FreedMemoryTest {
    private static final long MB = 1 << 20;

    @Test
    void memoryFreedByLibtorchGoesBackToTheSystem() {
        torch.ones(new long[]{16}, new TensorOptions(ScalarType.Float)).sum().item_double(); // libtorch loaded
        FreedMemory.release();
        long baseline = ProcessMemory.resident();
        long held;
        try (PointerScope scope = new PointerScope()) {
            // ten blocks of 48 MB, touched: under the 64 MB above which a thread on a secondary malloc arena gets
            // a fresh mapping for every block (the launcher's arenas: one per core)
            for (int i = 0; i < 10; i++) {
                torch.ones(new long[]{12 * MB}, new TensorOptions(ScalarType.Float));
            }
            held = ProcessMemory.resident() - baseline;
            assertTrue(held > 400 * MB, "resident " + held / MB + " MB above the baseline while holding 480 MB");
        }
        long afterFree = ProcessMemory.resident();
        String tunables = System.getenv("GLIBC_TUNABLES");
        if (tunables != null && tunables.contains("mmap_max=0")) {
            // the test runner's settings, as the launcher's: glibc keeps the freed blocks. The JVM's own resident
            // memory moves meanwhile (a CI run saw 394 of 480 MB kept), so only most of them are required here.
            assertTrue(afterFree > baseline + 250 * MB, "freed memory kept for reuse: " + (afterFree - baseline) / MB + " MB");
        }
        long released = FreedMemory.release();
        long after = ProcessMemory.resident();
        assertTrue(after < baseline + 100 * MB, "resident " + (after - baseline) / MB + " MB above the baseline after release");
        assertTrue(released >= 0);
    }
}
