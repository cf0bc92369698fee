package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /metrics, scraped over HTTP after real requests, a real tuning job and real generations, counts what happened. */
class MetricsEndpointTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],"
            + "\"generationConfig\":{\"maxOutputTokens\":4}}";

    @TempDir
    Path dataDir;

    @Test
    void metricsCountRequestsByMethodRouteAndStatusJobsStepsAndAdapterCacheUse() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")))
                .start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=counted",
                    SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":1,")).json();
            int totalSteps = op.at("/metadata/totalSteps").asInt();
            SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            assertEquals(200, http.post("/v1beta/tunedModels/counted:generateContent", GENERATE).status());
            assertEquals(200, http.post("/v1beta/tunedModels/counted:generateContent", GENERATE).status());
            assertEquals(404, http.get("/v1beta/tunedModels/no-such-model").status());
            assertEquals(404, http.get("/v1beta/tunedModels/another-missing-one").status());
            assertEquals(401, Http.anonymous(server.port()).get("/v1beta/tunedModels").status());

            HttpResponse<String> scrape = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, scrape.statusCode());
            assertTrue(scrape.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"),
                    scrape.headers().toString());
            String m = scrape.body();

            String tunedModel = "route=\"/v1beta/tunedModels/{id}\"";
            assertEquals(2.0, value(m, "http_server_requests_seconds_count", "method=\"POST\"", tunedModel,
                    "status=\"200\""), m);
            assertEquals(2.0, value(m, "http_server_requests_seconds_count", "method=\"GET\"", tunedModel,
                    "status=\"404\""), "two ids, one series: " + m);
            assertEquals(1.0, value(m, "http_server_requests_seconds_count", "method=\"POST\"",
                    "route=\"/v1beta/tunedModels\"", "status=\"200\""), m);
            assertTrue(value(m, "http_server_requests_seconds_sum", "method=\"POST\"", tunedModel,
                    "status=\"200\"") > 0, m);
            assertFalse(m.contains("no-such-model"), "ids never become labels");
            assertEquals(1.0, value(m, "http_server_requests_seconds_count", "method=\"GET\"",
                    "route=\"/v1beta/tunedModels\"", "status=\"401\""), "refused by authentication: " + m);

            assertEquals(1.0, value(m, "tuneforge_tuning_jobs", "state=\"active\""), m);
            assertEquals(0.0, value(m, "tuneforge_tuning_jobs", "state=\"queued\""), m);
            assertEquals(0.0, value(m, "tuneforge_tuning_jobs", "state=\"running\""), m);
            assertEquals(0.0, value(m, "tuneforge_tuning_jobs", "state=\"failed\""), m);
            assertEquals(totalSteps, value(m, "tuneforge_training_steps_total"), m);
            assertEquals(totalSteps, value(m, "tuneforge_training_step_seconds_count"), m);
            assertTrue(value(m, "tuneforge_training_steps_per_second") > 0, "steps in the last minute: " + m);

            assertEquals(1.0, value(m, "cache_gets_total", "cache=\"adapters\"", "result=\"miss\""), m);
            assertEquals(1.0, value(m, "cache_gets_total", "cache=\"adapters\"", "result=\"hit\""), m);
        }
    }

    /** The value of the one sample of {@code name} whose labels include each of {@code labels}; NaN if none. */
    static double value(String exposition, String name, String... labels) {
        double[] found = exposition.lines()
                .filter(l -> l.startsWith(name + "{") || l.startsWith(name + " "))
                .filter(l -> Arrays.stream(labels).allMatch(l::contains))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).toArray();
        if (found.length > 1) {
            throw new AssertionError(found.length + " samples of " + name + " match " + Arrays.toString(labels));
        }
        return found.length == 0 ? Double.NaN : found[0];
    }
}
