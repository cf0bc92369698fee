package dev.tuneforge.engine.kernel;

import java.util.function.Supplier;

/** Helpers built on native symbols that a system may lack: the optional ones are null where they fail to load. */
public final class NativeOrNull {
    private NativeOrNull() {
    }

    /** {@code create}'s result, or null where it fails (a missing symbol, a missing module). */
    public static <T> T create(Supplier<T> create) {
        try {
            return create.get();
        } catch (LinkageError | RuntimeException e) {
            return null;
        }
    }

    /** Whether the incubating Vector API is on this runtime ({@code --add-modules jdk.incubator.vector}). */
    public static boolean vectorApi() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
