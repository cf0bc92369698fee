package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Restart during training, cancel, patch, delete, pagination. */
class TuningLifecycleTest {
    @TempDir
    Path dataDir;

    private static String body(int epochs) {
        return SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":" + epochs + ",");
    }

    @Test
    void aServerStoppedDuringTrainingResumesTheJobAfterRestart() throws Exception {
        String operation;
        String model;
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=resumed", body(20)).json();
            operation = op.get("name").asText();
            model = op.get("metadata").get("tunedModel").asText();
            long deadline = System.currentTimeMillis() + 60_000;
            while (http.get("/v1/" + operation).json().path("metadata").path("completedSteps").asInt() < 25) {
                assertTrue(System.currentTimeMillis() < deadline, "training did not progress");
                Thread.sleep(50);
            }
        }
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode mid = http.get("/v1beta/" + model).json();
            assertEquals("CREATING", mid.get("state").asText(), "a stopped job stays CREATING until it resumes");
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertFalse(done.has("error"), done.toString());
            JsonNode snapshots = done.get("metadata").get("snapshots");
            assertEquals(150, snapshots.size());
            for (int i = 0; i < snapshots.size(); i++) {
                assertEquals(i + 1, snapshots.get(i).get("step").asInt());
            }
            assertEquals("ACTIVE", http.get("/v1beta/" + model).json().get("state").asText());
            assertFalse(Files.exists(dataDir.resolve("tunedModels/resumed/checkpoint.safetensors")), "checkpoint removed");
            Http.Response g = http.post("/v1beta/" + model + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}");
            assertEquals(200, g.status(), g.body());
        }
    }

    @Test
    void cancelPatchDeleteAndPages() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=to-cancel", body(200)).json();
            String operation = op.get("name").asText();
            assertEquals(200, http.post("/v1beta/" + operation + ":cancel", "").status());
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertEquals(1, done.get("error").get("code").asInt());
            assertEquals("FAILED", http.get("/v1beta/tunedModels/to-cancel").json().get("state").asText());
            Http.Response use = http.post("/v1beta/tunedModels/to-cancel:generateContent", "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}");
            assertEquals(400, use.status());
            assertEquals("FAILED_PRECONDITION", use.json().get("error").get("status").asText());

            Http.Response patched = http.patch("/v1beta/tunedModels/to-cancel?updateMask=displayName,temperature",
                    "{\"display_name\":\"renamed\",\"temperature\":0.3}");
            assertEquals(200, patched.status(), patched.body());
            assertEquals("renamed", patched.json().get("displayName").asText());
            assertEquals(0.3, patched.json().get("temperature").asDouble());
            Http.Response badMask = http.patch("/v1beta/tunedModels/to-cancel?updateMask=baseModel", "{}");
            assertEquals(400, badMask.status());

            for (int i = 0; i < 3; i++) {
                assertEquals(200, http.post("/v1beta/tunedModels?tunedModelId=m" + i, body(1)).status());
            }
            JsonNode page1 = http.get("/v1beta/tunedModels?pageSize=2").json();
            assertEquals(2, page1.get("tunedModels").size());
            JsonNode page2 = http.get("/v1beta/tunedModels?pageSize=2&pageToken=" + page1.get("nextPageToken").asText()).json();
            assertEquals(2, page2.get("tunedModels").size());
            assertFalse(page2.has("nextPageToken"));
            assertEquals(400, http.get("/v1beta/tunedModels?pageToken=garbage").status());
            JsonNode renamed = http.get("/v1beta/tunedModels?filter=RENAMED").json();
            assertEquals(1, renamed.get("tunedModels").size());
            assertEquals("tunedModels/to-cancel", renamed.get("tunedModels").get(0).get("name").asText());
            assertEquals(4, http.get("/v1beta/tunedModels?filter=owner:me").json().get("tunedModels").size());
            assertFalse(http.get("/v1beta/tunedModels?filter=readers:everyone").json().has("tunedModels"));
            assertEquals(400, http.get("/v1beta/tunedModels?filter=color:blue").status());

            SeedWalkthroughTest.waitUntilDone(http, http.get("/v1beta/tunedModels/m2/operations").json()
                    .get("operations").get(0).get("name").asText());
            String uid = server.tuning().store().get("p", "m2").orElseThrow().uid();
            assertTrue(Files.exists(dataDir.resolve("tunedModels/" + uid + "/adapter/adapter_model.safetensors")));
            assertEquals(200, http.delete("/v1beta/tunedModels/m2").status());
            assertEquals(404, http.get("/v1beta/tunedModels/m2").status());
            assertFalse(Files.exists(dataDir.resolve("tunedModels/" + uid)), "files removed");
        }
    }

    @Test
    void aJobWhoseProcessKeepsDyingEndsFailedInsteadOfRetryingForever() throws Exception {
        String operation;
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            operation = http.post("/v1beta/tunedModels?tunedModelId=doomed", body(200)).json().get("name").asText();
            while (http.get("/v1/" + operation).json().path("metadata").path("completedSteps").asInt() < 2) {
                Thread.sleep(20);
            }
        }
        // an orderly stop does not count; simulate a job whose process died at every one of its starts
        try (var db = dev.tuneforge.store.TestDatabase.open(dataDir)) {
            db.jdbi().useHandle(h -> h.execute("UPDATE tuned_models SET attempts = ? WHERE id = 'doomed'",
                    dev.tuneforge.tuning.TuningService.MAX_ATTEMPTS));
        }
        try (TuneforgeServer server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertTrue(done.get("error").get("message").asText().contains("started 5 times"), done.toString());
            assertEquals("FAILED", http.get("/v1beta/tunedModels/doomed").json().get("state").asText());
        }
    }
}
