package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.store.artifacts.ArtifactStoreSettings;
import dev.tuneforge.store.artifacts.S3Server;
import dev.tuneforge.tuning.TuningService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A job stopped mid-training with its checkpoints in S3 resumes, in the next server, from the stored checkpoint
 * (it trains only the steps after it) and ends with the same loss curve as a run that was never stopped.
 */
class S3ResumeTest {
    private static final int CHECKPOINT_EVERY = 5;

    @TempDir
    Path tmp;

    @Test
    void aStoppedJobResumesFromItsCheckpointInTheBucket() throws Exception {
        try (S3Server s3 = new S3Server(Files.createDirectories(tmp.resolve("s3")))) {
            s3.createBucket("artifacts");
            ServerConfig defaults = ServerConfig.defaults(tmp.resolve("data"), Path.of("."));
            ServerConfig config = new ServerConfig(defaults.dataDir(), defaults.catalog(),
                    new TuningService.LoraSettings(8, 16, 0.05, CHECKPOINT_EVERY), defaults.auth(), defaults.serving(),
                    defaults.http(), defaults.quotas(), new ArtifactStoreSettings(null, s3.settings("artifacts", "")), defaults.database(),
                defaults.jobs());
            String body = SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":8,");
            String token;
            String operation;
            int stoppedAt;
            try (TuneforgeServer first = new TuneforgeServer(config).start("127.0.0.1", 0)) {
                token = Callers.token(first.port(), first.auth().store(), "p");
                Http http = new Http(first.port(), "p", token);
                operation = http.post("/v1beta/tunedModels?tunedModelId=resumed", body).json().get("name").asText();
                long deadline = System.currentTimeMillis() + 120_000;
                while (http.get("/v1/" + operation).json().at("/metadata/completedSteps").asInt() < 2 * CHECKPOINT_EVERY + 1) {
                    assertTrue(System.currentTimeMillis() < deadline, "training did not progress");
                    Thread.sleep(10);
                }
            }
            try (TuneforgeServer second = new TuneforgeServer(config).start("127.0.0.1", 0)) {
                Http http = new Http(second.port(), "p", token);
                JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
                assertFalse(done.has("error"), done.toString());
                int total = done.at("/metadata/totalSteps").asInt();
                double trainedHere = MetricsEndpointTest.value(Http.anonymous(second.port()).get("/metrics").body(),
                        "tuneforge_training_steps_total");
                stoppedAt = total - (int) trainedHere;
                assertTrue(stoppedAt >= 2 * CHECKPOINT_EVERY && stoppedAt % CHECKPOINT_EVERY == 0,
                        "resumed at a stored checkpoint, not from the start: " + stoppedAt + " of " + total);
                try (S3Client client = s3.client()) {
                    assertTrue(client.listObjectsV2(b -> b.bucket("artifacts")).contents().stream()
                            .noneMatch(o -> o.key().endsWith("checkpoint.safetensors")), "checkpoint removed when done");
                }

                Http other = new Http(second.port(), "q", Callers.token(second.port(), second.auth().store(), "q"));
                JsonNode straight = SeedWalkthroughTest.waitUntilDone(other, other.post(
                        "/v1beta/tunedModels?tunedModelId=resumed", body).json().get("name").asText());
                assertEquals(losses(straight), losses(done), "the same curve as a run never stopped");
            }
        }
    }

    private static List<Double> losses(JsonNode operation) {
        List<Double> out = new ArrayList<>();
        operation.at("/metadata/snapshots").forEach(s -> out.add(s.get("meanLoss").asDouble()));
        return out;
    }
}
