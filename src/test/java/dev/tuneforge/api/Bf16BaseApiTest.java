package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.model.LlamaModel;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A base model configured with {@code "dtype": "bf16"}: held in bf16, tuned and served through the HTTP API. */
class Bf16BaseApiTest {
    @TempDir
    Path dataDir;

    @Test
    void tunesAndAnswersOnABf16Base() throws Exception {
        Path file = dataDir.resolve("tuneforge.json");
        Files.writeString(file, "{\"baseModels\": [{\"id\": \"stories-bf16\", \"path\": \""
                + Path.of("models/stories-260k").toAbsolutePath() + "\", \"dtype\": \"bf16\"}],"
                + " \"aliases\": {\"gemini-1.0-pro-001\": \"stories-bf16\"}}");
        ServerConfig config = ServerConfig.read(file, dataDir);
        tunesAndAnswers(config, "stories-bf16", base -> {
            assertEquals(ScalarType.BFloat16.value, base.dtype().value);
            assertTrue(base.preparedWeightsFile().startsWith(dataDir.resolve(ServerConfig.PREPARED_WEIGHTS)),
                    "the server maps the base's matrices from its data directory: " + base.preparedWeightsFile());
        });
    }

    /**
     * Through a server on {@code config}: tunes the tutorial's request on base {@code baseId} (the tutorial's model
     * aliased to it), checks the loaded base with {@code checkBase}, that the loss falls, and that the tuned model
     * answers.
     */
    static void tunesAndAnswers(ServerConfig config, String baseId, Consumer<LlamaModel> checkBase) throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY).json();
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            checkBase.accept(config.catalog().load(config.catalog().resolve(baseId)).model());
            JsonNode snapshots = done.get("metadata").get("snapshots");
            double first = snapshots.get(0).get("meanLoss").asDouble();
            double last = snapshots.get(snapshots.size() - 1).get("meanLoss").asDouble();
            assertTrue(last < first, "loss " + first + " -> " + last);
            String model = op.get("metadata").get("tunedModel").asText();
            JsonNode c = http.post("/v1beta/" + model + ":generateContent",
                    "{\"contents\":[{\"parts\":[{\"text\":\"LXIII\"}]}],\"generationConfig\":{\"temperature\":0}}")
                    .json().get("candidates").get(0);
            assertFalse(c.get("content").get("parts").get(0).get("text").asText().isEmpty());
            assertTrue(c.get("finishReason").asText().matches("STOP|MAX_TOKENS"), c.toString());
        }
    }

    @Test
    void preparedWeightsCanBeTurnedOffAndAreCheckedByName() throws Exception {
        Path file = dataDir.resolve("off.json");
        String base = "\"baseModels\": [{\"id\": \"stories\", \"path\": \""
                + Path.of("models/stories-260k").toAbsolutePath() + "\"}]";
        Files.writeString(file, "{" + base + ", \"preparedWeights\": false}");
        ServerConfig off = ServerConfig.read(file, dataDir);
        assertEquals(null, off.catalog().load(off.catalog().resolve("stories")).model().preparedWeightsFile());
        Files.writeString(file, "{" + base + ", \"preparedWeights\": \"yes\"}");
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> ServerConfig.read(file, dataDir));
        assertTrue(e.getMessage().contains("preparedWeights"), e.getMessage());
    }
}
