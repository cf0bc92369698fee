package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.model.LlamaModel;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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
        double bf16Adapter = tunesAndAnswers(config, "stories-bf16", base -> {
            assertEquals(ScalarType.BFloat16.value, base.dtype().value);
            assertTrue(base.preparedWeightsFile().startsWith(dataDir.resolve(ServerConfig.PREPARED_WEIGHTS)),
                    "the server maps the base's matrices from its data directory: " + base.preparedWeightsFile());
        });
        // serving.adapterDtype fp32: the same tuned model's adapter held in float32, twice the bytes (but for the
        // float32 token rows, the same in both)
        Path fp32File = dataDir.resolve("fp32-adapters.json");
        Files.writeString(fp32File, Files.readString(file).replaceFirst("}$", ", \"serving\": {\"adapterDtype\": \"fp32\"}}"));
        double fp32Adapter = tunesAndAnswers(ServerConfig.read(fp32File, dataDir.resolve("fp32")), "stories-bf16",
                base -> assertEquals(ScalarType.BFloat16.value, base.dtype().value));
        assertTrue(fp32Adapter > 1.8 * bf16Adapter && fp32Adapter < 2.0 * bf16Adapter,
                "adapter bytes held: " + bf16Adapter + " in bf16 (the default on a bf16 base), " + fp32Adapter
                        + " with serving.adapterDtype fp32");
    }

    /**
     * Through a server on {@code config}: tunes the tutorial's request on base {@code baseId} (the tutorial's model
     * aliased to it), checks the loaded base with {@code checkBase}, that the loss falls, and that the tuned model
     * answers; returns the bytes its loaded adapter holds (the adapter cache's gauge).
     */
    static double tunesAndAnswers(ServerConfig config, String baseId, Consumer<LlamaModel> checkBase) throws Exception {
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
            String metrics = RawHttp.send(server.port(), "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    + "Connection: close\r\n\r\n").body();
            Matcher held = Pattern.compile("^cache_bytes\\{[^}]*cache=\"adapters\"[^}]*} (\\S+)$", Pattern.MULTILINE)
                    .matcher(metrics);
            assertTrue(held.find(), metrics);
            return Double.parseDouble(held.group(1));
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
