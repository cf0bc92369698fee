package dev.tuneforge.engine.kernel;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class MicrobatchThreadsTest {
    @Test
    void coresAreSharedEvenlyTheFirstTakingTheRemainder() {
        assertEquals(1, MicrobatchThreads.share(2, 2, 0));
        assertEquals(1, MicrobatchThreads.share(2, 2, 1));
        assertEquals(6, MicrobatchThreads.share(16, 3, 0));
        assertEquals(5, MicrobatchThreads.share(16, 3, 1));
        assertEquals(5, MicrobatchThreads.share(16, 3, 2));
        assertEquals(16, MicrobatchThreads.share(16, 1, 0));
    }

    @Test
    void microbatchesGetEqualNumbersOfSequences() {
        assumeTrue(MicrobatchThreads.microbatches(2) == 2, "needs two cores");
        int cores = ComputeThreads.count();
        for (int examples = 2; examples <= 3 * cores; examples++) {
            int count = MicrobatchThreads.microbatches(examples);
            assertTrue(count >= 1 && count <= cores, examples + " sequences: " + count);
            assertEquals(0, examples % count, examples + " sequences: " + count + " microbatches");
            for (int more = count + 1; more <= Math.min(cores, examples); more++) {
                assertTrue(examples % more != 0, examples + " sequences could run as " + more);
            }
        }
        if (cores == 2) {
            assertEquals(1, MicrobatchThreads.microbatches(3));
            assertEquals(2, MicrobatchThreads.microbatches(4));
            assertEquals(1, MicrobatchThreads.microbatches(5));
        }
    }

    @Test
    void aSingleSequenceOrMicrobatchRunsOnTheCaller() {
        assertEquals(1, MicrobatchThreads.microbatches(1));
        Thread caller = Thread.currentThread();
        Thread[] ran = new Thread[1];
        assertArrayEquals(new double[]{7}, MicrobatchThreads.run(1, i -> {
            ran[0] = Thread.currentThread();
            return 7;
        }));
        assertSame(caller, ran[0]);
    }

    @Test
    void microbatchesRunSideBySideEachWithItsShareOfLibtorchThreads() throws Exception {
        ComputeThreads.applyToLibtorch();
        int count = MicrobatchThreads.microbatches(ComputeThreads.count());
        assumeTrue(count >= 2, "needs two cores");
        assertEquals(ComputeThreads.count(), count);
        int callerThreads = torch.get_num_threads();
        Set<Thread> threads = ConcurrentHashMap.newKeySet();
        // every microbatch waits for all the others: they cannot have run one after another
        CountDownLatch allStarted = new CountDownLatch(count);
        int[] threadsUsed = new int[count];
        double[] sums = new double[count];
        double[] results = MicrobatchThreads.run(count, i -> {
            threads.add(Thread.currentThread());
            allStarted.countDown();
            try {
                assertTrue(allStarted.await(30, TimeUnit.SECONDS), "microbatch " + i + " ran alone");
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
            // libtorch on this thread uses this microbatch's share of the cores, and still computes right
            threadsUsed[i] = torch.get_num_threads();
            sums[i] = torch.arange(new org.bytedeco.pytorch.Scalar(100_000)).to(torch.ScalarType.Double)
                    .sum().item_double();
            return 10 * i;
        });
        assertEquals(count, threads.size());
        assertTrue(!threads.contains(Thread.currentThread()));
        for (int i = 0; i < count; i++) {
            assertEquals(10 * i, results[i], "results in order");
            assertEquals(MicrobatchThreads.share(ComputeThreads.count(), count, i), threadsUsed[i], "microbatch " + i);
            assertEquals(4_999_950_000.0, sums[i], "microbatch " + i);
        }
        assertEquals(callerThreads, torch.get_num_threads(), "the caller keeps its threads");
        // a thread that starts using libtorch afterwards gets the process-wide count, not a microbatch's
        int[] fresh = new int[1];
        Thread t = new Thread(() -> fresh[0] = torch.get_num_threads());
        t.start();
        t.join();
        assertEquals(ComputeThreads.count(), fresh[0]);
    }

    @Test
    void aFailureIsRethrownAfterEveryMicrobatchHasFinished() {
        int count = MicrobatchThreads.microbatches(2);
        assumeTrue(count == 2, "needs two cores");
        AtomicInteger finished = new AtomicInteger();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> MicrobatchThreads.run(2, i -> {
            if (i == 0) {
                throw new IllegalStateException("microbatch 0 broke");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException ex) {
                throw new IllegalStateException(ex);
            }
            finished.incrementAndGet();
            return 1;
        }));
        assertEquals("microbatch 0 broke", e.getMessage());
        assertEquals(1, finished.get(), "the other microbatch had finished when the failure came back");
        // the threads are still there for the next step
        assertArrayEquals(new double[]{0, 1}, MicrobatchThreads.run(2, i -> i));
    }

    @Test
    void anInterruptedCallerStillWaitsForItsMicrobatches() throws Exception {
        assumeTrue(MicrobatchThreads.microbatches(2) == 2, "needs two cores");
        AtomicInteger finished = new AtomicInteger();
        boolean[] interruptedAfter = new boolean[1];
        int[] finishedWhenReturned = new int[1];
        Thread caller = new Thread(() -> {
            MicrobatchThreads.run(2, i -> {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return finished.incrementAndGet();
            });
            finishedWhenReturned[0] = finished.get();
            interruptedAfter[0] = Thread.currentThread().isInterrupted();
        });
        caller.start();
        Thread.sleep(50);
        caller.interrupt();
        caller.join();
        assertEquals(2, finishedWhenReturned[0], "returned only after both microbatches");
        assertTrue(interruptedAfter[0], "the caller keeps its interrupt status");
    }

    @Test
    void moreMicrobatchesThanCoresAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> MicrobatchThreads.run(ComputeThreads.count() + 1, i -> i));
    }
}
