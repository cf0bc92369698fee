package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The data directory on a real file system that fills up or turns read-only (a small tmpfs, which needs root to
 * mount): jobs wait and resume once writes succeed again, none fails or vanishes from the queue, every step keeps
 * its snapshot, and readiness says why the server is not ready meanwhile.
 */
@EnabledOnOs(OS.LINUX)
class StorageFaultsTest {
    @TempDir
    Path temp;
    private Path mount;

    @BeforeEach
    void mountSmallFileSystem() throws Exception {
        mount = temp.resolve("small-disk");
        Files.createDirectories(mount);
        Assumptions.assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", mount.toString()) == 0,
                "mounting a tmpfs needs root");
    }

    @AfterEach
    void unmount() throws Exception {
        run("umount", "-l", mount.toString());
    }

    private static String body(String name, int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",")
                .replace("number generator model", name);
    }

    @Test
    void aFullDiskPausesTrainingWhichResumesWithEveryStepOnceSpaceIsBack() throws Exception {
        Path dataDir = mount.resolve("data");
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            Jobs jobs = trainingWithOneQueued(http, 40);
            String running = jobs.running();
            String queued = jobs.queued();

            Path filler = mount.resolve("filler");
            fill(filler);
            JsonNode notReady = waitForReadiness(server, 503);
            assertTrue(notReady.toString().contains("No space left on device"), notReady.toString());
            waitUntil(() -> server.tuning().storageProblem() != null, "the worker to meet the full disk");
            Http.Response meanwhile = http.get("/v1beta/tunedModels/running");
            if (meanwhile.status() == 200) {
                assertEquals("CREATING", meanwhile.json().get("state").asText(), "a job whose storage fails waits");
            } else {
                // SQLite may be unable to grow its shared-memory index to read the log: the caller should retry
                assertEquals(503, meanwhile.status(), meanwhile.body());
                assertEquals("UNAVAILABLE", meanwhile.json().get("error").get("status").asText());
            }

            Files.delete(filler);
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, running);
            assertFalse(done.has("error"), done.toString());
            assertEveryStepRecorded(done, 300);
            JsonNode alsoDone = SeedWalkthroughTest.waitUntilDone(http, queued);
            assertFalse(alsoDone.has("error"), "the queued job was not dropped: " + alsoDone);
            assertEveryStepRecorded(alsoDone, 15);
            waitForReadiness(server, 200);
        }
    }

    /**
     * The model's artifact directory turns read-only under the running job (a read-only file system mounted over
     * it: a remount of the whole data directory is refused while the server has files open for writing).
     */
    @Test
    void aReadOnlyArtifactDirectoryPausesTheJobUntilItCanBeWrittenAgain() throws Exception {
        Path dataDir = mount.resolve("data");
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            Jobs jobs = trainingWithOneQueued(http, 30);
            String running = jobs.running();
            String queued = jobs.queued();
            Path artifacts = dataDir.resolve("tunedModels")
                    .resolve(server.tuning().store().get("p", "running").orElseThrow().uid());

            assertEquals(0, run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", artifacts.toString()));
            try {
                waitUntil(() -> server.tuning().storageProblem() != null, "the worker to meet the read-only directory");
                assertTrue(server.tuning().storageProblem().contains("Read-only file system"),
                        server.tuning().storageProblem());
                JsonNode notReady = waitForReadiness(server, 503);
                assertTrue(notReady.toString().contains("Read-only file system"), notReady.toString());
                assertEquals("CREATING", http.get("/v1beta/tunedModels/running").json().get("state").asText());
            } finally {
                assertEquals(0, run("umount", artifacts.toString()));
            }
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, running);
            assertFalse(done.has("error"), done.toString());
            assertEveryStepRecorded(done, 225);
            JsonNode alsoDone = SeedWalkthroughTest.waitUntilDone(http, queued);
            assertFalse(alsoDone.has("error"), alsoDone.toString());
            waitForReadiness(server, 200);
        }
    }

    /** The operations of a job that is training, past its first checkpoint, and of one queued behind it. */
    private record Jobs(String running, String queued) {
    }

    private static Jobs trainingWithOneQueued(Http http, int epochs) throws InterruptedException {
        String running = http.post("/v1beta/tunedModels?tunedModelId=running", body("running", epochs)).json()
                .get("name").asText();
        String queued = http.post("/v1beta/tunedModels?tunedModelId=queued", body("queued", 2)).json()
                .get("name").asText();
        waitFor(http, running, op -> op.path("metadata").path("completedSteps").asInt() >= 12);
        return new Jobs(running, queued);
    }

    private static void assertEveryStepRecorded(JsonNode operation, int steps) {
        JsonNode snapshots = operation.get("metadata").get("snapshots");
        assertEquals(steps, snapshots.size(), operation.get("name").asText());
        for (int i = 0; i < steps; i++) {
            assertEquals(i + 1, snapshots.get(i).get("step").asInt());
        }
    }

    /** Writes {@code file} until the file system has no space left. */
    private static void fill(Path file) throws IOException {
        byte[] block = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            while (true) {
                out.write(block);
            }
        } catch (IOException full) {
            if (!String.valueOf(full.getMessage()).contains("No space left")) {
                throw full;
            }
        }
    }

    private static JsonNode waitForReadiness(TuneforgeServer server, int status) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (true) {
            Http.Response r = Http.anonymous(server.port()).get("/readyz");
            if (r.status() == status) {
                return r.json();
            }
            assertTrue(System.currentTimeMillis() < deadline, "readiness stayed " + r.status() + ": " + r.body());
            Thread.sleep(50);
        }
    }

    private static void waitFor(Http http, String operation, Predicate<JsonNode> condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 120_000;
        while (!condition.test(http.get("/v1/" + operation).json())) {
            assertTrue(System.currentTimeMillis() < deadline, "training did not progress");
            Thread.sleep(20);
        }
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 60_000;
        while (!condition.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, "waited in vain for " + what);
            Thread.sleep(20);
        }
    }

    private static int run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor();
    }
}
