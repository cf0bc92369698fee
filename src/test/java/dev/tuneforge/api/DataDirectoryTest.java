package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The data directory: held by one server process at a time, and readable by its owner only. */
class DataDirectoryTest {
    @TempDir
    Path temp;

    @Test
    void aSecondServerOnTheSameDataDirectoryRefusesToStartNamingTheFirst() throws Exception {
        Path dataDir = temp.resolve("data");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process other = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules",
                "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.tuneforge.cli.TuneforgeCli",
                "serve", "--port", String.valueOf(port), "--data-dir", dataDir.toString()))
                .redirectErrorStream(true).redirectOutput(temp.resolve("other.log").toFile()).start();
        try {
            long deadline = System.currentTimeMillis() + 60_000;
            while (!healthy(port)) {
                assertTrue(other.isAlive() && System.currentTimeMillis() < deadline, "the other server did not start");
                Thread.sleep(100);
            }
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))));
            assertTrue(e.getMessage().contains("is in use by Tuneforge process " + other.pid()), e.getMessage());
            assertTrue(e.getMessage().contains("--data-dir"), e.getMessage());
        } finally {
            other.destroyForcibly().waitFor();
        }
        // the lock goes with its process, however it ended
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            assertEquals(200, Http.anonymous(server.port()).get("/healthz").status());
        }
    }

    @Test
    void withinOneProcessTooTheSecondServerIsRefusedUntilTheFirstCloses() {
        Path dataDir = temp.resolve("data");
        try (TuneforgeServer first = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")))) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))));
            assertTrue(e.getMessage().contains("is in use by Tuneforge process " + ProcessHandle.current().pid()),
                    e.getMessage());
        }
        new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).close();
    }

    @Test
    void theDataDirectoryDatabaseAndArtifactsAreOwnerOnly() throws Exception {
        Path dataDir = temp.resolve("fresh").resolve("data");
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=private",
                    SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":1,"));
            SeedWalkthroughTest.waitUntilDone(http, created.json().get("name").asText());
            String uid = server.tuning().store().get("p", "private").orElseThrow().uid();
            assertEquals("rwx------", mode(dataDir));
            assertEquals("rwx------", mode(dataDir.getParent()), "missing parents are created owner-only too");
            assertEquals("rw-------", mode(dataDir.resolve("tuneforge.db")));
            try (var handle = dev.tuneforge.store.Database.sqlite(dataDir.resolve("tuneforge.db")).jdbi().open()) {
                handle.execute("UPDATE tuned_models SET description = 'kept open' WHERE id = 'private'");
                // the write-ahead log exists while a connection is open
                assertEquals("rw-------", mode(dataDir.resolve("tuneforge.db-wal")), "SQLite gives its WAL the database's mode");
                assertEquals("rw-------", mode(dataDir.resolve("tuneforge.db-shm")));
            }
            assertEquals("rwx------", mode(dataDir.resolve("tunedModels")));
            assertEquals("rwx------", mode(dataDir.resolve("tunedModels").resolve(uid)));
            try (var files = Files.walk(dataDir.resolve("tunedModels").resolve(uid))) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    assertEquals("rw-------", mode(f), f.toString());
                }
            }
        }
    }

    @Test
    void aServerWarnsWhenItFindsItsDataReadableByOthers() throws Exception {
        Path dataDir = temp.resolve("data");
        Files.createDirectories(dataDir);
        Files.setPosixFilePermissions(dataDir, PosixFilePermissions.fromString("rwxr-xr-x"));
        try (CapturedLog log = new CapturedLog();
             TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")))) {
            assertTrue(log.text().contains(dataDir.toAbsolutePath() + " can be read by users other than its owner"),
                    log.text());
            assertFalse(log.text().contains("tuneforge.db can be read"), "the database it created is owner-only");
        }
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }

    private static boolean healthy(int port) {
        try {
            return Http.anonymous(port).get("/healthz").status() == 200;
        } catch (AssertionError notYet) {
            return false;
        }
    }
}
