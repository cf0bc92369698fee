package dev.tuneforge.cli;

import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.TestPostgres;
import dev.tuneforge.tuning.JobListing;
import dev.tuneforge.tuning.JobSettings;
import dev.tuneforge.tuning.TuningJobs;
import dev.tuneforge.tuning.WorkerRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every tuning worker is listed with its heartbeat, slots and jobs: idle ones too, dead ones as stale. */
class WorkerListingTest {
    private static final JobSettings FAST = new JobSettings(Duration.ofMillis(200), 4, Duration.ofMillis(100), 1);

    @TempDir
    Path dir;

    @Test
    void idleAndBusyWorkersAreListedAndAStoppedOneIsGoneOnPostgresql() throws Exception {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (Database db = Database.open(database, dir)) {
            TuningJobs busy = new TuningJobs(db, FAST, uid -> {
                running.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new TuningJobs.Next.Done();
            }, List::of, "busy@host");
            busy.submit("uid-1");
            busy.startWorking(false);
            assertTrue(running.await(30, TimeUnit.SECONDS), "the busy worker took the job");
            TuningJobs idle = new TuningJobs(db, FAST.withSlots(2), uid -> new TuningJobs.Next.Done(), List::of,
                    "idle@host");
            idle.startWorking(false);
            try {
                Thread.sleep(FAST.heartbeat().multipliedBy(3).toMillis());
                List<WorkerRegistry.Worker> workers = WorkerRegistry.list(db);
                assertEquals(List.of("busy@host", "idle@host"), workers.stream().map(WorkerRegistry.Worker::name).toList());
                Instant now = Instant.now();
                for (WorkerRegistry.Worker w : workers) {
                    assertFalse(w.stale(now), w + " beats");
                    assertTrue(Duration.between(w.lastHeartbeat(), now).toMillis() < 2_000, w + " beat lately");
                }
                assertEquals(2, workers.get(1).slots());
                assertEquals("busy@host", JobListing.list(db).get(0).worker());

                CliRun jobs = CliRun.of("jobs", "--database-url", database.url());
                assertEquals(0, jobs.exit(), jobs.err());
                assertTrue(jobs.out().contains("worker busy@host: live, last heartbeat 0 s ago, 1/1 slot(s) busy, holds "
                        + "(deleted) uid-1"), jobs.out());
                assertTrue(jobs.out().contains("worker idle@host: live, last heartbeat 0 s ago, 0/2 slot(s) busy, idle"),
                        jobs.out());
            } finally {
                release.countDown();
                busy.close();
            }
            assertEquals(List.of("idle@host"), WorkerRegistry.list(db).stream().map(WorkerRegistry.Worker::name).toList(),
                    "a worker stopped in order leaves the table");
            idle.close();
            assertEquals(List.of(), WorkerRegistry.list(db));
        }
    }

    @Test
    void aWorkerThatStoppedBeatingIsListedAsStaleOnSqlite() throws Exception {
        try (Database db = Database.sqlite(dir.resolve(DatabaseSettings.SQLITE_FILE))) {
            // a worker that beat once and died (no orderly removal)
            new WorkerRegistry(db, "dead@host", 1, Duration.ofMillis(300)).beat();
            TuningJobs live = new TuningJobs(db, FAST, uid -> new TuningJobs.Next.Done(), List::of, "live@host");
            live.startWorking(false);
            try {
                Thread.sleep(1_000);
                Instant now = Instant.now();
                List<WorkerRegistry.Worker> workers = WorkerRegistry.list(db);
                assertEquals(List.of("dead@host", "live@host"), workers.stream().map(WorkerRegistry.Worker::name).toList());
                assertTrue(workers.get(0).stale(now), "no heartbeat for 1 s, 300 ms allowed");
                assertFalse(workers.get(1).stale(now), "beats every 200 ms, 800 ms allowed");
            } finally {
                live.close();
            }
            CliRun jobs = CliRun.of("jobs", "--data-dir", dir.toString());
            assertEquals(0, jobs.exit(), jobs.err());
            assertTrue(jobs.out().contains("worker dead@host: STALE (no heartbeat for over 0.3 s: dead or paused)"),
                    jobs.out());
            assertFalse(jobs.out().contains("live@host"), jobs.out());
        }
    }
}
