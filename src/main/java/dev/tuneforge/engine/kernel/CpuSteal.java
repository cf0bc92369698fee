package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The CPU time a virtual machine's hypervisor gave to something else while this machine's CPUs were ready to run
 * ("steal" in /proc/stat): on a shared VM a measurement taken while it was high measured the neighbours, not us.
 */
public final class CpuSteal {
    private static final Path PROC_STAT = Path.of("/proc/stat");
    /**
     * A measurement during which less of the CPU time than this was stolen counts as undisturbed: a tick or so of
     * a two-core round of ~1 s. With the cores working in lockstep, as the team decoder's do, one core stolen for a
     * while stalls both: on the Zen 4 VM SmolLM2's far decode rounds read a median 74.9% of the bandwidth with under
     * 1% stolen and 59-61% with 10-20% (bench/performance-log.md, "CPU time stolen by the hypervisor").
     */
    public static final double UNDISTURBED_BELOW = 0.01;

    /** All CPUs' time counters at one moment, in the kernel's clock ticks; {@code total} includes the stolen time. */
    public record Snapshot(long stolen, long total) {
        /** The share of all CPU time between {@code this} and {@code later} that was stolen; NaN without a count. */
        public double stolenShareUntil(Snapshot later) {
            long total = later.total - this.total;
            return total <= 0 ? Double.NaN : (double) (later.stolen - stolen) / total;
        }
    }

    private CpuSteal() {
    }

    /** Whether a measurement with this share of the CPU time stolen counts as undisturbed (NaN: unknown, counts). */
    public static boolean undisturbed(double stolenShare) {
        return !(stolenShare >= UNDISTURBED_BELOW);
    }

    /** The counters now; zeros where /proc/stat cannot be read (then every share is NaN). */
    public static Snapshot now() {
        try {
            List<String> lines = Files.readAllLines(PROC_STAT);
            return lines.isEmpty() ? new Snapshot(0, 0) : parse(lines.get(0));
        } catch (IOException | RuntimeException e) {
            return new Snapshot(0, 0);
        }
    }

    /**
     * The summary line of /proc/stat: "cpu user nice system idle iowait irq softirq steal guest guest_nice" (guest
     * time is already counted in user and nice, so it is left out of the total). Kernels before 2.6.11 have no steal
     * column: nothing stolen then.
     */
    static Snapshot parse(String line) {
        String[] fields = line.trim().split("\\s+");
        if (!fields[0].equals("cpu")) {
            throw new IllegalArgumentException("not the summary line of /proc/stat: " + line);
        }
        long total = 0;
        long stolen = 0;
        for (int i = 1; i < fields.length && i <= 8; i++) {
            long ticks = Long.parseLong(fields[i]);
            total += ticks;
            if (i == 8) {
                stolen = ticks;
            }
        }
        return new Snapshot(stolen, total);
    }
}
