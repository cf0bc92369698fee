package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.store.artifacts.ArtifactStoreSettings;
import dev.tuneforge.store.artifacts.S3Server;
import dev.tuneforge.tuning.TuningService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The S3 store stops answering while a job trains and a model waits to be served: the job waits instead of
 * failing and finishes once the store is back; generateContent answers UNAVAILABLE meanwhile without marking the
 * model damaged; /readyz says why.
 */
class S3OutageTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],"
            + "\"generationConfig\":{\"maxOutputTokens\":4}}";

    @TempDir
    Path tmp;

    @Test
    void jobsWaitOutAnOutageAndServingSaysUnavailable() throws Exception {
        Path objects = Files.createDirectories(tmp.resolve("s3"));
        S3Server s3 = new S3Server(objects);
        int port = s3.endpoint().getPort();
        s3.createBucket("artifacts");
        ServerConfig defaults = ServerConfig.defaults(tmp.resolve("data"), Path.of("."));
        ServerConfig config = new ServerConfig(defaults.dataDir(), defaults.catalog(),
                new TuningService.LoraSettings(8, 16, 0.05, 5), defaults.auth(), defaults.serving(), defaults.http(),
                defaults.quotas(), new ArtifactStoreSettings(null, s3.settings("artifacts", "")), defaults.database(),
                defaults.jobs());
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            SeedWalkthroughTest.waitUntilDone(http, http.post("/v1beta/tunedModels?tunedModelId=ready",
                    SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":1,")).json()
                    .get("name").asText());
            String operation = http.post("/v1beta/tunedModels?tunedModelId=training",
                    SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":8,")).json()
                    .get("name").asText();
            long deadline = System.currentTimeMillis() + 120_000;
            while (http.get("/v1/" + operation).json().at("/metadata/completedSteps").asInt() < 2) {
                assertTrue(System.currentTimeMillis() < deadline, "training did not progress");
                Thread.sleep(10);
            }

            s3.close();
            Http.Response unavailable = http.post("/v1beta/tunedModels/ready:generateContent", GENERATE);
            assertEquals(503, unavailable.status(), unavailable.body());
            assertEquals("UNAVAILABLE", unavailable.json().at("/error/status").asText());
            JsonNode ready = http.get("/v1beta/tunedModels/ready").json();
            assertEquals("ACTIVE", ready.get("state").asText(), "not damaged: " + ready);

            Http.Response readyz = Http.anonymous(server.port()).get("/readyz");
            assertEquals(503, readyz.status());
            assertTrue(readyz.body().contains("the artifact store does not answer"), readyz.body());
            while (server.tuning().storageProblem() == null) {
                assertTrue(System.currentTimeMillis() < deadline, "the job never met the outage");
                Thread.sleep(20);
            }
            assertEquals("CREATING", http.get("/v1beta/tunedModels/training").json().get("state").asText(),
                    "waiting, not failed");

            s3 = new S3Server(objects, port);
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertFalse(done.has("error"), done.toString());
            assertEquals(done.at("/metadata/totalSteps").asInt(), done.at("/metadata/snapshots").size());
            assertEquals(200, http.post("/v1beta/tunedModels/training:generateContent", GENERATE).status());
            assertEquals(200, http.post("/v1beta/tunedModels/ready:generateContent", GENERATE).status());
            assertEquals(200, Http.anonymous(server.port()).get("/readyz").status());
        } finally {
            s3.close();
        }
    }
}
