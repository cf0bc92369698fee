package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** Concurrent requests to two tuned models of one base: one shared base, each answer as when served alone. */
class ConcurrentServingTest {
    @TempDir
    Path dataDir;

    private static String text(Http.Response r) {
        assertEquals(200, r.status(), r.body());
        return r.json().get("candidates").get(0).get("content").get("parts").get(0).get("text").asText();
    }

    @Test
    void twoTunedModelsShareTheBaseUnderConcurrentLoad() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            String forward = SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":30,");
            String backward = forward.replace("\"text_input\": \"1\",\n                    \"output\": \"2\"",
                    "\"text_input\": \"1\",\n                    \"output\": \"zero\"");
            Http.Response createdA = http.post("/v1beta/tunedModels?tunedModelId=model-a", forward);
            Http.Response createdB = http.post("/v1beta/tunedModels?tunedModelId=model-b", backward);
            assertEquals(200, createdA.status(), createdA.body());
            assertEquals(200, createdB.status(), createdB.body());
            JsonNode a = createdA.json();
            JsonNode b = createdB.json();
            SeedWalkthroughTest.waitUntilDone(http, a.get("name").asText());
            SeedWalkthroughTest.waitUntilDone(http, b.get("name").asText());
            var store = server.tuning().store();
            assertSame(server.tuning().baseOf(store.get("p", "model-a").orElseThrow()), server.tuning().baseOf(store.get("p", "model-b").orElseThrow()));

            String request = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":12}}";
            String aloneA = text(http.post("/v1beta/tunedModels/model-a:generateContent", request));
            String aloneB = text(http.post("/v1beta/tunedModels/model-b:generateContent", request));
            ExecutorService pool = Executors.newFixedThreadPool(8);
            try {
                List<Future<String>> results = new ArrayList<>();
                for (int i = 0; i < 16; i++) {
                    String model = i % 2 == 0 ? "model-a" : "model-b";
                    results.add(pool.submit(() -> text(http.post("/v1beta/tunedModels/" + model + ":generateContent", request))));
                }
                for (int i = 0; i < results.size(); i++) {
                    assertEquals(i % 2 == 0 ? aloneA : aloneB, results.get(i).get(), "request " + i);
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    @Test
    void concurrentCreatesWhileAJobTrainsAllSucceed() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))
                .withQuotas(QuotasTest.unlimited())).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            ExecutorService pool = Executors.newFixedThreadPool(6);
            try {
                List<Future<Http.Response>> results = new ArrayList<>();
                for (int i = 0; i < 12; i++) {
                    String id = "parallel-" + i;
                    results.add(pool.submit(() -> http.post("/v1beta/tunedModels?tunedModelId=" + id, SeedWalkthroughTest.SEED_BODY
                            .replace("\"epoch_count\":5,", "\"epoch_count\":1,"))));
                }
                for (Future<Http.Response> r : results) {
                    assertEquals(200, r.get().status(), r.get().body());
                }
            } finally {
                pool.shutdown();
            }
            assertEquals(12, server.tuning().store().count());
        }
    }
}
