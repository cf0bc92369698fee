package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** This process's memory as /proc/self/status reports it (-1 where it does not). */
public final class ProcessMemory {
    private ProcessMemory() {
    }

    /** Resident memory now (VmRSS), in bytes. */
    public static long resident() {
        return statusBytes("VmRSS:");
    }

    /** The highest resident memory so far (VmHWM), in bytes. */
    public static long peakResident() {
        return statusBytes("VmHWM:");
    }

    private static long statusBytes(String field) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(field)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
