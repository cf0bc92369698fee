package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tutorial's walkthrough, as written, against a real server on a random port. */
class SeedWalkthroughTest {
    /** The tutorial's curl body, verbatim: snake_case names and trailing commas. */
    static final String SEED_BODY = """
      {
        "display_name": "number generator model",
        "base_model": "models/gemini-1.0-pro-001",
        "tuning_task": {
          "hyperparameters": {
            "batch_size": 2,
            "learning_rate": 0.001,
            "epoch_count":5,
          },
          "training_data": {
            "examples": {
              "examples": [
                {
                    "text_input": "1",
                    "output": "2",
                },{
                    "text_input": "3",
                    "output": "4",
                },{
                    "text_input": "-3",
                    "output": "-2",
                },{
                    "text_input": "twenty two",
                    "output": "twenty three",
                },{
                    "text_input": "two hundred",
                    "output": "two hundred one",
                },{
                    "text_input": "ninety nine",
                    "output": "one hundred",
                },{
                    "text_input": "8",
                    "output": "9",
                },{
                    "text_input": "-98",
                    "output": "-97",
                },{
                    "text_input": "1,000",
                    "output": "1,001",
                },{
                    "text_input": "10,100,000",
                    "output": "10,100,001",
                },{
                    "text_input": "thirteen",
                    "output": "fourteen",
                },{
                    "text_input": "eighty",
                    "output": "eighty one",
                },{
                    "text_input": "one",
                    "output": "two",
                },{
                    "text_input": "three",
                    "output": "four",
                },{
                    "text_input": "seven",
                    "output": "eight",
                }
              ]
            }
          }
        }
      }""";

    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0);
        http = Callers.http(server, "my-project-id");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static JsonNode waitUntilDone(Http http, String operationName) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 180_000;
        while (System.currentTimeMillis() < deadline) {
            JsonNode op = http.get("/v1/" + operationName).json();
            if (op.path("done").asBoolean(false)) {
                return op;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("operation " + operationName + " not done in time");
    }

    @Test
    void tutorialWalkthroughWorksVerbatim() throws Exception {
        Http.Response empty = http.get("/v1beta/tunedModels");
        assertEquals(200, empty.status(), empty.body());

        Http.Response created = http.post("/v1beta/tunedModels", SEED_BODY);
        assertEquals(200, created.status(), created.body());
        JsonNode op = created.json();
        assertTrue(op.get("name").asText().matches("tunedModels/number-generator-model-[a-z0-9]{12}/operations/[a-z0-9]{12}"),
                op.toString());
        JsonNode meta = op.get("metadata");
        assertEquals("type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata", meta.get("@type").asText());
        assertEquals(38, meta.get("totalSteps").asInt());
        String modelName = meta.get("tunedModel").asText();
        assertTrue(op.get("name").asText().startsWith(modelName + "/operations/"));

        JsonNode listed = http.get("/v1beta/tunedModels").json();
        assertEquals(modelName, listed.get("tunedModels").get(0).get("name").asText());

        String state = http.get("/v1beta/" + modelName).json().get("state").asText();
        assertTrue(state.equals("CREATING") || state.equals("ACTIVE"), state);

        JsonNode done = waitUntilDone(http, op.get("name").asText());
        assertFalse(done.has("error"), done.toString());
        JsonNode doneMeta = done.get("metadata");
        assertEquals(100.0, doneMeta.get("completedPercent").asDouble());
        assertEquals(38, doneMeta.get("completedSteps").asInt());
        JsonNode snapshots = doneMeta.get("snapshots");
        assertEquals(38, snapshots.size());
        JsonNode last = snapshots.get(37);
        assertEquals(38, last.get("step").asInt());
        assertEquals(5, last.get("epoch").asInt());
        assertTrue(last.get("meanLoss").isNumber());
        Instant.parse(last.get("computeTime").asText());
        assertTrue(last.get("meanLoss").asDouble() < snapshots.get(0).get("meanLoss").asDouble(), "loss falls");
        assertEquals("type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel", done.get("response").get("@type").asText());

        JsonNode model = http.get("/v1beta/" + modelName).json();
        assertEquals("ACTIVE", model.get("state").asText());
        assertEquals("models/gemini-1.0-pro-001", model.get("baseModel").asText());
        Instant.parse(model.get("tuningTask").get("completeTime").asText());
        assertEquals(2, model.get("tuningTask").get("hyperparameters").get("batchSize").asInt());

        Http.Response generated = http.post("/v1beta/" + modelName + ":generateContent", """
                {
                "contents": [{
                "parts": [{
                  "text": "LXIII"
                  }]
                }]
                }""");
        assertEquals(200, generated.status(), generated.body());
        JsonNode g = generated.json();
        JsonNode candidate = g.get("candidates").get(0);
        assertTrue(candidate.get("content").get("parts").get(0).get("text").isTextual());
        assertEquals("model", candidate.get("content").get("role").asText());
        assertTrue(candidate.get("finishReason").asText().matches("STOP|MAX_TOKENS"));
        assertEquals(0, candidate.get("index").asInt());
        assertFalse(candidate.has("safetyRatings"), "no classifier, so no safety ratings");
        assertFalse(g.has("promptFeedback"));
        JsonNode usage = g.get("usageMetadata");
        assertEquals(usage.get("promptTokenCount").asInt() + usage.get("candidatesTokenCount").asInt(),
                usage.get("totalTokenCount").asInt());
        assertEquals(modelName, g.get("modelVersion").asText());

        Http.Response sse = http.post("/v1beta/" + modelName + ":streamGenerateContent?alt=sse",
                "{\"contents\":[{\"parts\":[{\"text\":\"twenty two\"}]}],\"generationConfig\":{\"temperature\":0}}");
        assertEquals(200, sse.status());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String line : sse.body().split("\r\n")) {
            if (line.startsWith("data: ")) {
                JsonNode chunk = new com.fasterxml.jackson.databind.ObjectMapper().readTree(line.substring(6));
                JsonNode c = chunk.get("candidates").get(0);
                text.append(c.get("content").get("parts").get(0).get("text").asText());
                if (c.has("finishReason")) {
                    finish = c.get("finishReason").asText();
                }
            }
        }
        assertTrue(finish != null, sse.body());
        Http.Response plain = http.post("/v1beta/" + modelName + ":generateContent",
                "{\"contents\":[{\"parts\":[{\"text\":\"twenty two\"}]}],\"generationConfig\":{\"temperature\":0}}");
        assertEquals(plain.json().get("candidates").get(0).get("content").get("parts").get(0).get("text").asText(), text.toString());

        Http.Response array = http.post("/v1beta/" + modelName + ":streamGenerateContent",
                "{\"contents\":[{\"parts\":[{\"text\":\"twenty two\"}]}],\"generationConfig\":{\"temperature\":0}}");
        assertTrue(array.json().isArray(), array.body());

        JsonNode count = http.post("/v1beta/" + modelName + ":countTokens", "{\"contents\":[{\"parts\":[{\"text\":\"LXIII\"}]}]}").json();
        assertEquals(usage.get("promptTokenCount").asInt(), count.get("totalTokens").asInt());
    }

    @Test
    void baseModelsAreListedWithTheirAliases() {
        JsonNode models = http.get("/v1beta/models").json().get("models");
        assertEquals("models/stories-260k", models.get(0).get("name").asText());
        JsonNode alias = http.get("/v1beta/models/gemini-1.0-pro-001").json();
        assertTrue(alias.get("description").asText().contains("models/stories-260k"), alias.toString());
        assertTrue(alias.get("supportedGenerationMethods").toString().contains("createTunedModel"));
        JsonNode g = http.post("/v1beta/models/stories-260k:generateContent",
                "{\"contents\":[{\"parts\":[{\"text\":\"Once upon a time\"}]}],\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":8}}").json();
        assertEquals(", there was a little girl", g.get("candidates").get(0).get("content").get("parts").get(0).get("text").asText());
        assertEquals("MAX_TOKENS", g.get("candidates").get(0).get("finishReason").asText());
    }
}
