package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.kernel.ProcessMemory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Continuous batching over real HTTP: concurrent requests on many tuned models of one base give exactly what each
 * gives alone and the KV memory they held is given back; a streaming client that hangs up frees its place; a full
 * server refuses at once with Google's error and recovers; a request's deadline ends it with a clear error.
 */
@Timeout(value = 900, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BatchedServingTest {
    private static final int MODELS = 8;
    private static final int REQUESTS = 32;
    private static final String[] RATES = {"0.001", "0.004", "0.01", "0.02", "0.03", "0.05", "0.08", "0.1"};

    @TempDir
    Path temp;

    private static String request(String text, int maxOutputTokens) {
        return "{\"contents\":[{\"parts\":[{\"text\":\"" + text + "\"}]}],\"generationConfig\":{\"temperature\":0,"
                + "\"maxOutputTokens\":" + maxOutputTokens + ",\"responseLogprobs\":true}}";
    }

    /** The answer's text, every chosen token with its log-probability, and why it ended. */
    private static String tokens(Http.Response r) {
        assertEquals(200, r.status(), r.body());
        JsonNode candidate = r.json().get("candidates").get(0);
        return candidate.get("content") + " " + candidate.get("logprobsResult").get("chosenCandidates") + " "
                + candidate.get("finishReason");
    }

    /** The value of the sample {@code name} (no labels) in a /metrics scrape. */
    static double metric(int port, String name) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : body.split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no " + name + " in /metrics:\n" + body);
    }

    @Test
    void concurrentRequestsAcrossEightTunedModelsGiveWhatEachGivesAloneAndGiveTheirMemoryBack() throws Exception {
        String key;
        List<String> paths = new ArrayList<>();
        List<String> bodies = new ArrayList<>();
        List<String> alone = new ArrayList<>();
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp, Path.of("."))
                .withQuotas(QuotasTest.unlimited())).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            List<String> operations = new ArrayList<>();
            for (int m = 0; m < MODELS; m++) {
                operations.add(http.post("/v1beta/tunedModels?tunedModelId=batched-" + m, SeedWalkthroughTest.SEED_BODY
                        .replace("\"epoch_count\":5,", "\"epoch_count\":2,")
                        .replace("\"learning_rate\": 0.001", "\"learning_rate\": " + RATES[m])).json().get("name").asText());
            }
            for (String op : operations) {
                JsonNode done = SeedWalkthroughTest.waitUntilDone(http, op);
                assertTrue(!done.has("error"), done.toString());
            }
            key = http.post("/v1beta/apiKeys", "{}").json().get("keyString").asText();
            Http client = Http.withApiKey(server.port(), key);

            for (int i = 0; i < REQUESTS; i++) {
                paths.add("/v1beta/tunedModels/batched-" + i % MODELS + ":generateContent");
                bodies.add(request(Integer.toString(i / MODELS * 7 - 3), 16 + 4 * (i % 5)));
            }
            for (int i = 0; i < REQUESTS; i++) {
                alone.add(tokens(client.post(paths.get(i), bodies.get(i))));
            }
            assertTrue(new HashSet<>(alone.subList(0, MODELS)).size() > 1,
                    "the tuned models answer the same prompt differently: " + alone.subList(0, MODELS));
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_kv_bytes"));
            long idleResident = ProcessMemory.resident();

            ExecutorService pool = Executors.newFixedThreadPool(REQUESTS);
            try {
                List<Future<String>> together = new ArrayList<>();
                for (int i = 0; i < REQUESTS; i++) {
                    int n = i;
                    together.add(pool.submit(() -> tokens(client.post(paths.get(n), bodies.get(n)))));
                }
                for (int i = 0; i < REQUESTS; i++) {
                    assertEquals(alone.get(i), together.get(i).get(), "request " + i + " on " + paths.get(i));
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_kv_bytes"), "every KV cache was given back");
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_batch_size"));
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_queue_length"));
            long afterBurst = ProcessMemory.resident();
            // stories-260k's caches are small: what a leak of the burst's caches or scratch would add shows
            assertTrue(afterBurst < idleResident + 256L * 1024 * 1024, "resident memory after the burst "
                    + afterBurst / 1048576 + " MB, idle " + idleResident / 1048576 + " MB");
        }

        // the same burst on a server with room for one adapter: each request's lookup evicts the adapters of the
        // requests running beside it, whose weights must stay until their sequences end
        ServerConfig.Serving d = ServerConfig.defaults(temp, Path.of(".")).serving();
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp, Path.of("."))
                .withQuotas(QuotasTest.unlimited()).withServing(new ServerConfig.Serving(d.maxConcurrentGenerations(),
                        d.maxQueuedGenerations(), 1, d.adapterCacheBytes()))).start("127.0.0.1", 0)) {
            Http client = Http.withApiKey(server.port(), key);
            ExecutorService pool = Executors.newFixedThreadPool(REQUESTS);
            try {
                List<Future<String>> together = new ArrayList<>();
                for (int i = 0; i < REQUESTS; i++) {
                    int n = i;
                    together.add(pool.submit(() -> tokens(client.post(paths.get(n), bodies.get(n)))));
                }
                for (int i = 0; i < REQUESTS; i++) {
                    assertEquals(alone.get(i), together.get(i).get(), "with one adapter cached: request " + i + " on "
                            + paths.get(i));
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(1.0, adapterCacheMetric(server.port(), "cache_size"));
            assertTrue(adapterCacheMetric(server.port(), "cache_evictions_total") >= MODELS - 1,
                    "adapters were evicted while others ran");
        }
    }

    /** The value of the adapter cache's sample {@code name} ({@code cache="adapters"}) in a /metrics scrape. */
    private static double adapterCacheMetric(int port, String name) throws Exception {
        String body = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        for (String line : body.split("\n")) {
            if (line.startsWith(name + "{") && line.contains("cache=\"adapters\"")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1).trim());
            }
        }
        throw new AssertionError("no " + name + "{cache=\"adapters\"} in /metrics:\n" + body);
    }

    @Test
    void aClientThatHangsUpFreesItsPlaceAndAFullServerRefusesAtOnceThenRecovers() throws Exception {
        // one place in the batch, none waiting
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp, Path.of("."))
                .withServing(new ServerConfig.Serving(1, 0))).start("127.0.0.1", 0)) {
            String token = Callers.token(server.port(), server.auth().store(), "p");
            Http http = new Http(server.port(), "p", token);
            String shortRequest = request("Once upon a time", 8);
            assertEquals(200, http.post("/v1beta/models/stories-260k:generateContent", shortRequest).status());

            try (Socket socket = RawHttp.streamUntilFirstChunk(server.port(), token, request("Once upon a time", 480))) {
                assertEquals(1.0, metric(server.port(), "tuneforge_generation_batch_size"));

                Http.Response refused = http.post("/v1beta/models/stories-260k:generateContent", shortRequest);
                assertEquals(503, refused.status(), refused.body());
                JsonNode error = refused.json().get("error");
                assertEquals(503, error.get("code").asInt());
                assertEquals("UNAVAILABLE", error.get("status").asText());
                assertTrue(error.get("message").asText().contains("1 sequences in the batch, 0 waiting"),
                        error.toString());
                Http.Response streamRefused = http.post("/v1beta/models/stories-260k:streamGenerateContent?alt=sse",
                        shortRequest);
                assertEquals(503, streamRefused.status(), streamRefused.body());
            }
            // hung up: its place is free at the next step of the batch
            while (metric(server.port(), "tuneforge_generation_batch_size") != 0.0) {
                Thread.sleep(10);
            }
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_kv_bytes"));
            Http.Response again = http.post("/v1beta/models/stories-260k:generateContent", shortRequest);
            assertEquals(200, again.status(), again.body());
        }
    }

    @Test
    void aRequestPastItsDeadlineEndsWithDeadlineExceeded() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp, Path.of(".")))
                .start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            String path = "/v1beta/models/stories-260k:generateContent";
            Http.Response late = http.send("POST", path, request("Once upon a time", 480),
                    "X-Server-Timeout", "0.001");
            assertEquals(504, late.status(), late.body());
            JsonNode error = late.json().get("error");
            assertEquals("DEADLINE_EXCEEDED", error.get("status").asText());
            assertTrue(error.get("message").asText().contains("deadline"), error.toString());

            Http.Response bad = http.send("POST", path, request("Once", 4), "X-Server-Timeout", "soon");
            assertEquals(400, bad.status(), bad.body());
            assertTrue(bad.json().get("error").get("message").asText().contains("X-Server-Timeout"), bad.body());

            Http.Response inTime = http.send("POST", path, request("Once", 4), "X-Server-Timeout", "600");
            assertEquals(200, inTime.status(), inTime.body());
            assertEquals(0.0, metric(server.port(), "tuneforge_generation_batch_size"));
        }
    }
}
