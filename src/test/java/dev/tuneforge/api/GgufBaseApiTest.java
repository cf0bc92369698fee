package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

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
        Bf16BaseApiTest.tunesAndAnswers(config, "stories-gguf", base -> assertTrue(base.int8()));
    }
}
