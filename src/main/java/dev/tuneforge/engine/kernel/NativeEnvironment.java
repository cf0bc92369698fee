package dev.tuneforge.engine.kernel;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The C library's process environment ({@code setenv}, {@code unsetenv}, {@code getenv}), which native libraries
 * read and Java's {@code System.getenv} snapshot does not change. Used by {@link OpenMpWaitPolicy}
 * through the FFM API.
 */
public final class NativeEnvironment implements OpenMpWaitPolicy.Environment {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SETENV = function("setenv", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle UNSETENV = function("unsetenv", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.ADDRESS));
    private static final MethodHandle GETENV = function("getenv", FunctionDescriptor.of(ValueLayout.ADDRESS,
            ValueLayout.ADDRESS));

    public NativeEnvironment() {
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }

    /** Sets {@code name} to {@code value}, or removes it where {@code value} is null. */
    @Override
    public void set(String name, String value) {
        int rc = NativeCalls.unchecked(() -> {
            try (Arena arena = Arena.ofConfined()) {
                return value == null ? (int) UNSETENV.invokeExact(arena.allocateFrom(name))
                        : (int) SETENV.invokeExact(arena.allocateFrom(name), arena.allocateFrom(value), 1);
            }
        });
        if (rc != 0) {
            throw new IllegalStateException("could not set environment variable " + name);
        }
    }

    /** The C library's current value of {@code name}, or null. */
    @Override
    public String get(String name) {
        return NativeCalls.unchecked(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment value = (MemorySegment) GETENV.invokeExact(arena.allocateFrom(name));
                return value.equals(MemorySegment.NULL) ? null : value.reinterpret(Long.MAX_VALUE).getString(0);
            }
        });
    }
}
