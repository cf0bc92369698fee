package dev.tuneforge.engine.kernel;

import org.bytedeco.pytorch.global.torch;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntToDoubleFunction;

/**
 * Runs a training step's microbatches side by side, each on a thread of its own with its share of the cores as
 * libtorch's intra-op threads (one each on a 2-core machine). At small batches a libtorch op costs about as much
 * in dispatch, autograd bookkeeping and an OpenMP fork/join as in its own work, and all of that runs on the calling
 * thread while the other cores wait at the next join. With a stream of ops per core that cost is paid on every
 * core at once and no core waits: SmolLM2 steps of 4 × 64 tokens took 643 against 752 ms in bf16 and 1.10
 * against 2.26 s in fp32 (medians, alternated in one process, Zen 4, 2 cores; docs/engine.md has the rest).
 * <p>
 * A thread's count is set with OpenMP's {@code omp_set_num_threads} and OpenBLAS's
 * {@code openblas_set_num_threads_local}, which apply to the calling thread only; that needs the FFM API (Java
 * 22+). Without it a step runs as one batch on the caller.
 */
public final class MicrobatchThreads {
    /** Sets the calling thread's thread count for the ops it starts: libtorch's (OpenMP) and OpenBLAS's. */
    public interface ThreadLimit {
        void limitCurrentThread(int threads);
    }

    private static final ThreadLimit LIMIT = NativeOrNull.create(OpenMpThreadLimit::new);
    private static volatile ExecutorService pool;
    private static volatile boolean unavailable = LIMIT == null || ComputeThreads.count() < 2;

    private MicrobatchThreads() {
    }

    /**
     * How many microbatches a step over {@code examples} sequences runs as: as many as there are cores, at most one
     * per sequence, and only so many that each gets the same number of sequences (the step waits for the largest:
     * 3 sequences on 2 cores as microbatches of 2 and 1 took 638–658 ms against 540–620 ms as one batch, SmolLM2
     * 64 tokens each); 1 where threads cannot be limited (Java 21, one core).
     */
    public static int microbatches(int examples) {
        if (examples < 2 || unavailable || pool() == null) {
            return 1;
        }
        for (int count = Math.min(examples, ComputeThreads.count()); count > 1; count--) {
            if (examples % count == 0) {
                return count;
            }
        }
        return 1;
    }

    /**
     * Runs {@code task} for microbatches 0..count-1, each on its own thread ({@code count} at most
     * {@link #microbatches}), and returns their results in order once all are done; rethrows the first failure
     * after all have finished. A caller interrupted meanwhile still waits for all, and keeps its interrupt status.
     * A single microbatch runs on the caller with all the cores.
     */
    public static double[] run(int count, IntToDoubleFunction task) {
        double[] results = new double[count];
        if (count == 1) {
            results[0] = task.applyAsDouble(0);
            return results;
        }
        ExecutorService threads = pool();
        if (threads == null || count > ComputeThreads.count()) {
            throw new IllegalArgumentException(count + " microbatches, more than can run side by side here ("
                    + (threads == null ? 1 : ComputeThreads.count()) + ")");
        }
        // every microbatch counts down when it ends, however it ends: the caller returns only after all have
        // (they write into gradients the caller reads next), even if it is interrupted while waiting
        CountDownLatch finished = new CountDownLatch(count);
        List<Future<Double>> futures = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int index = i;
            int intraOp = share(ComputeThreads.count(), count, index);
            futures.add(threads.submit(() -> {
                try {
                    LIMIT.limitCurrentThread(intraOp);
                    return task.applyAsDouble(index);
                } finally {
                    finished.countDown();
                }
            }));
        }
        boolean interrupted = false;
        while (true) {
            try {
                finished.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        RuntimeException failure = null;
        for (int i = 0; i < count; i++) {
            try {
                results[i] = futures.get(i).get();
            } catch (ExecutionException e) {
                if (failure == null) {
                    failure = e.getCause() instanceof RuntimeException r ? r
                            : new IllegalStateException("microbatch " + i + " failed", e.getCause());
                }
            } catch (InterruptedException e) {
                // the future is done: get() does not wait
                Thread.currentThread().interrupt();
            }
        }
        if (failure != null) {
            throw failure;
        }
        return results;
    }

    /** Cores for microbatch {@code index} of {@code count}: an even split, the first ones taking the remainder. */
    static int share(int cores, int count, int index) {
        return cores / count + (index < cores % count ? 1 : 0);
    }

    /** The worker threads, started on first use; null where they cannot limit their threads. */
    private static ExecutorService pool() {
        ExecutorService p = pool;
        if (p != null || unavailable) {
            return p;
        }
        synchronized (MicrobatchThreads.class) {
            if (pool == null && !unavailable) {
                pool = start();
                unavailable = pool == null;
            }
            return pool;
        }
    }

    private static ExecutorService start() {
        int n = ComputeThreads.count();
        AtomicInteger number = new AtomicInteger();
        ExecutorService p = Executors.newFixedThreadPool(n, r -> {
            Thread t = new Thread(r, "tuneforge-microbatch-" + number.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        // each thread checks once that the limit reaches libtorch (the libgomp it found is libtorch's)
        List<Callable<Integer>> probes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            probes.add(() -> {
                torch.get_num_threads(); // libtorch sets a new thread's count on first use: let it do so first
                LIMIT.limitCurrentThread(1);
                return torch.get_num_threads();
            });
        }
        try {
            for (Future<Integer> f : p.invokeAll(probes)) {
                if (f.get() != 1) {
                    p.shutdown();
                    return null;
                }
            }
            return p;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.shutdown();
            return null;
        } catch (ExecutionException e) {
            p.shutdown();
            return null;
        }
    }
}
