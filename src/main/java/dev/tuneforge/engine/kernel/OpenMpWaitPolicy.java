package dev.tuneforge.engine.kernel;

import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;

/**
 * How libtorch's OpenMP workers wait between ops, chosen per process from the dtypes of the bases it holds, before
 * libtorch loads (libgomp reads its settings once, when it is loaded).
 * <p>
 * With float32 bases the matmuls run in OpenBLAS, whose own threads spin too: OpenMP workers that spin as well
 * starve them (a SmolLM2 training step 5.7 s passive against 17 s spinning on 2 cores), so the launcher's default is
 * {@code OMP_WAIT_POLICY=PASSIVE}. With only bf16 bases every matmul runs in oneDNN on the OpenMP workers
 * themselves, and waking a sleeping worker for each of the thousands of small ops of a step is what costs: a short
 * spin ({@code GOMP_SPINCOUNT=100000}) took the step from 3.1 s to 2.5 s (4 × 256) and from 1.04 s to 0.71 s
 * (4 × 64). Only the launcher's default is replaced: a user's own {@code OMP_WAIT_POLICY} or
 * {@code GOMP_SPINCOUNT} is left alone.
 */
public final class OpenMpWaitPolicy {
    /** Set to 1 by the launcher when it chose {@code OMP_WAIT_POLICY=PASSIVE} itself. */
    public static final String LAUNCHER_DEFAULT = "TUNEFORGE_OMP_DEFAULT";
    public static final String SPIN_COUNT = "100000";

    /** What {@link #chooseFor} did. */
    public enum Choice {
        /** GOMP_SPINCOUNT set, the launcher's OMP_WAIT_POLICY removed. */
        SPIN,
        /** a float32 base (or none): the launcher's passive default stays. */
        PASSIVE,
        /** not started by the launcher, or the user set the OpenMP variables: nothing changed. */
        AS_CONFIGURED,
        /** libgomp was already loaded: its settings are fixed. */
        TOO_LATE,
        /** the runtime cannot set native environment variables (Java 21: the FFM API is not final there). */
        UNAVAILABLE
    }

    private OpenMpWaitPolicy() {
    }

    /** Chooses for a process whose bases are held in {@code baseDtypes}. Call before anything touches libtorch. */
    public static synchronized Choice chooseFor(Collection<ScalarType> baseDtypes) {
        return choose(baseDtypes, "1".equals(System.getenv(LAUNCHER_DEFAULT)), libgompLoaded(), environment());
    }

    static Choice choose(Collection<ScalarType> baseDtypes, boolean launcherDefault, boolean libgompLoaded,
                         Environment env) {
        if (!launcherDefault) {
            return Choice.AS_CONFIGURED;
        }
        boolean onlyBf16 = !baseDtypes.isEmpty()
                && baseDtypes.stream().allMatch(t -> t.value == ScalarType.BFloat16.value);
        if (!onlyBf16) {
            return Choice.PASSIVE;
        }
        if (libgompLoaded) {
            return Choice.TOO_LATE;
        }
        if (env == null) {
            return Choice.UNAVAILABLE;
        }
        env.set("GOMP_SPINCOUNT", SPIN_COUNT);
        env.set("OMP_WAIT_POLICY", null);
        env.set(LAUNCHER_DEFAULT, null);
        return Choice.SPIN;
    }

    /** The OpenMP settings in effect, for logs: the native environment where it can be read. */
    public static String describe() {
        Environment env = environment();
        String spin = env == null ? System.getenv("GOMP_SPINCOUNT") : env.get("GOMP_SPINCOUNT");
        String policy = env == null ? System.getenv("OMP_WAIT_POLICY") : env.get("OMP_WAIT_POLICY");
        if (spin != null) {
            return "GOMP_SPINCOUNT=" + spin;
        }
        return policy != null ? "OMP_WAIT_POLICY=" + policy : "OpenMP defaults";
    }

    /** Whether libgomp is mapped into this process (by libtorch, which loads it). */
    static boolean libgompLoaded() {
        try {
            return Files.readString(Path.of("/proc/self/maps")).contains("libgomp");
        } catch (IOException | RuntimeException e) {
            return true; // unknown: assume the settings are fixed
        }
    }

    /** The C library's environment, or null where it cannot be reached. */
    static Environment environment() {
        return NativeOrNull.create(NativeEnvironment::new);
    }

    /** Native environment variables (which libgomp reads), unlike Java's {@code System.getenv} snapshot. */
    public interface Environment {
        String get(String name);

        /** Sets {@code name}, or removes it where {@code value} is null. */
        void set(String name, String value);
    }
}
