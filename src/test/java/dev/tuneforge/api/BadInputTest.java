package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every bad input gets a Google-format error with the right status and leaves the database unchanged. */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        http = Callers.http(server, "p1");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static ObjectNode valid() {
        ObjectNode body = JSON.createObjectNode();
        body.put("display_name", "t");
        body.put("base_model", "models/stories-260k");
        ObjectNode task = body.putObject("tuning_task");
        task.putObject("hyperparameters").put("batch_size", 2).put("learning_rate", 0.001).put("epoch_count", 1);
        var examples = task.putObject("training_data").putObject("examples").putArray("examples");
        examples.addObject().put("text_input", "1").put("output", "2");
        examples.addObject().put("text_input", "3").put("output", "4");
        return body;
    }

    private static void expectError(Http.Response r, int status, String code, String messagePart) {
        assertEquals(status, r.status(), r.body());
        JsonNode e = r.json().get("error");
        assertEquals(status, e.get("code").asInt(), r.body());
        assertEquals(code, e.get("status").asText(), r.body());
        assertTrue(e.get("message").asText().contains(messagePart), "message '" + e.get("message").asText()
                + "' should mention " + messagePart);
    }

    private static void rejectedCreate(String body, String messagePart) {
        int before = server.tuning().store().count();
        expectError(http.post("/v1beta/tunedModels", body), 400, "INVALID_ARGUMENT", messagePart);
        assertEquals(before, server.tuning().store().count(), "nothing stored");
    }

    private static ObjectNode hp(ObjectNode body) {
        return (ObjectNode) body.get("tuning_task").get("hyperparameters");
    }

    private static ObjectNode example(ObjectNode body, int i) {
        return (ObjectNode) body.get("tuning_task").get("training_data").get("examples").get("examples").get(i);
    }

    @Test
    void createRejectsBadBodiesNamingTheField() {
        rejectedCreate("{\"display_name\": ", "invalid JSON");
        rejectedCreate("[]", "JSON object");
        ObjectNode b = valid();
        b.remove("base_model");
        rejectedCreate(b.toString(), "base_model is required");
        b = valid();
        b.remove("tuning_task");
        rejectedCreate(b.toString(), "tuning_task is required");
        b = valid();
        ((ObjectNode) b.get("tuning_task").get("training_data").get("examples")).putArray("examples");
        rejectedCreate(b.toString(), "at least one example");
        b = valid();
        example(b, 1).put("text_input", "x".repeat(40_001));
        rejectedCreate(b.toString(), "tuning_task.training_data.examples.examples[1].text_input exceeds 40000 characters");
        b = valid();
        example(b, 0).put("output", "y".repeat(5_001));
        rejectedCreate(b.toString(), "examples[0].output exceeds 5000 characters");
        b = valid();
        example(b, 1).remove("output");
        rejectedCreate(b.toString(), "examples[1].output is required");
        b = valid();
        example(b, 0).put("text_input", 5);
        rejectedCreate(b.toString(), "examples[0].text_input must be a string");
        b = valid();
        hp(b).put("epoch_count", 0);
        rejectedCreate(b.toString(), "epoch_count must be between 1 and 1000");
        b = valid();
        hp(b).put("batch_size", -1);
        rejectedCreate(b.toString(), "batch_size must be between 1 and 64");
        b = valid();
        hp(b).put("batch_size", 1_000_000_000_000L);
        rejectedCreate(b.toString(), "batch_size");
        b = valid();
        hp(b).put("learning_rate", 0);
        rejectedCreate(b.toString(), "learning_rate must be between");
        b = valid();
        hp(b).put("learning_rate", 50);
        rejectedCreate(b.toString(), "learning_rate must be between");
        b = valid();
        hp(b).put("epoch_count", "five");
        rejectedCreate(b.toString(), "epoch_count must be an integer");
        b = valid();
        hp(b).put("learning_rate_multiplier", 2);
        rejectedCreate(b.toString(), "not both");
        int before = server.tuning().store().count();
        expectError(http.post("/v1beta/tunedModels?tunedModelId=Bad_Id", valid().toString()), 400, "INVALID_ARGUMENT", "tuned_model_id");
        b = valid();
        b.put("base_model", "models/no-such-model");
        expectError(http.post("/v1beta/tunedModels", b.toString()), 404, "NOT_FOUND", "models/no-such-model");
        assertEquals(before, server.tuning().store().count());
    }

    @Test
    void duplicateIdsUnknownModelsAndJsonModeAreRefused() throws Exception {
        Http.Response first = http.post("/v1beta/tunedModels?tunedModelId=dup-model", valid().toString());
        assertEquals(200, first.status(), first.body());
        int count = server.tuning().store().count();
        expectError(http.post("/v1beta/tunedModels?tunedModelId=dup-model", valid().toString()), 409, "ALREADY_EXISTS", "dup-model");
        assertEquals(count, server.tuning().store().count());

        expectError(http.get("/v1beta/tunedModels/nope"), 404, "NOT_FOUND", "tunedModels/nope");
        expectError(http.post("/v1beta/tunedModels/nope:generateContent", "{}"), 404, "NOT_FOUND", "tunedModels/nope");
        expectError(http.get("/v1beta/models/nope"), 404, "NOT_FOUND", "models/nope");
        expectError(http.get("/v1beta/nothing-here"), 404, "NOT_FOUND", "/v1beta/nothing-here");

        SeedWalkthroughTest.waitUntilDone(http, first.json().get("name").asText());
        String gen = "/v1beta/tunedModels/dup-model:generateContent";
        expectError(http.post(gen, "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],\"generationConfig\":{\"responseMimeType\":\"application/json\"}}"),
                400, "INVALID_ARGUMENT", "JSON mode is not supported for tuned models");
        expectError(http.post(gen, "{\"contents\":[{\"parts\":[{\"text\":\"" + "x".repeat(40_001) + "\"}]}]}"),
                400, "INVALID_ARGUMENT", "40000");
        expectError(http.post(gen, "{\"contents\":[{\"parts\":[{\"inline_data\":{\"mime_type\":\"image/png\",\"data\":\"AA==\"}}]}]}"),
                400, "INVALID_ARGUMENT", "only text parts");
        expectError(http.post(gen, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"1\"}]},{\"role\":\"model\",\"parts\":[{\"text\":\"2\"}]},"
                + "{\"role\":\"user\",\"parts\":[{\"text\":\"3\"}]}]}"), 400, "INVALID_ARGUMENT", "multi-turn");
        expectError(http.post(gen, "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],\"generationConfig\":{\"candidateCount\":2}}"),
                400, "INVALID_ARGUMENT", "candidate_count");
        expectError(http.post(gen, "{\"contents\":[]}"), 400, "INVALID_ARGUMENT", "contents is required");
        expectError(http.post(gen, "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],\"generationConfig\":{\"temperature\":7}}"),
                400, "INVALID_ARGUMENT", "temperature");
    }

    @Test
    void oversizedBodiesAreRefused() {
        int before = server.tuning().store().count();
        String huge = "{\"display_name\":\"" + "x".repeat(70 * 1024 * 1024) + "\"}";
        Http.Response r = http.post("/v1beta/tunedModels", huge);
        assertEquals(400, r.status(), r.body().length() > 300 ? r.body().substring(0, 300) : r.body());
        assertEquals("INVALID_ARGUMENT", r.json().get("error").get("status").asText());
        assertEquals(before, server.tuning().store().count());
    }

    @Test
    void anotherProjectsTunedModelIsInvisible() {
        Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=private-model", valid().toString());
        assertEquals(200, created.status(), created.body());
        Http other = Callers.http(server, "p2");
        expectError(other.get("/v1beta/tunedModels/private-model"), 404, "NOT_FOUND", "private-model");
        assertTrue(!other.get("/v1beta/tunedModels").body().contains("private-model"));
        expectError(other.delete("/v1beta/tunedModels/private-model"), 404, "NOT_FOUND", "private-model");
    }
}
