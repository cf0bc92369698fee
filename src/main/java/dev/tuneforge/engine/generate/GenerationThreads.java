package dev.tuneforge.engine.generate;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads generations run on: platform threads of their own, at most {@code concurrency} at once, with at
 * most {@code queueCapacity} more waiting; beyond that a request is refused at once ({@link Busy}).
 * <p>
 * Generation never runs on the threads that answer requests. Those stay free for every other request (health
 * checks, polling, short calls) however long generations take; and no virtual thread runs engine code: libtorch
 * calls back into Java from native frames (JavaCPP registers every new tensor under one global monitor), and a
 * virtual thread that blocks there pins its carrier. With every carrier pinned that way, the thread the monitor
 * was handed to could never run, and the server froze (docs/architecture.md, "Threads").
 */
public final class GenerationThreads implements AutoCloseable {
    /** Every generation thread is busy and the queue is full. */
    public static final class Busy extends RuntimeException {
        Busy(String message) {
            super(message);
        }
    }

    private final ThreadPoolExecutor pool;
    private final int concurrency;
    private final int queueCapacity;

    public GenerationThreads(int concurrency, int queueCapacity) {
        if (concurrency < 1 || queueCapacity < 0) {
            throw new IllegalArgumentException("generation threads: concurrency must be at least 1 and the queue "
                    + "capacity not negative, got " + concurrency + " and " + queueCapacity);
        }
        this.concurrency = concurrency;
        this.queueCapacity = queueCapacity;
        AtomicInteger number = new AtomicInteger();
        this.pool = new ThreadPoolExecutor(concurrency, concurrency, 60, TimeUnit.SECONDS,
                queueCapacity == 0 ? new SynchronousQueue<>() : new ArrayBlockingQueue<>(queueCapacity),
                r -> {
                    Thread t = new Thread(r, "generation-" + number.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs {@code work} on a generation thread and returns its result, waiting for it; rethrows what it threw.
     * Throws {@link Busy} at once when no thread and no queue place is free. A caller interrupted while waiting
     * interrupts the work and is answered with a {@link CancellationException}.
     */
    public <T> T run(Callable<T> work) {
        Future<T> future;
        try {
            future = pool.submit(work);
        } catch (RejectedExecutionException e) {
            throw new Busy("the server is generating as much as it can (" + pool.getActiveCount() + " running, "
                    + pool.getQueue().size() + " waiting)");
        }
        try {
            return future.get();
        } catch (InterruptedException e) {
            future.cancel(true);
            Thread.currentThread().interrupt();
            throw new CancellationException("interrupted while waiting for a generation");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw new IllegalStateException(cause);
        }
    }

    public int concurrency() {
        return concurrency;
    }

    public int queueCapacity() {
        return queueCapacity;
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
