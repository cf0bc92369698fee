package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.train.TrainingExample;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Through the HTTP API: a tuned stories-260k answers the seed's inputs and then stops. */
class LearningToStopApiTest {
    @TempDir
    Path dataDir;

    @Test
    void tunedModelAnswersAndStops() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            String body = SeedWalkthroughTest.SEED_BODY.replace("\"batch_size\": 2,", "\"batch_size\": 4,")
                    .replace("\"epoch_count\":5,", "\"epoch_count\":50,");
            JsonNode op = http.post("/v1beta/tunedModels", body).json();
            JsonNode done = SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
            JsonNode snapshots = done.get("metadata").get("snapshots");
            double sum = 0;
            int n = 0;
            for (JsonNode s : snapshots) {
                if (s.get("epoch").asInt() == 50) {
                    sum += s.get("meanLoss").asDouble();
                    n++;
                }
            }
            assertTrue(n > 0 && sum / n < 0.2, "last epoch mean loss " + sum / n);
            String model = op.get("metadata").get("tunedModel").asText();
            int exactAndStopped = 0;
            StringBuilder report = new StringBuilder();
            for (TrainingExample e : SeedExamples.NUMBERS) {
                JsonNode c = http.post("/v1beta/" + model + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":\""
                        + e.input() + "\"}]}],\"generationConfig\":{\"temperature\":0}}").json().get("candidates").get(0);
                String text = c.get("content").get("parts").get(0).get("text").asText();
                String finish = c.get("finishReason").asText();
                report.append(e.input()).append(" -> ").append(text).append(" ").append(finish).append('\n');
                if (text.equals(e.output()) && finish.equals("STOP")) {
                    exactAndStopped++;
                }
            }
            assertTrue(exactAndStopped >= 14, exactAndStopped + " of 15:\n" + report);
        }
    }
}
