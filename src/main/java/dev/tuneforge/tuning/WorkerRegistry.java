package dev.tuneforge.tuning;

import dev.tuneforge.store.Database;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * The table of processes that run tuning jobs ({@code tuning_workers}), so that an idle worker is as visible as a busy
 * one: each worker upserts its row on its heartbeat and deletes it when it stops in order.
 */
public final class WorkerRegistry {
    /** Rows left by workers that died this long ago are dropped when a worker starts. */
    private static final Duration FORGOTTEN_AFTER = Duration.ofDays(1);

    private final Database db;
    private final String worker;
    private final int slots;
    private final Duration staleAfter;
    private final Instant started = Instant.now();

    /** A worker's row: {@code staleAfter} is how long without a heartbeat its jobs count as dead. */
    public WorkerRegistry(Database db, String worker, int slots, Duration staleAfter) {
        this.db = db;
        this.worker = worker;
        this.slots = slots;
        this.staleAfter = staleAfter;
    }

    /** A worker as listed: when it started and last beat, and whether that beat is too old for it to be alive. */
    public record Worker(String name, int slots, Instant started, Instant lastHeartbeat, Duration staleAfter) {
        public boolean stale(Instant now) {
            return lastHeartbeat.plus(staleAfter).isBefore(now);
        }
    }

    /** Drops rows of workers dead for a day (long enough to have been seen as stale). */
    public void forgetLongDead() {
        db.jdbi().useHandle(h -> h.createUpdate("DELETE FROM tuning_workers WHERE last_heartbeat_ms < :before")
                .bind("before", Instant.now().minus(FORGOTTEN_AFTER).toEpochMilli()).execute());
    }

    /** Records that this worker is alive now. */
    public void beat() {
        db.jdbi().useHandle(h -> h.createUpdate("INSERT INTO tuning_workers (worker, slots, started_ms, "
                        + "last_heartbeat_ms, stale_after_ms) VALUES (:worker, :slots, :started, :now, :staleAfter) "
                        + "ON CONFLICT (worker) DO UPDATE SET slots = excluded.slots, started_ms = excluded.started_ms, "
                        + "last_heartbeat_ms = excluded.last_heartbeat_ms, stale_after_ms = excluded.stale_after_ms")
                .bind("worker", worker).bind("slots", slots).bind("started", started.toEpochMilli())
                .bind("now", Instant.now().toEpochMilli()).bind("staleAfter", staleAfter.toMillis()).execute());
    }

    /** Removes this worker's row (it stopped in order). */
    public void remove() {
        db.jdbi().useHandle(h -> h.createUpdate("DELETE FROM tuning_workers WHERE worker = :worker")
                .bind("worker", worker).execute());
    }

    /** Every registered worker, by name. */
    public static List<Worker> list(Database db) {
        return db.jdbi().withHandle(h -> h.createQuery("SELECT worker, slots, started_ms, last_heartbeat_ms, "
                        + "stale_after_ms FROM tuning_workers ORDER BY worker")
                .map((rs, ctx) -> new Worker(rs.getString("worker"), rs.getInt("slots"),
                        Instant.ofEpochMilli(rs.getLong("started_ms")), Instant.ofEpochMilli(rs.getLong("last_heartbeat_ms")),
                        Duration.ofMillis(rs.getLong("stale_after_ms"))))
                .list());
    }
}
