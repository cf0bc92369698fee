package dev.tuneforge.engine.kernel;

/**
 * Classes compiled for Java 22 (src/main/java22: the FFM API, final there, and the incubating Vector API), loaded
 * by name only on a runtime that can run them, so that the rest of the engine still runs on Java 21.
 */
public final class Java22 {
    private Java22() {
    }

    /** Whether this runtime is Java 22+ and, where {@code vectorApi}, has {@code jdk.incubator.vector}. */
    public static boolean available(boolean vectorApi) {
        return Runtime.version().feature() >= 22
                && (!vectorApi || ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent());
    }

    /**
     * A new instance of {@code className} (a public no-argument constructor) as a {@code type}, or null where the
     * runtime cannot run it or it fails to load.
     */
    public static <T> T instance(Class<T> type, String className, boolean vectorApi) {
        if (!available(vectorApi)) {
            return null;
        }
        try {
            return type.cast(Class.forName(className).getDeclaredConstructor().newInstance());
        } catch (ReflectiveOperationException | LinkageError | RuntimeException e) {
            return null;
        }
    }
}
