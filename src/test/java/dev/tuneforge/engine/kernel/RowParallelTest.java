package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class RowParallelTest {
    @Test
    void everyRowRunsExactlyOnceInBlocksOfTheRequestedSize() {
        for (int rows : new int[]{1, 7, 64, 65, 1000, 4097}) {
            for (int block : new int[]{1, 3, 32}) {
                AtomicIntegerArray runs = new AtomicIntegerArray(rows);
                int b = block;
                RowParallel.forRows(rows, block, (from, to) -> {
                    assertTrue(to - from <= (rows < 2 * b ? rows : b), "block " + from + ".." + to);
                    for (int r = from; r < to; r++) {
                        runs.incrementAndGet(r);
                    }
                });
                for (int r = 0; r < rows; r++) {
                    assertEquals(1, runs.get(r), "row " + r + " of " + rows + " in blocks of " + block);
                }
            }
        }
    }

    @Test
    void concurrentCallersEachGetAllTheirRows() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<AtomicIntegerArray>> results = new ArrayList<>();
            for (int caller = 0; caller < 4; caller++) {
                results.add(pool.submit(() -> {
                    AtomicIntegerArray runs = new AtomicIntegerArray(5000);
                    for (int round = 0; round < 200; round++) {
                        RowParallel.forRows(5000, 16, (from, to) -> {
                            for (int r = from; r < to; r++) {
                                runs.incrementAndGet(r);
                            }
                        });
                    }
                    return runs;
                }));
            }
            for (Future<AtomicIntegerArray> result : results) {
                AtomicIntegerArray runs = result.get();
                for (int r = 0; r < runs.length(); r++) {
                    assertEquals(200, runs.get(r), "row " + r);
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }

    /** A core that finishes its share first takes over part of the other's: here the worker's rows are slow. */
    @Test
    void aCoreThatFinishesEarlyTakesOverRowsOfTheOthers() {
        assumeTrue(RowParallel.threads() == 2, "the split is checked for two cores");
        int rows = 64;
        Thread caller = Thread.currentThread();
        boolean[] byCaller = new boolean[rows];
        RowParallel.forRows(rows, 1, (from, to) -> {
            for (int r = from; r < to; r++) {
                byCaller[r] = Thread.currentThread() == caller;
                if (r >= rows / 2) {
                    sleep(2);
                }
            }
        });
        int takenOver = 0;
        for (int r = rows / 2; r < rows; r++) {
            takenOver += byCaller[r] ? 1 : 0;
        }
        // the caller's own half takes no time, so it takes over about half of the 32 slow rows (2 ms each)
        assertTrue(takenOver >= 8, "the caller ran " + takenOver + " of the other core's 32 slow rows");
    }

    @Test
    void aFailingBlockFailsTheCallAndTheNextCallRuns() {
        IllegalStateException failure = new IllegalStateException("row 900");
        IllegalStateException thrown = assertThrows(IllegalStateException.class, () ->
                RowParallel.forRows(1000, 10, (from, to) -> {
                    if (from <= 900 && 900 < to) {
                        throw failure;
                    }
                }));
        assertSame(failure, thrown);
        AtomicIntegerArray runs = new AtomicIntegerArray(1000);
        RowParallel.forRows(1000, 10, (from, to) -> {
            for (int r = from; r < to; r++) {
                runs.incrementAndGet(r);
            }
        });
        for (int r = 0; r < 1000; r++) {
            assertEquals(1, runs.get(r), "row " + r);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
