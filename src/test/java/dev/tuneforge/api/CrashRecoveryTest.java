package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A server process killed (SIGKILL) during training: the next server resumes the job from its checkpoint. */
class CrashRecoveryTest {
    @TempDir
    Path dataDir;

    @Test
    void killedServerResumesTrainingOnRestart() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), "dev.tuneforge.cli.TuneforgeCli", "serve", "--port",
                String.valueOf(port), "--data-dir", dataDir.toString()))
                .redirectErrorStream(true).redirectOutput(dataDir.resolve("server.log").toFile());
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        var client = new dev.tuneforge.auth.AuthStore(dev.tuneforge.store.Database.sqlite(dataDir.resolve("tuneforge.db")))
                .createClient("crash");
        Process process = pb.start();
        String token = null;
        String operation;
        String model;
        try {
            long deadline = System.currentTimeMillis() + 60_000;
            while (true) {
                try {
                    if (Http.anonymous(port).get("/healthz").status() == 200) {
                        break;
                    }
                } catch (AssertionError notYet) {
                    assertTrue(System.currentTimeMillis() < deadline, "server did not start");
                }
                Thread.sleep(100);
            }
            token = Callers.token(port, client.clientId(), client.clientSecret(), null);
            Http http = new Http(port, "crash", token);
            String body = SeedWalkthroughTest.SEED_BODY.replace("\"epoch_count\":5,", "\"epoch_count\":40,");
            JsonNode op = http.post("/v1beta/tunedModels?tunedModelId=crashed", body).json();
            operation = op.get("name").asText();
            model = op.get("metadata").get("tunedModel").asText();
            while (http.get("/v1/" + operation).json().path("metadata").path("completedSteps").asInt() < 25) {
                assertTrue(System.currentTimeMillis() < deadline, "training did not progress");
                Thread.sleep(20);
            }
        } finally {
            process.destroyForcibly().waitFor();
        }
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            // the signing keys live in the data directory: the token of the killed server stays valid
            Http http = new Http(server.port(), "crash", token);
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, operation);
            assertFalse(done.has("error"), done.toString());
            JsonNode snapshots = done.get("metadata").get("snapshots");
            assertEquals(300, snapshots.size());
            for (int i = 0; i < snapshots.size(); i++) {
                assertEquals(i + 1, snapshots.get(i).get("step").asInt());
            }
            assertEquals("ACTIVE", http.get("/v1beta/" + model).json().get("state").asText());
            assertEquals(200, http.post("/v1beta/" + model + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":\"8\"}]}]}").status());
        }
    }
}
