package dev.tuneforge.engine.kernel;

/**
 * Returns memory freed by libtorch to the system. The launcher's glibc settings keep freed memory for reuse, which
 * saves a training step from faulting in and zeroing the same gigabytes again (bench/performance-log.md, "Memory"), but
 * left a server's resident size at its training peak for good. After a tuning job ends, {@link #release} asks
 * glibc ({@code malloc_trim}) to hand back what is free.
 */
public final class FreedMemory {
    private static final Trimmer TRIMMER = loadTrimmer();

    private FreedMemory() {
    }

    /** Trims the C heap; returns the drop in resident memory in bytes, or -1 where trimming is unavailable. */
    public static long release() {
        if (TRIMMER == null) {
            return -1;
        }
        long before = ProcessMemory.resident();
        TRIMMER.trim();
        return Math.max(0, before - ProcessMemory.resident());
    }

    private static Trimmer loadTrimmer() {
        return NativeOrNull.create(NativeMalloc::new);
    }

    /** The C library's heap trimming. */
    public interface Trimmer {
        void trim();
    }
}
