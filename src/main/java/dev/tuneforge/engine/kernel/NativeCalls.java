package dev.tuneforge.engine.kernel;

/** Runs a downcall ({@code MethodHandle.invokeExact}, declared to throw {@link Throwable}) with unchecked failures. */
final class NativeCalls {
    /** A downcall and whatever it computes from the result. */
    @FunctionalInterface
    interface Call<T> {
        T run() throws Throwable;
    }

    private NativeCalls() {
    }

    static <T> T unchecked(Call<T> call) {
        try {
            return call.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }
}
