package dev.tuneforge.api;

import dev.tuneforge.store.Database;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.TuningService;

/**
 * A process that only tunes: it takes queued jobs from the shared database, {@code jobs.slots} at a time, and any job
 * whose worker died; no HTTP. Needs PostgreSQL (SQLite serves one process, and that process is the server) and the
 * artifact directory the API servers use.
 */
public final class TuneforgeWorker implements AutoCloseable {
    private final Database db;
    private final ArtifactStore artifacts;
    private final TuningService tuning;

    public TuneforgeWorker(ServerConfig config) {
        if (!config.database().shared()) {
            throw new IllegalArgumentException("a worker needs the database it shares with the API servers: give "
                    + "--database-url jdbc:postgresql://HOST:PORT/DB (or database.url in the config); SQLite serves one "
                    + "process, and `tuneforge serve` tunes on its own");
        }
        if (config.jobs().slots() < 1) {
            throw new IllegalArgumentException("--tuning-slots must be at least 1 for a worker, got " + config.jobs().slots());
        }
        this.db = Database.open(config.database(), config.dataDir());
        ArtifactStore opened = null;
        try {
            opened = config.artifactStore().open(config.dataDir());
            this.tuning = new TuningService(db, opened, config.catalog(), config.lora(), config.jobs());
        } catch (RuntimeException e) {
            if (opened != null) {
                opened.close();
            }
            db.close();
            throw e;
        }
        this.artifacts = opened;
    }

    public TuneforgeWorker start() {
        tuning.start(true, false);
        return this;
    }

    public TuningService tuning() {
        return tuning;
    }

    /** Stops: running jobs stop at their next step and are queued again for the other workers. */
    @Override
    public void close() {
        try {
            tuning.close();
        } finally {
            try {
                artifacts.close();
            } finally {
                db.close();
            }
        }
    }
}
