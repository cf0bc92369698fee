package dev.tuneforge.engine.kernel;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** glibc's {@code malloc_trim}, through the FFM API. Used by {@link FreedMemory}. */
public final class NativeMalloc implements FreedMemory.Trimmer {
    private static final MethodHandle MALLOC_TRIM = Linker.nativeLinker().defaultLookup().find("malloc_trim")
            .map(address -> Linker.nativeLinker().downcallHandle(address,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG)))
            .orElse(null);

    public NativeMalloc() {
        if (MALLOC_TRIM == null) {
            throw new UnsupportedOperationException("this C library has no malloc_trim");
        }
    }

    @Override
    public void trim() {
        NativeCalls.unchecked(() -> (int) MALLOC_TRIM.invokeExact(0L));
    }
}
