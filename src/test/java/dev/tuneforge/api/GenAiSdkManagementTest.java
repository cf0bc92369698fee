package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.genai.Client;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.Model;
import com.google.genai.types.UpdateModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Google GenAI Java SDK's calls that manage a tuning job and its model, against a real server: tunings.cancel
 * (which posts to {@code tunedModels/ID:cancel}) and models.update (a PATCH without update mask).
 */
class GenAiSdkManagementTest {
    @TempDir
    Path dataDir;

    @Test
    void sdkCancelsAJobAndUpdatesAModel() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "sdk");
            String token = Callers.token(server.port(), server.auth().store(), "sdk");
            Client client = Client.builder().apiKey("unused: the bearer token is preferred")
                    .httpOptions(HttpOptions.builder().baseUrl("http://127.0.0.1:" + server.port())
                            .headers(Map.of("Authorization", "Bearer " + token)).build()).build();
            // 1,000 epochs at batch 1: still training when it is cancelled
            Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=long", SeedWalkthroughTest.SEED_BODY
                    .replace("\"epoch_count\":5,", "\"epoch_count\":1000,").replace("\"batch_size\": 2", "\"batch_size\": 1"));
            assertEquals(200, created.status(), created.body());
            String operation = created.json().get("name").asText();

            client.tunings.cancel("tunedModels/long", null);

            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertEquals(1, done.get("error").get("code").asInt(), done.toString());
            assertEquals("FAILED", http.get("/v1beta/tunedModels/long").json().get("state").asText());

            Model updated = client.models.update("tunedModels/long", UpdateModelConfig.builder()
                    .displayName("renamed by the SDK").description("no update mask").build());
            assertEquals("renamed by the SDK", updated.displayName().orElseThrow(), updated.toString());
            JsonNode stored = http.get("/v1beta/tunedModels/long").json();
            assertEquals("renamed by the SDK", stored.get("displayName").asText());
            assertEquals("no update mask", stored.get("description").asText());
            assertTrue(stored.get("tuningTask").get("hyperparameters").get("epochCount").asInt() == 1000,
                    "fields the SDK did not send are kept: " + stored);
        }
    }
}
