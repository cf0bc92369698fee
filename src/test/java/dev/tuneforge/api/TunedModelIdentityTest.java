package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Iterator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a tuned model's id is: unique within its project only (another project's ids cannot be discovered by trying
 * them), and not the identity of its job (a model created with a deleted model's id starts afresh).
 */
class TunedModelIdentityTest {
    @TempDir
    Path dataDir;

    private static String body(int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",");
    }

    @Test
    void anIdTakenInAnotherProjectIsFreeHereAndTellsNothing() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http p1 = Callers.http(server, "p1");
            Http p2 = Callers.http(server, "p2");
            Http.Response first = p1.post("/v1beta/tunedModels?tunedModelId=shared-name", body(1));
            assertEquals(200, first.status(), first.body());
            Http.Response second = p2.post("/v1beta/tunedModels?tunedModelId=shared-name",
                    body(1).replace("number generator model", "p2's own"));
            assertEquals(200, second.status(), "another project's id must not answer ALREADY_EXISTS: " + second.body());

            JsonNode doneP1 = SeedWalkthroughTest.waitUntilDone(p1, first.json().get("name").asText());
            assertFalse(doneP1.has("error"), doneP1.toString());
            assertEquals("number generator model", p1.get("/v1beta/tunedModels/shared-name").json()
                    .get("displayName").asText());
            assertEquals("p2's own", p2.get("/v1beta/tunedModels/shared-name").json().get("displayName").asText());

            Http.Response again = p1.post("/v1beta/tunedModels?tunedModelId=shared-name", body(1));
            assertEquals(409, again.status(), "within its own project an id is taken: " + again.body());

            assertEquals(200, p2.delete("/v1beta/tunedModels/shared-name").status());
            assertEquals(404, p2.get("/v1beta/tunedModels/shared-name").status());
            assertEquals(200, p1.get("/v1beta/tunedModels/shared-name").status(), "p1's model is untouched");
            Http.Response generated = p1.post("/v1beta/tunedModels/shared-name:generateContent",
                    "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}");
            assertEquals(200, generated.status(), generated.body());
        }
    }

    @Test
    void aModelCreatedWithADeletedModelsIdIsNotCancelledByTheOldOnesDeletion() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            // deleted while queued behind a running job, and while training
            assertEquals(200, http.post("/v1beta/tunedModels?tunedModelId=first", body(200)).status());
            assertEquals(200, http.post("/v1beta/tunedModels?tunedModelId=reused", body(200)).status());
            assertEquals(200, http.delete("/v1beta/tunedModels/reused").status());
            assertEquals(200, http.delete("/v1beta/tunedModels/first").status());

            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=reused", body(2)).json();
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            assertFalse(done.has("error"), "the new job must not inherit the old one's cancellation: " + done);
            assertEquals(15, done.get("metadata").get("completedSteps").asInt());
            assertEquals("ACTIVE", http.get("/v1beta/tunedModels/reused").json().get("state").asText());

            // a cancelled, then deleted model's id
            JsonNode cancelled = http.post("/v1beta/tunedModels?tunedModelId=cancelled", body(200)).json();
            assertEquals(200, http.post("/v1beta/" + cancelled.get("name").asText() + ":cancel", "{}").status());
            SeedWalkthroughTest.waitUntilDone(http, cancelled.get("name").asText());
            assertEquals(200, http.delete("/v1beta/tunedModels/cancelled").status());
            JsonNode recreated = http.post("/v1beta/tunedModels?tunedModelId=cancelled", body(1)).json();
            assertNotEquals(cancelled.get("name").asText(), recreated.get("name").asText(), "a new operation");
            JsonNode recreatedDone = SeedWalkthroughTest.waitUntilDone(http, recreated.get("name").asText());
            assertFalse(recreatedDone.has("error"), recreatedDone.toString());
        }
    }

    @Test
    void readinessSaysReadyOrWhyNotAndNothingAboutTenants() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            assertEquals(200, http.post("/v1beta/tunedModels?tunedModelId=a-model", body(1)).status());
            Http.Response ready = Http.anonymous(server.port()).get("/readyz");
            assertEquals(200, ready.status(), ready.body());
            JsonNode json = ready.json();
            assertEquals("ready", json.get("status").asText());
            for (Iterator<String> fields = json.fieldNames(); fields.hasNext(); ) {
                assertEquals("status", fields.next(), "readiness says ready or why not, nothing else: " + json);
            }
            assertTrue(Http.anonymous(server.port()).get("/healthz").body().contains("ok"));
        }
    }
}
