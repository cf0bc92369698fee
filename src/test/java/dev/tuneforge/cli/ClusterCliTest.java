package dev.tuneforge.cli;

import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.TestPostgres;
import dev.tuneforge.tuning.TuningJobs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The cluster commands: bad settings refused at once with the reason, and the jobs listing. */
class ClusterCliTest {
    @TempDir
    Path dir;

    @Test
    void aWorkerWithoutASharedDatabaseIsRefused() {
        CliRun run = CliRun.of("worker", "--data-dir", dir.toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("error: a worker needs the database it shares with the API servers: give "
                + "--database-url jdbc:postgresql://"), run.err());
        CliRun sqliteUrl = CliRun.of("worker", "--data-dir", dir.toString(), "--database-url",
                "jdbc:sqlite:" + dir.resolve("x.db"));
        assertEquals(2, sqliteUrl.exit());
        assertTrue(sqliteUrl.err().contains("a worker needs the database it shares"), sqliteUrl.err());
    }

    @Test
    void aServerWithoutWorkerOnSqliteIsRefused() {
        CliRun run = CliRun.of("serve", "--no-worker", "--port", "0", "--data-dir", dir.toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("a server without a tuning worker needs workers elsewhere, on a shared "
                + "database"), run.err());
    }

    @Test
    void anUnreachableDatabaseFailsTheWorkerAtOnce() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0)) {
            closed = s.getLocalPort();
        }
        long start = System.nanoTime();
        CliRun run = CliRun.of("worker", "--data-dir", dir.toString(), "--database-url",
                "jdbc:postgresql://127.0.0.1:" + closed + "/tuneforge?user=tf&password=secret");
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("error: cannot connect to the database jdbc:postgresql://127.0.0.1:" + closed
                + "/tuneforge?user=tf&password=***: Connection refused"), run.err());
        assertTrue((System.nanoTime() - start) / 1e9 < 30);
    }

    @Test
    void badJobSettingsNameTheKey() throws Exception {
        Path config = dir.resolve("c.json");
        Files.writeString(config, "{\"baseModels\": [{\"id\": \"m\", \"path\": \"m\"}], \"jobs\": {\"heartbeatSecs\": 3}}");
        CliRun run = CliRun.of("worker", "--data-dir", dir.toString(), "--config", config.toString());
        assertEquals(2, run.exit());
        assertTrue(run.err().contains("jobs.heartbeatSecs is not a setting"), run.err());
    }

    @Test
    void jobsListsQueuedJobsAndAuthWorksOnPostgresql() {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        CliRun init = CliRun.of("auth", "init", "--data-dir", dir.toString(), "--project", "p", "--output",
                dir.resolve("client.json").toString(), "--database-url", database.url());
        assertEquals(0, init.exit(), init.err());
        try (Database db = Database.open(database, dir)) {
            assertEquals(Integer.valueOf(1), db.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM "
                    + "client_projects WHERE project = 'p'").mapTo(Integer.class).one()), "auth init wrote to PostgreSQL");
            // a job queued by a server (no worker runs here)
            new TuningJobs(db, dev.tuneforge.tuning.JobSettings.defaults(), uid -> new TuningJobs.Next.Done(),
                    java.util.List::of).submit("uid-1");
        }
        CliRun jobs = CliRun.of("jobs", "--database-url", database.url());
        assertEquals(0, jobs.exit(), jobs.err());
        assertTrue(jobs.out().contains("(deleted) uid-1"), jobs.out());
        assertTrue(jobs.out().contains("queued"), jobs.out());
        CliRun clients = CliRun.of("auth", "clients", "list", "--database-url", database.url());
        assertEquals(0, clients.exit(), clients.err());
        assertTrue(clients.out().contains(" p"), clients.out());
    }
}
