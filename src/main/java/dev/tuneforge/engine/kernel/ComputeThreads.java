package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Stream;

import org.bytedeco.pytorch.global.torch;

/**
 * How many threads the engine computes with: one per physical core. libtorch picks its own default from the CPU
 * topology it recognises, and on CPUs it does not know (an AMD EPYC of family 26 here) it settled on one thread
 * for a 2-core machine — halving bf16 matmuls and memory bandwidth without a word. So the count is set
 * explicitly: {@code TUNEFORGE_THREADS} when given, else the physical cores this process may use.
 */
public final class ComputeThreads {
    public static final String ENV = "TUNEFORGE_THREADS";
    private static final int COUNT = resolve(System.getenv(ENV), Runtime.getRuntime().availableProcessors(),
            physicalCores(Path.of("/sys/devices/system/cpu")));
    private static volatile boolean applied;

    private ComputeThreads() {
    }

    public static int count() {
        return COUNT;
    }

    /** Sets libtorch's intra-op thread count (process-wide; later threads pick it up). Idempotent. */
    public static synchronized void applyToLibtorch() {
        if (!applied) {
            torch.set_num_threads(COUNT);
            applied = true;
        }
    }

    /**
     * The explicit setting when there is one (it must be a positive integer), else the physical cores, at most the
     * processors this process may use; {@code physicalCores} 0 means unknown.
     */
    static int resolve(String setting, int availableProcessors, int physicalCores) {
        if (setting != null && !setting.isBlank()) {
            try {
                int n = Integer.parseInt(setting.trim());
                if (n > 0) {
                    return n;
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException(ENV + " must be a positive integer, got \"" + setting + "\"");
        }
        return physicalCores > 0 ? Math.min(physicalCores, availableProcessors) : availableProcessors;
    }

    /** Distinct cores among the online CPUs (hyperthread siblings count once), 0 where sysfs does not say. */
    static int physicalCores(Path cpuDir) {
        Set<String> cores = new HashSet<>();
        try (Stream<Path> cpus = Files.list(cpuDir)) {
            for (Path cpu : (Iterable<Path>) cpus::iterator) {
                Path siblings = cpu.resolve("topology/thread_siblings_list");
                if (cpu.getFileName().toString().matches("cpu\\d+") && Files.isReadable(siblings)) {
                    cores.add(Files.readString(siblings).trim());
                }
            }
        } catch (IOException | RuntimeException e) {
            return 0;
        }
        return cores.size();
    }
}
