package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.quota.QuotaSettings;
import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every per-project quota over real HTTP: over it, 429 RESOURCE_EXHAUSTED with Google's ErrorInfo, QuotaFailure and
 * (for the request rate) RetryInfo, nothing stored; under it, and in other projects, calls go on as before.
 */
class QuotasTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],"
            + "\"generationConfig\":{\"maxOutputTokens\":2}}";
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Jdbi database;

    /** Limits no test reaches, for tests of load and concurrency rather than quotas. */
    static QuotaSettings unlimited() {
        return new QuotaSettings(new QuotaSettings.Limits(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE),
                Map.of());
    }

    @BeforeAll
    static void start() {
        QuotaSettings.Limits d = QuotaSettings.Limits.defaults();
        QuotaSettings quotas = new QuotaSettings(d, Map.of(
                "slow", new QuotaSettings.Limits(2, d.tuningJobsInProgress(), d.storedTunedModels(), d.trainingTokensPerJob()),
                "few", new QuotaSettings.Limits(d.generateContentRequestsPerMinute(), d.tuningJobsInProgress(), 1,
                        d.trainingTokensPerJob()),
                "busy", new QuotaSettings.Limits(d.generateContentRequestsPerMinute(), 1, d.storedTunedModels(),
                        d.trainingTokensPerJob())));
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")).withQuotas(quotas)).start("127.0.0.1", 0);
        database = Database.sqlite(dataDir.resolve("tuneforge.db")).jdbi();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void generateContentRequestsPerMinuteAreCountedPerProject() throws Exception {
        Http slow = Callers.http(server, "slow");
        assertEquals(200, slow.post("/v1beta/models/stories-260k:generateContent", GENERATE).status());
        assertEquals(200, slow.post("/v1beta/models/stories-260k:streamGenerateContent?alt=sse", GENERATE).status());
        assertEquals(200, slow.post("/v1beta/models/stories-260k:countTokens", GENERATE).status(),
                "countTokens is not a generateContent request");

        HttpResponse<String> refused = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                        + server.port() + "/v1beta/models/stories-260k:generateContent"))
                .header("Authorization", "Bearer " + Callers.token(server.port(), server.auth().store(), "slow"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(GENERATE)).build(),
                HttpResponse.BodyHandlers.ofString());
        Http.Response r = new Http.Response(refused.statusCode(), refused.body());
        JsonNode info = quotaError(r, "RATE_LIMIT_EXCEEDED", "GenerateContentRequestsPerMinutePerProject", 2);
        assertEquals("projects/slow", info.get("metadata").get("consumer").asText());
        JsonNode retry = ErrorDetailsTest.detail(r, "type.googleapis.com/google.rpc.RetryInfo");
        assertNotNull(retry, r.body());
        long delay = Long.parseLong(retry.get("retryDelay").asText().replace("s", ""));
        assertTrue(delay >= 1 && delay <= 60, r.body());
        assertEquals(Long.toString(delay), refused.headers().firstValue("Retry-After").orElseThrow());
        assertTrue(r.json().get("error").get("message").asText().contains("quotas.generateContentRequestsPerMinute"));

        Http.Response stream = slow.post("/v1beta/models/stories-260k:streamGenerateContent", GENERATE);
        quotaError(stream, "RATE_LIMIT_EXCEEDED", "GenerateContentRequestsPerMinutePerProject", 2);
        assertEquals(200, Callers.http(server, "other").post("/v1beta/models/stories-260k:generateContent", GENERATE)
                .status(), "another project has its own count");
    }

    @Test
    void storedTunedModelsAreLimited() throws Exception {
        Http few = Callers.http(server, "few");
        Http.Response first = few.post("/v1beta/tunedModels?tunedModelId=only", createBody(2, 1).toString());
        assertEquals(200, first.status(), first.body());
        SeedWalkthroughTest.waitUntilDone(few, first.json().get("name").asText());
        String before = rows();
        Http.Response second = few.post("/v1beta/tunedModels?tunedModelId=second", createBody(2, 1).toString());
        JsonNode info = quotaError(second, "RESOURCE_QUOTA_EXCEEDED", "TunedModelsPerProject", 1);
        assertEquals("projects/few", info.get("metadata").get("consumer").asText());
        assertNull(ErrorDetailsTest.detail(second, "type.googleapis.com/google.rpc.RetryInfo"),
                "waiting does not free a stored model: " + second.body());
        assertEquals(before, rows(), "nothing stored");
        assertEquals(200, few.delete("/v1beta/tunedModels/only").status());
        assertEquals(200, few.post("/v1beta/tunedModels?tunedModelId=second", createBody(2, 1).toString()).status(),
                "deleting one makes room");
    }

    @Test
    void tuningJobsInProgressAreLimited() throws Exception {
        Http busy = Callers.http(server, "busy");
        // 20 examples for 1,000 epochs at batch 1: 20,000 steps, still training when the next create comes
        Http.Response running = busy.post("/v1beta/tunedModels?tunedModelId=long", createBody(20, 1000).toString());
        assertEquals(200, running.status(), running.body());
        String before = rows();
        Http.Response next = busy.post("/v1beta/tunedModels?tunedModelId=next", createBody(2, 1).toString());
        quotaError(next, "RESOURCE_QUOTA_EXCEEDED", "TuningJobsInProgressPerProject", 1);
        assertEquals(before.replaceAll("completed_steps=\\d+", ""), rows().replaceAll("completed_steps=\\d+", ""),
                "nothing stored");
        assertEquals(200, busy.delete("/v1beta/tunedModels/long").status());
        Http.Response after = busy.post("/v1beta/tunedModels?tunedModelId=next", createBody(2, 1).toString());
        assertEquals(200, after.status(), "a finished job frees its place: " + after.body());
        SeedWalkthroughTest.waitUntilDone(busy, after.json().get("name").asText());
    }

    @Test
    void theDefaultsRefuseTwentyThousandExamplesForAThousandEpochs() {
        Http http = Callers.http(server, "defaults");
        String before = rows();
        Http.Response r = http.post("/v1beta/tunedModels", createBody(20_000, 1000).toString());
        JsonNode info = quotaError(r, "RESOURCE_QUOTA_EXCEEDED", "TrainingTokensPerTuningJob", 10_000_000);
        assertEquals("projects/defaults", info.get("metadata").get("consumer").asText());
        assertTrue(r.json().get("error").get("message").asText().contains("quotas.trainingTokensPerJob"), r.body());
        assertEquals(before, rows(), "nothing stored");
    }

    /** The ErrorInfo of a 429 RESOURCE_EXHAUSTED, checked against its QuotaFailure. */
    private static JsonNode quotaError(Http.Response r, String reason, String limitName, long limit) {
        JsonNode info = ErrorDetailsTest.errorInfo(r, 429, "RESOURCE_EXHAUSTED", reason);
        assertEquals(limitName, info.get("metadata").get("quota_limit").asText(), r.body());
        assertEquals(Long.toString(limit), info.get("metadata").get("quota_limit_value").asText(), r.body());
        JsonNode failure = ErrorDetailsTest.detail(r, "type.googleapis.com/google.rpc.QuotaFailure");
        assertNotNull(failure, r.body());
        JsonNode violation = failure.get("violations").get(0);
        assertEquals(info.get("metadata").get("consumer").asText(), violation.get("subject").asText());
        assertEquals(limitName, violation.get("quotaId").asText());
        assertEquals(info.get("metadata").get("quota_metric").asText(), violation.get("quotaMetric").asText());
        assertEquals(Long.toString(limit), violation.get("quotaValue").asText());
        assertFalse(violation.get("description").asText().isEmpty());
        return info;
    }

    private static ObjectNode createBody(int examples, int epochs) {
        ObjectNode body = JSON.createObjectNode().put("display_name", "q").put("base_model", "models/stories-260k");
        ObjectNode task = body.putObject("tuning_task");
        task.putObject("hyperparameters").put("batch_size", 1).put("epoch_count", epochs);
        ArrayNode list = task.putObject("training_data").putObject("examples").putArray("examples");
        for (int i = 0; i < examples; i++) {
            list.addObject().put("text_input", Integer.toString(i)).put("output", Integer.toString(i + 1));
        }
        return body;
    }

    private static String rows() {
        return database.withHandle(h -> h.createQuery("SELECT uid, project, id, state, completed_steps FROM tuned_models "
                + "ORDER BY uid").mapToMap().list().toString());
    }
}
