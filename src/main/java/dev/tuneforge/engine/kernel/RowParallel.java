package dev.tuneforge.engine.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits a range of rows across the cores for the single-token decoder. A token needs a few hundred small
 * matrix-vector products back to back, microseconds apart, so the workers spin briefly between jobs instead of
 * going to sleep (a futex wake-up costs as much as a whole product), and park once nothing has come for
 * {@link #SPIN_NANOS}. One job runs at a time: a caller that finds the workers busy (another request decoding)
 * does its rows itself, so concurrent requests share the cores rather than queue.
 */
public final class RowParallel {
    /** Work on rows [from, to). */
    @FunctionalInterface
    public interface Rows {
        void run(int from, int to);
    }

    private static final long SPIN_NANOS = 200_000;
    /** Longs per 128 bytes: two cache lines, as the adjacent-line prefetcher pulls lines in pairs. */
    private static final int STRIDE = 16;
    private static final AtomicReference<Job> CURRENT = new AtomicReference<>();
    private static final Worker[] WORKERS = startWorkers(ComputeThreads.count() - 1);

    private RowParallel() {
    }

    /** Number of threads a job may use, the caller included. */
    public static int threads() {
        return WORKERS.length + 1;
    }

    /**
     * Runs {@code task} over rows [0, rows) on the caller and the idle workers, in blocks of {@code blockRows} rows
     * (the last one shorter); returns when every row is done. Each thread starts on its own contiguous share, read
     * front to back as one memory stream; a thread that finishes early takes the back half of what another has
     * left, so all finish together.
     */
    public static void forRows(int rows, int blockRows, Rows task) {
        if (WORKERS.length == 0 || rows < 2 * blockRows) {
            task.run(0, rows);
            return;
        }
        Job job = new Job(task, rows, blockRows, threads());
        if (!CURRENT.compareAndSet(null, job)) {
            task.run(0, rows);
            return;
        }
        try {
            for (Worker w : WORKERS) {
                if (w.parked) {
                    LockSupport.unpark(w.thread);
                }
            }
            job.work(0);
            while (job.done.get() < job.blocks) {
                Thread.onSpinWait();
            }
        } finally {
            CURRENT.compareAndSet(job, null);
        }
        if (job.failure != null) {
            throw job.failure;
        }
    }

    private static final class Job {
        final Rows task;
        final int rows;
        final int block;
        final int blocks;
        /**
         * Per thread, the blocks [front, back) it still has to do, packed as front << 32 | back, each on its own
         * cache line ({@link #STRIDE} apart) so that a thread claiming its next block does not disturb the others.
         */
        final AtomicLongArray shares;
        final AtomicInteger done = new AtomicInteger();
        volatile RuntimeException failure;

        Job(Rows task, int rows, int block, int threads) {
            this.task = task;
            this.rows = rows;
            this.block = block;
            this.blocks = (rows + block - 1) / block;
            this.shares = new AtomicLongArray((threads + 1) * STRIDE);
            for (int t = 0; t < threads; t++) {
                shares.set(slot(t), pack((long) blocks * t / threads, (long) blocks * (t + 1) / threads));
            }
        }

        private static long pack(long front, long back) {
            return front << 32 | back;
        }

        private static int front(long share) {
            return (int) (share >>> 32);
        }

        private static int back(long share) {
            return (int) share;
        }

        private static int slot(int thread) {
            return (thread + 1) * STRIDE;
        }

        boolean hasWork() {
            for (int t = 0; t < threads(); t++) {
                long s = shares.get(slot(t));
                if (front(s) < back(s)) {
                    return true;
                }
            }
            return false;
        }

        void work(int self) {
            int own = slot(self);
            int finished = 0;
            try {
                while (true) {
                    long s = shares.get(own);
                    int front = front(s);
                    if (front >= back(s)) {
                        if (!steal(own)) {
                            return;
                        }
                    } else if (shares.compareAndSet(own, s, pack(front + 1, back(s)))) {
                        int from = front * block;
                        try {
                            task.run(from, Math.min(rows, from + block));
                        } catch (RuntimeException | Error e) {
                            failure = e instanceof RuntimeException r ? r : new IllegalStateException(e);
                        }
                        finished++;
                    }
                }
            } finally {
                done.addAndGet(finished);
            }
        }

        /** Moves the back half of the largest share left to slot {@code own} (empty); false when nothing is left. */
        private boolean steal(int own) {
            while (true) {
                int victim = -1;
                long victimShare = 0;
                for (int t = 0; t < threads(); t++) {
                    long s = shares.get(slot(t));
                    if (slot(t) != own && back(s) - front(s) > back(victimShare) - front(victimShare)) {
                        victim = slot(t);
                        victimShare = s;
                    }
                }
                if (victim < 0) {
                    return false;
                }
                int front = front(victimShare);
                int back = back(victimShare);
                int middle = back - (back - front + 1) / 2;
                if (shares.compareAndSet(victim, victimShare, pack(front, middle))) {
                    shares.set(own, pack(middle, back));
                    return true;
                }
            }
        }
    }

    private static final class Worker implements Runnable {
        final Thread thread;
        final int index;
        volatile boolean parked;

        Worker(int index) {
            this.index = index + 1;
            thread = Thread.ofPlatform().daemon().name("tuneforge-decode-" + index).unstarted(this);
        }

        @Override
        public void run() {
            long idleSince = System.nanoTime();
            while (true) {
                Job job = CURRENT.get();
                if (job != null && job.hasWork()) {
                    job.work(index);
                    idleSince = System.nanoTime();
                } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                } else {
                    parked = true;
                    Job again = CURRENT.get();
                    if (again == null || !again.hasWork()) {
                        LockSupport.park(this);
                    }
                    parked = false;
                    idleSince = System.nanoTime();
                }
            }
        }
    }

    private static Worker[] startWorkers(int count) {
        Worker[] workers = new Worker[Math.max(0, count)];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i);
            workers[i].thread.start();
        }
        return workers;
    }
}
