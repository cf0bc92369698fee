package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/** What this CPU can do natively, from /proc/cpuinfo (empty elsewhere). */
public final class CpuFeatures {
    private static final Set<String> FLAGS = readFlags();

    private CpuFeatures() {
    }

    /** Whether bf16 matrix products run in hardware (AVX512-BF16 or AMX-BF16) rather than emulated. */
    public static boolean hasNativeBf16() {
        return FLAGS.contains("avx512_bf16") || FLAGS.contains("amx_bf16");
    }

    /** Whether the CPU has AVX512-BF16's VDPBF16PS (bf16 pairs multiplied and summed into fp32 lanes). */
    public static boolean hasAvx512Bf16() {
        return FLAGS.contains("avx512_bf16");
    }

    /** Whether the CPU has the AVX-512 subsets the native decoder is compiled for (F, BW, DQ). */
    public static boolean hasAvx512() {
        return FLAGS.contains("avx512f") && FLAGS.contains("avx512bw") && FLAGS.contains("avx512dq");
    }

    private static Set<String> readFlags() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return Set.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                }
            }
        } catch (IOException | RuntimeException e) {
            return Set.of();
        }
        return Set.of();
    }
}
