package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sixteen clients generate and stream from two tuned models and the base while a job trains: every request is
 * answered, the job learns exactly what it learns alone, and the health check stays quick throughout.
 */
class ServingUnderLoadTest {
    private static final int CLIENTS = 16;
    private static final String MEASURED = SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":40,");
    private static final String REQUEST = "{\"contents\":[{\"parts\":[{\"text\":\"%d\"}]}],"
            + "\"generationConfig\":{\"maxOutputTokens\":32}}";

    @TempDir
    Path temp;

    @Test
    @Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void sixteenClientsAreAllAnsweredWhileAJobTrainsAsItWouldAlone() throws Exception {
        List<Double> alone;
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp.resolve("alone"), Path.of("."))
                .withQuotas(QuotasTest.unlimited())).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            alone = losses(SeedWalkthroughTest.waitUntilDone(http,
                    http.post("/v1beta/tunedModels?tunedModelId=measured", MEASURED).json().get("name").asText()));
        }

        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(temp.resolve("loaded"), Path.of("."))
                .withQuotas(QuotasTest.unlimited())).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            for (String id : List.of("served-a", "served-b")) {
                SeedWalkthroughTest.waitUntilDone(http, http.post("/v1beta/tunedModels?tunedModelId=" + id,
                        SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":2,"))
                        .json().get("name").asText());
            }
            String key = http.post("/v1beta/apiKeys", "{}").json().get("keyString").asText();
            List<String> models = List.of("tunedModels/served-a", "tunedModels/served-b", "models/stories-260k");

            AtomicBoolean training = new AtomicBoolean(true);
            AtomicInteger answered = new AtomicInteger();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            List<Thread> clients = new ArrayList<>();
            String operation = http.post("/v1beta/tunedModels?tunedModelId=measured", MEASURED).json().get("name").asText();
            for (int i = 0; i < CLIENTS; i++) {
                int number = i;
                clients.add(Thread.ofPlatform().start(() -> {
                    String method = number % 2 == 0 ? ":generateContent" : ":streamGenerateContent?alt=sse";
                    String url = "http://127.0.0.1:" + server.port() + "/v1beta/" + models.get(number % models.size()) + method;
                    for (int n = 0; training.get(); n++) {
                        try {
                            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url))
                                    .timeout(Duration.ofSeconds(60)).header("x-goog-api-key", key)
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofString(String.format(REQUEST, number * 1000 + n)))
                                    .build(), HttpResponse.BodyHandlers.ofString());
                            if (r.statusCode() != 200 || !r.body().contains("\"finishReason\"")) {
                                failures.add(url + " " + r.statusCode() + " " + r.body());
                            }
                            answered.incrementAndGet();
                        } catch (Exception e) {
                            failures.add(url + " " + e);
                        }
                    }
                }));
            }
            List<Long> healthMicros = new ArrayList<>();
            HttpRequest health = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/healthz"))
                    .timeout(Duration.ofSeconds(30)).build();
            JsonNode done;
            while (true) {
                long start = System.nanoTime();
                assertEquals(200, client.send(health, HttpResponse.BodyHandlers.ofString()).statusCode());
                healthMicros.add((System.nanoTime() - start) / 1000);
                JsonNode op = http.get("/v1/" + operation).json();
                if (op.path("done").asBoolean()) {
                    done = op;
                    break;
                }
                Thread.sleep(20);
            }
            training.set(false);
            for (Thread t : clients) {
                t.join();
            }
            assertTrue(failures.isEmpty(), failures.size() + " requests failed, e.g. " + failures.peek());
            assertTrue(answered.get() >= CLIENTS, "every client was answered: " + answered.get());
            assertFalse(done.has("error"), done.toString());
            assertEquals(alone, losses(done), "the job's losses under load are those of the job alone");
            Collections.sort(healthMicros);
            long p99 = healthMicros.get((int) Math.ceil(healthMicros.size() * 0.99) - 1);
            // a starved or hung server answers in seconds; the bound leaves room for a loaded shared CI machine
            assertTrue(p99 < 1_000_000, "/healthz p99 " + p99 / 1000.0 + " ms over " + healthMicros.size()
                    + " checks during " + answered.get() + " generations");
        }
    }

    private static List<Double> losses(JsonNode operation) {
        List<Double> out = new ArrayList<>();
        operation.get("metadata").get("snapshots").forEach(s -> out.add(s.get("meanLoss").asDouble()));
        return out;
    }
}
