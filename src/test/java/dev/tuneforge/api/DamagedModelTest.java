package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tuned model whose adapter cannot be read is the server's fault, not the caller's: INTERNAL with a request id,
 * naming the model but not where the server keeps it, and shown damaged by get until its files can be read again.
 */
class DamagedModelTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}";

    @TempDir
    Path dataDir;

    @Test
    void aCorruptAdapterIsAServerFaultNamedWithoutPathsAndShownByGet() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=fragile",
                    SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":1,")).json();
            SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            Path weights = dataDir.resolve("tunedModels")
                    .resolve(server.tuning().store().get("p", "fragile").orElseThrow().uid())
                    .resolve("adapter").resolve("adapter_model.safetensors");
            byte[] good = Files.readAllBytes(weights);
            Files.write(weights, new byte[]{1, 2, 3});

            Http.Response r = http.post("/v1beta/tunedModels/fragile:generateContent", GENERATE);
            assertEquals(500, r.status(), r.body());
            JsonNode error = r.json().get("error");
            assertEquals("INTERNAL", error.get("status").asText());
            String message = error.get("message").asText();
            assertTrue(message.contains("tunedModels/fragile is damaged"), message);
            assertTrue(message.contains("request id"), message);
            assertFalse(message.contains(dataDir.toString()) || message.contains("/tunedModels/"), "no server paths: " + message);

            JsonNode got = http.get("/v1beta/tunedModels/fragile").json();
            assertEquals("FAILED", got.get("state").asText(), got.toString());
            assertTrue(got.get("error").get("message").asText().contains("adapter cannot be read"), got.toString());
            assertFalse(got.toString().contains(dataDir.toString()), got.toString());

            Files.write(weights, good);
            Http.Response healed = http.post("/v1beta/tunedModels/fragile:generateContent", GENERATE);
            assertEquals(200, healed.status(), healed.body());
            JsonNode after = http.get("/v1beta/tunedModels/fragile").json();
            assertEquals("ACTIVE", after.get("state").asText(), after.toString());
            assertFalse(after.has("error"), after.toString());
        }
    }
}
