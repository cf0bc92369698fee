package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.TestPostgres;
import dev.tuneforge.tuning.JobListing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cluster as it is deployed: PostgreSQL, an API process without a worker and two worker processes (separate
 * JVMs) sharing an artifact directory. Killing (SIGKILL) the worker that holds a job mid-training loses nothing: the
 * other worker takes the job over and the model ends with the loss curve and adapter of an uninterrupted run.
 * Killing an API process mid-requests leaves nothing half-written.
 */
class ClusterTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"8\"}]}]}";
    @TempDir
    Path dir;

    private static String body(int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",");
    }

    private Path config() throws Exception {
        Path config = dir.resolve("cluster.json");
        Files.writeString(config, """
                {"baseModels": [{"id": "stories-260k", "path": "%s"}],
                 "aliases": {"gemini-1.0-pro-001": "stories-260k"},
                 "jobs": {"heartbeatSeconds": 1, "missedHeartbeats": 4, "pollSeconds": 1}}
                """.formatted(Path.of("models/stories-260k").toAbsolutePath()));
        return config;
    }

    @Test
    void aKilledWorkersJobIsFinishedByAnotherAsIfNothingHappened() throws Exception {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        Path shared = dir.resolve("shared");
        Path config = config();
        AuthStore.ClientCredentials client;
        try (Database db = Database.open(database, shared)) {
            client = new AuthStore(db).createClient("cluster");
        }
        int port = TuneforgeProcess.freePort();
        String[] common = {"--data-dir", shared.toString(), "--config", config.toString(), "--database-url", database.url()};
        Map<Long, TuneforgeProcess> workers = new ConcurrentHashMap<>();
        String killedModel = null;
        try (TuneforgeProcess api = TuneforgeProcess.start(dir.resolve("api.log"),
                concat(new String[]{"serve", "--no-worker", "--port", String.valueOf(port)}, common));
             TuneforgeProcess w1 = TuneforgeProcess.start(dir.resolve("worker1.log"), concat(new String[]{"worker"}, common));
             TuneforgeProcess w2 = TuneforgeProcess.start(dir.resolve("worker2.log"), concat(new String[]{"worker"}, common));
             Database db = Database.open(database, shared)) {
            workers.put(w1.pid(), w1);
            workers.put(w2.pid(), w2);
            api.awaitHealthy(port);
            Http http = new Http(port, "cluster", Callers.token(port, client.clientId(), client.clientSecret(), null));
            List<String> operations = new ArrayList<>();
            operations.add(http.post("/v1beta/tunedModels?tunedModelId=long-a", body(40)).json().get("name").asText());
            operations.add(http.post("/v1beta/tunedModels?tunedModelId=long-b", body(40)).json().get("name").asText());
            operations.add(http.post("/v1beta/tunedModels?tunedModelId=short", body(5)).json().get("name").asText());

            // the first job seen past its first checkpoints: kill its worker
            long deadline = System.currentTimeMillis() + 180_000;
            JobListing.Job victim = null;
            while (victim == null) {
                assertTrue(System.currentTimeMillis() < deadline, "no job made progress");
                victim = JobListing.list(db).stream().filter(j -> j.running() && j.completedSteps() >= 35
                        && j.completedSteps() < 250).findFirst().orElse(null);
                Thread.sleep(20);
            }
            long pid = Long.parseLong(victim.worker().substring(0, victim.worker().indexOf('@')));
            TuneforgeProcess holder = workers.get(pid);
            assertTrue(holder != null, "the job's holder " + victim.worker() + " is one of the workers");
            holder.kill();
            killedModel = victim.model().substring(victim.model().indexOf("tunedModels/") + "tunedModels/".length());
            TuneforgeProcess survivor = holder == w1 ? w2 : w1;

            for (String operation : operations) {
                JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
                assertFalse(done.has("error"), done.toString());
            }
            assertTrue(survivor.output().contains("tunedModels/" + killedModel + " resumes at step"), survivor.output());
            assertTrue(survivor.alive());
            assertEquals(List.of(), JobListing.list(db), "finished jobs leave the engine's table");

            JsonNode killed = http.get("/v1beta/tunedModels/" + killedModel + "/operations").json().get("operations").get(0);
            List<Double> clusterLosses = losses(http, killed.get("name").asText());
            assertEquals(300, clusterLosses.size());
            byte[] clusterAdapter = adapter(shared, db, killedModel);

            // the same model tuned without interruption, by a single server
            ServerConfig reference = ServerConfig.read(config, dir.resolve("reference"));
            try (TuneforgeServer single = new TuneforgeServer(reference).start("127.0.0.1", 0)) {
                Http local = Callers.http(single, "cluster");
                String op = local.post("/v1beta/tunedModels?tunedModelId=" + killedModel, body(40)).json().get("name").asText();
                SeedWalkthroughTest.waitUntilDone(local, op);
                assertEquals(losses(local, op), clusterLosses, "the loss curve of an uninterrupted run");
                assertArrayEquals(adapter(dir.resolve("reference"), single.database(), killedModel), clusterAdapter,
                        "the adapter of an uninterrupted run, bit for bit");
            }
            assertEquals(200, http.post("/v1beta/tunedModels/" + killedModel + ":generateContent", GENERATE).status());
        }
    }

    @Test
    void anApiProcessKilledMidRequestsLeavesNothingHalfWritten() throws Exception {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        Path shared = dir.resolve("shared");
        Path config = config();
        AuthStore.ClientCredentials client;
        try (Database db = Database.open(database, shared)) {
            client = new AuthStore(db).createClient("cluster");
        }
        String[] common = {"--data-dir", shared.toString(), "--config", config.toString(), "--database-url", database.url()};
        int doomedPort = TuneforgeProcess.freePort();
        int port = TuneforgeProcess.freePort();
        List<String> created = java.util.Collections.synchronizedList(new ArrayList<>());
        try (TuneforgeProcess doomed = TuneforgeProcess.start(dir.resolve("doomed.log"),
                concat(new String[]{"serve", "--no-worker", "--port", String.valueOf(doomedPort)}, common));
             Database db = Database.open(database, shared)) {
            doomed.awaitHealthy(doomedPort);
            Http http = new Http(doomedPort, "cluster", Callers.token(doomedPort, client.clientId(), client.clientSecret(), null));
            CountDownLatch firstAnswered = new CountDownLatch(1);
            List<Thread> senders = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int sender = t;
                senders.add(Thread.ofPlatform().start(() -> {
                    for (int i = 0; ; i++) {
                        try {
                            Http.Response r = http.post("/v1beta/tunedModels?tunedModelId=m-" + sender + "-" + i, body(1));
                            if (r.status() == 200) {
                                created.add("m-" + sender + "-" + i);
                                firstAnswered.countDown();
                            }
                        } catch (AssertionError | RuntimeException connectionLost) {
                            return;
                        }
                    }
                }));
            }
            firstAnswered.await();
            Thread.sleep(300);
            doomed.kill();
            for (Thread t : senders) {
                t.join(30_000);
            }
            assertFalse(created.isEmpty());
        }
        // every model stored, answered or not, is whole: a worker and another API process finish each of them
        try (TuneforgeProcess api = TuneforgeProcess.start(dir.resolve("api.log"),
                concat(new String[]{"serve", "--port", String.valueOf(port)}, common));
             Database db = Database.open(database, shared)) {
            api.awaitHealthy(port);
            Http http = new Http(port, "cluster", Callers.token(port, client.clientId(), client.clientSecret(), null));
            List<String> stored = db.jdbi().withHandle(h -> h.createQuery("SELECT id FROM tuned_models ORDER BY id")
                    .mapTo(String.class).list());
            assertTrue(stored.containsAll(created), "every answered create was stored");
            for (String id : stored) {
                JsonNode ops = http.get("/v1beta/tunedModels/" + id + "/operations").json();
                JsonNode done = SeedWalkthroughTest.waitUntilDone(http, ops.get("operations").get(0).get("name").asText());
                assertFalse(done.has("error"), done.toString());
                assertEquals("ACTIVE", http.get("/v1beta/tunedModels/" + id).json().get("state").asText());
                assertEquals(done.get("metadata").get("totalSteps").asInt(), done.get("metadata").get("snapshots").size());
            }
        }
    }

    private static List<Double> losses(Http http, String operation) {
        List<Double> out = new ArrayList<>();
        for (JsonNode s : http.get("/v1/" + operation).json().get("metadata").get("snapshots")) {
            out.add(s.get("meanLoss").asDouble());
        }
        return out;
    }

    private static byte[] adapter(Path dataDir, Database db, String id) throws Exception {
        String uid = db.jdbi().withHandle(h -> h.createQuery("SELECT uid FROM tuned_models WHERE id = :id")
                .bind("id", id).mapTo(String.class).one());
        return Files.readAllBytes(dataDir.resolve("tunedModels").resolve(uid).resolve("adapter/adapter_model.safetensors"));
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
