package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.store.artifacts.ArtifactStoreSettings;
import dev.tuneforge.store.artifacts.S3Server;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two API processes over one database and one S3 artifact store (S3Proxy): the server that trained a model keeps
 * its adapter only in the bucket; the other replica loads it from there on first use and caches it; a patch or
 * delete through the first is seen by the second at once. /readyz says when the store stops answering.
 */
class SharedArtifactStoreTest {
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],"
            + "\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":6}}";

    @TempDir
    Path tmp;

    @Test
    void aSecondReplicaServesTheAdapterFromTheStoreAndSeesPatchesAndDeletesAtOnce() throws Exception {
        Path dataDir = tmp.resolve("data");
        try (S3Server s3 = new S3Server(Files.createDirectories(tmp.resolve("s3")))) {
            s3.createBucket("artifacts");
            ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                    .withArtifactStore(new ArtifactStoreSettings(null, s3.settings("artifacts", "tf")));
            try (TuneforgeServer first = new TuneforgeServer(config).start("127.0.0.1", 0);
                 Replica second = new Replica(config)) {
                String token = Callers.token(first.port(), first.auth().store(), "p");
                Http viaFirst = new Http(first.port(), "p", token);
                Http viaSecond = new Http(second.port(), "p", token);
                JsonNode op = viaFirst.post("/v1beta/tunedModels?tunedModelId=shared",
                        SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":1,")).json();
                JsonNode done = SeedWalkthroughTest.waitUntilDone(viaFirst, op.get("name").asText());
                assertFalse(done.has("error"), done.toString());
                String uid = first.tuning().store().get("p", "shared").orElseThrow().uid();

                List<String> keys = keys(s3, "artifacts");
                assertTrue(keys.contains("tf/tunedModels/" + uid + "/adapter.json"), keys.toString());
                assertFalse(Files.exists(dataDir.resolve("tunedModels").resolve(uid)),
                        "nothing of the model on the local disk");

                Http.Response fromFirst = viaFirst.post("/v1beta/tunedModels/shared:generateContent", GENERATE);
                Http.Response fromSecond = viaSecond.post("/v1beta/tunedModels/shared:generateContent", GENERATE);
                assertEquals(200, fromSecond.status(), fromSecond.body());
                assertEquals(text(fromFirst), text(fromSecond), "both replicas answer with the same adapter");
                viaSecond.post("/v1beta/tunedModels/shared:generateContent", GENERATE);
                String metrics = Http.anonymous(second.port()).get("/metrics").body();
                assertEquals(1.0, MetricsEndpointTest.value(metrics, "cache_gets_total", "cache=\"adapters\"",
                        "result=\"miss\""), metrics);
                assertEquals(1.0, MetricsEndpointTest.value(metrics, "cache_gets_total", "cache=\"adapters\"",
                        "result=\"hit\""), metrics);

                assertEquals(200, viaFirst.patch("/v1beta/tunedModels/shared?updateMask=temperature",
                        "{\"temperature\": 0.25}").status());
                assertEquals(0.25, viaSecond.get("/v1beta/tunedModels/shared").json().get("temperature").asDouble());

                assertEquals(200, viaFirst.delete("/v1beta/tunedModels/shared").status());
                Http.Response afterDelete = viaSecond.post("/v1beta/tunedModels/shared:generateContent", GENERATE);
                assertEquals(404, afterDelete.status(), afterDelete.body());
                assertEquals(404, viaSecond.get("/v1beta/tunedModels/shared").status());
                assertEquals(List.of(), keys(s3, "artifacts").stream().filter(k -> k.contains(uid)).toList());
            }
        }
    }

    @Test
    void readinessSaysWhenTheArtifactStoreStopsAnswering() throws Exception {
        S3Server s3 = new S3Server(Files.createDirectories(tmp.resolve("s3")));
        s3.createBucket("artifacts");
        ServerConfig config = ServerConfig.defaults(tmp.resolve("data"), Path.of("."))
                .withArtifactStore(new ArtifactStoreSettings(null, s3.settings("artifacts", "")));
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            Http anonymous = Http.anonymous(server.port());
            assertEquals(200, anonymous.get("/readyz").status());
            s3.close();
            Http.Response r = anonymous.get("/readyz");
            assertEquals(503, r.status(), r.body());
            String reasons = r.json().get("reasons").toString();
            assertTrue(reasons.contains("the artifact store does not answer") && reasons.contains("cannot be reached"),
                    reasons);
        }
    }

    private static String text(Http.Response r) {
        assertEquals(200, r.status(), r.body());
        return r.json().at("/candidates/0/content/parts/0/text").asText();
    }

    private static List<String> keys(S3Server s3, String bucket) {
        try (S3Client client = s3.client()) {
            return client.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().map(S3Object::key)
                    .filter(k -> !k.endsWith("/")).toList();
        }
    }
}
