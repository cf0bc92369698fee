package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Returns memory freed by libtorch to the system. The launcher's glibc settings keep freed memory for reuse, which
 * saves a training step from faulting in and zeroing the same gigabytes again (docs/engine.md, "Memory"), but
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
        long before = residentBytes();
        TRIMMER.trim();
        return Math.max(0, before - residentBytes());
    }

    /** This process's resident memory (VmRSS), or -1 where /proc does not say. */
    public static long residentBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    private static Trimmer loadTrimmer() {
        if (Runtime.version().feature() < 22) {
            return null;
        }
        try {
            return (Trimmer) Class.forName(FreedMemory.class.getPackageName() + ".NativeMalloc")
                    .getDeclaredConstructor().newInstance();
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** The C library's heap trimming. */
    public interface Trimmer {
        void trim();
    }
}
