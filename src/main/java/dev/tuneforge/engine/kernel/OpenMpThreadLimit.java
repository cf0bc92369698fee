package dev.tuneforge.engine.kernel;

import org.bytedeco.pytorch.global.torch;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Limits the calling thread's OpenMP threads, for libtorch's ops and for the OpenBLAS (built on OpenMP) that runs
 * its float32 matmuls: {@code omp_set_num_threads} of the libgomp libtorch loaded, and OpenBLAS's
 * {@code openblas_set_num_threads_local}, without which OpenBLAS takes its process-wide count for every call
 * (float32 SmolLM2 steps at 4 × 64 took 2.5 s instead of 1.3 s with two microbatches each starting two OpenBLAS
 * threads). Both are looked up by soname once libtorch is loaded, which finds the loaded copies. FFM API; loaded
 * reflectively by {@link MicrobatchThreads}.
 */
public final class OpenMpThreadLimit implements MicrobatchThreads.ThreadLimit {
    private final MethodHandle openMp;
    private final MethodHandle openBlas;

    public OpenMpThreadLimit() {
        torch.get_num_threads(); // loads libtorch, and with it its libgomp and OpenBLAS
        Linker linker = Linker.nativeLinker();
        openMp = linker.downcallHandle(SymbolLookup.libraryLookup("libgomp.so.1", Arena.global())
                .find("omp_set_num_threads").orElseThrow(), FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
        openBlas = linker.downcallHandle(SymbolLookup.libraryLookup("libopenblas.so.0", Arena.global())
                        .find("openblas_set_num_threads_local").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    @Override
    public void limitCurrentThread(int threads) {
        NativeCalls.unchecked(() -> {
            openMp.invokeExact(threads);
            return (int) openBlas.invokeExact(threads); // the previous OpenBLAS count, not needed
        });
    }
}
