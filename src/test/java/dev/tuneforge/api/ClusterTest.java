package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.TestPostgres;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.store.artifacts.S3ArtifactStore;
import dev.tuneforge.store.artifacts.S3Server;
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
 * The cluster as it is deployed: PostgreSQL, an S3 artifact store (S3Proxy), two API processes without a worker and
 * two worker processes (separate JVMs). Only the API processes share a data directory (for the token signing keys);
 * every adapter and checkpoint lives in the bucket. Killing (SIGKILL) the worker that holds a job mid-training loses
 * nothing: the other worker takes the job over and the model ends with the loss curve and adapter of an
 * uninterrupted run, which the second API process then serves. Killing an API process mid-requests leaves nothing
 * half-written.
 */
class ClusterTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"8\"}]}],"
            + "\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":8}}";
    private static final String BUCKET = "artifacts";
    private static final String PREFIX = "cluster";
    @TempDir
    Path dir;

    private static String body(int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",");
    }

    /** The config every process reads: the base model, short heartbeats and the bucket on {@code s3}. */
    private Path config(S3Server s3) throws Exception {
        s3.createBucket(BUCKET);
        Path config = dir.resolve("cluster.json");
        Files.writeString(config, """
                {"baseModels": [{"id": "stories-260k", "path": "%s"}],
                 "aliases": {"gemini-1.0-pro-001": "stories-260k"},
                 "jobs": {"heartbeatSeconds": 1, "missedHeartbeats": 4, "pollSeconds": 1},
                 "artifactStore": {"type": "s3", "endpoint": "%s", "bucket": "%s", "prefix": "%s", "pathStyle": true,
                                   "accessKeyId": "%s", "secretAccessKey": "%s"}}
                """.formatted(Path.of("models/stories-260k").toAbsolutePath(), s3.endpoint(), BUCKET, PREFIX,
                S3Server.ACCESS_KEY, S3Server.SECRET_KEY));
        return config;
    }

    private static String[] options(Path dataDir, Path config, DatabaseSettings database) {
        return new String[]{"--data-dir", dataDir.toString(), "--config", config.toString(), "--database-url", database.url()};
    }

    @Test
    void aKilledWorkersJobIsFinishedByAnotherAsIfNothingHappened() throws Exception {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        Path apiData = dir.resolve("api-data");
        try (S3Server s3 = new S3Server(Files.createDirectories(dir.resolve("s3")))) {
            Path config = config(s3);
            AuthStore.ClientCredentials client;
            try (Database db = Database.open(database, apiData)) {
                client = new AuthStore(db).createClient("cluster");
            }
            int port = TuneforgeProcess.freePort();
            int secondPort = TuneforgeProcess.freePort();
            String[] common = options(apiData, config, database);
            Map<Long, TuneforgeProcess> workers = new ConcurrentHashMap<>();
            try (TuneforgeProcess api = TuneforgeProcess.start(dir.resolve("api.log"),
                    concat(new String[]{"serve", "--no-worker", "--port", String.valueOf(port)}, common));
                 TuneforgeProcess secondApi = TuneforgeProcess.start(dir.resolve("api2.log"),
                         concat(new String[]{"serve", "--no-worker", "--port", String.valueOf(secondPort)}, common));
                 TuneforgeProcess w1 = TuneforgeProcess.start(dir.resolve("worker1.log"),
                         concat(new String[]{"worker"}, options(dir.resolve("worker1-data"), config, database)));
                 TuneforgeProcess w2 = TuneforgeProcess.start(dir.resolve("worker2.log"),
                         concat(new String[]{"worker"}, options(dir.resolve("worker2-data"), config, database)));
                 Database db = Database.open(database, apiData)) {
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
                String killedModel = victim.model().substring(victim.model().indexOf("tunedModels/") + "tunedModels/".length());
                TuneforgeProcess survivor = holder == w1 ? w2 : w1;

                for (String operation : operations) {
                    JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
                    assertFalse(done.has("error"), done.toString());
                }
                assertTrue(survivor.output().contains("tunedModels/" + killedModel + " resumes at step"), survivor.output());
                assertTrue(survivor.alive());
                assertEquals(List.of(), JobListing.list(db), "finished jobs leave the engine's table");
                for (String local : List.of("api-data", "worker1-data", "worker2-data")) {
                    assertFalse(Files.exists(dir.resolve(local).resolve("tunedModels")), "no artifact in " + local);
                }

                JsonNode killed = http.get("/v1beta/tunedModels/" + killedModel + "/operations").json().get("operations").get(0);
                List<Double> clusterLosses = losses(http, killed.get("name").asText());
                assertEquals(300, clusterLosses.size());
                byte[] clusterAdapter = adapterInBucket(s3, db, killedModel);

                // generateContent through the second API process, which neither created nor trained the model
                secondApi.awaitHealthy(secondPort);
                Http viaSecond = new Http(secondPort, "cluster",
                        Callers.token(secondPort, client.clientId(), client.clientSecret(), null));
                Http.Response served = viaSecond.post("/v1beta/tunedModels/" + killedModel + ":generateContent", GENERATE);
                String metrics = Http.anonymous(secondPort).get("/metrics").body();
                assertEquals(1.0, MetricsEndpointTest.value(metrics, "cache_gets_total", "cache=\"adapters\"",
                        "result=\"miss\""), "the second API process loaded the adapter from the bucket: " + metrics);

                // the same model tuned without interruption, by a single server
                Path referenceConfig = Files.writeString(dir.resolve("reference.json"), """
                        {"baseModels": [{"id": "stories-260k", "path": "%s"}],
                         "aliases": {"gemini-1.0-pro-001": "stories-260k"}}
                        """.formatted(Path.of("models/stories-260k").toAbsolutePath()));
                ServerConfig reference = ServerConfig.read(referenceConfig, dir.resolve("reference"));
                try (TuneforgeServer single = new TuneforgeServer(reference).start("127.0.0.1", 0)) {
                    Http local = Callers.http(single, "cluster");
                    String op = local.post("/v1beta/tunedModels?tunedModelId=" + killedModel, body(40)).json().get("name").asText();
                    SeedWalkthroughTest.waitUntilDone(local, op);
                    assertEquals(losses(local, op), clusterLosses, "the loss curve of an uninterrupted run");
                    assertArrayEquals(adapterOnDisk(dir.resolve("reference"), single.database(), killedModel), clusterAdapter,
                            "the adapter of an uninterrupted run, bit for bit");
                    Http.Response uninterrupted = local.post("/v1beta/tunedModels/" + killedModel + ":generateContent", GENERATE);
                    assertEquals(text(uninterrupted), text(served),
                            "the second API process answers with the tuned adapter");
                }
            }
        }
    }

    @Test
    void anApiProcessKilledMidRequestsLeavesNothingHalfWritten() throws Exception {
        DatabaseSettings database = TestPostgres.shared().newDatabase();
        Path shared = dir.resolve("shared");
        try (S3Server s3 = new S3Server(Files.createDirectories(dir.resolve("s3")))) {
            apiKilledMidRequests(database, shared, config(s3));
        }
    }

    private void apiKilledMidRequests(DatabaseSettings database, Path shared, Path config) throws Exception {
        AuthStore.ClientCredentials client;
        try (Database db = Database.open(database, shared)) {
            client = new AuthStore(db).createClient("cluster");
        }
        String[] common = options(shared, config, database);
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

    private static String uid(Database db, String id) {
        return db.jdbi().withHandle(h -> h.createQuery("SELECT uid FROM tuned_models WHERE id = :id")
                .bind("id", id).mapTo(String.class).one());
    }

    private static byte[] adapterOnDisk(Path dataDir, Database db, String id) throws Exception {
        return Files.readAllBytes(dataDir.resolve("tunedModels").resolve(uid(db, id))
                .resolve("adapter/adapter_model.safetensors"));
    }

    private byte[] adapterInBucket(S3Server s3, Database db, String id) throws Exception {
        try (ArtifactStore bucket = new S3ArtifactStore(s3.settings(BUCKET, PREFIX), dir.resolve("reader"))) {
            return bucket.readAdapter(uid(db, id), adapter -> {
                try {
                    return Files.readAllBytes(adapter.resolve("adapter_model.safetensors"));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        }
    }

    private static String text(Http.Response r) {
        assertEquals(200, r.status(), r.body());
        return r.json().at("/candidates/0/content/parts/0/text").asText();
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
