package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A base model folder of config.json, tokenizer files and llama.cpp's Q8_0 GGUF file, configured with
 * {@code "dtype": "int8"}: tuned (LoRA on the frozen Q8_0 base) and served through the HTTP API.
 */
class GgufBaseApiTest {
    @TempDir
    Path dataDir;

    @Test
    void tunesAndAnswersOnABaseReadFromAGgufFile() throws Exception {
        Path folder = dataDir.resolve("stories-q8_0");
        Files.createDirectories(folder);
        for (String f : new String[]{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"}) {
            Files.copy(Path.of("models/stories-260k").resolve(f), folder.resolve(f));
        }
        Files.copy(Path.of("src/test/resources/gguf/stories260K-Q8_0.gguf"), folder.resolve("stories260K-Q8_0.gguf"));
        Path file = dataDir.resolve("tuneforge.json");
        Files.writeString(file, "{\"baseModels\": [{\"id\": \"stories-gguf\", \"path\": \"stories-q8_0\", \"dtype\": \"int8\"}],"
                + " \"aliases\": {\"gemini-1.0-pro-001\": \"stories-gguf\"}}");
        ServerConfig config = ServerConfig.read(file, dataDir);
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY).json();
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            assertTrue(config.catalog().load(config.catalog().resolve("stories-gguf")).model().int8());
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
}
