package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.data.SeedExamples;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Over real HTTP, what a job trains from and at which rate: {@code tunedModelSource} starts from the source model's
 * adapter, and {@code learningRateMultiplier} scales the default learning rate (0.001). Jobs compared run in
 * different projects under the same id, which gives them the same seed (data order, dropout, initial adapter).
 */
class TuningFromSourceTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void tuningATunedModelFurtherStartsFromItsAdapter() throws Exception {
        Http src = Callers.http(server, "src");
        Http fresh = Callers.http(server, "fresh");
        JsonNode source = tune(src, "source", body(50, 4, hp -> hp.put("learning_rate", 0.001)));
        String sourceAnswer = greedy(src, "tunedModels/source", "twenty two");
        assertEquals("twenty three", sourceAnswer, "the source has learnt its task");

        // one epoch at the smallest learning rate barely moves an adapter: what it starts from shows
        ObjectNode further = body(1, 4, hp -> hp.put("learning_rate", 1e-6));
        further.remove("base_model");
        further.putObject("tuned_model_source").put("tuned_model", "tunedModels/source");
        JsonNode continued = tune(src, "further", further);
        JsonNode fromBase = tune(fresh, "further", body(1, 4, hp -> hp.put("learning_rate", 1e-6)));

        double continuedFirstLoss = firstLoss(continued);
        double fromBaseFirstLoss = firstLoss(fromBase);
        assertTrue(continuedFirstLoss < 0.5 * fromBaseFirstLoss, "the first step's loss from the source adapter ("
                + continuedFirstLoss + ") is far below a fresh adapter's (" + fromBaseFirstLoss + ")");
        assertTrue(continuedFirstLoss <= 2 * lastLoss(source) + 0.05, "and near the source's last loss ("
                + lastLoss(source) + "): " + continuedFirstLoss);
        assertEquals(sourceAnswer, greedy(src, "tunedModels/further", "twenty two"));
        JsonNode shown = src.get("/v1beta/tunedModels/further").json();
        assertEquals("tunedModels/source", shown.get("tunedModelSource").get("tunedModel").asText(), shown.toString());
        assertEquals(source.get("baseModel").asText(), shown.get("tunedModelSource").get("baseModel").asText());
    }

    @Test
    void learningRateMultiplierScalesTheDefaultLearningRate() throws Exception {
        JsonNode byRate = tune(Callers.http(server, "by-rate"), "lr", body(2, 4, hp -> hp.put("learning_rate", 0.003)));
        JsonNode byMultiplier = tune(Callers.http(server, "by-multiplier"), "lr",
                body(2, 4, hp -> hp.put("learning_rate_multiplier", 3.0)));
        JsonNode byDefault = tune(Callers.http(server, "by-default"), "lr", body(2, 4, hp -> { }));

        assertEquals(3.0, byMultiplier.get("tuningTask").get("hyperparameters").get("learningRateMultiplier").asDouble());
        assertEquals(0.001, byDefault.get("tuningTask").get("hyperparameters").get("learningRate").asDouble());
        JsonNode rateLosses = byRate.get("tuningTask").get("snapshots");
        JsonNode multiplierLosses = byMultiplier.get("tuningTask").get("snapshots");
        JsonNode defaultLosses = byDefault.get("tuningTask").get("snapshots");
        assertEquals(rateLosses.size(), multiplierLosses.size());
        for (int i = 0; i < rateLosses.size(); i++) {
            assertEquals(rateLosses.get(i).get("meanLoss").asDouble(), multiplierLosses.get(i).get("meanLoss").asDouble(),
                    1e-9, "step " + (i + 1) + ": a multiplier of 3 trains as a learning rate of 0.003");
        }
        assertEquals(rateLosses.get(0).get("meanLoss").asDouble(), defaultLosses.get(0).get("meanLoss").asDouble(), 1e-9,
                "the same start");
        assertNotEquals(rateLosses.get(rateLosses.size() - 1).get("meanLoss").asDouble(),
                defaultLosses.get(defaultLosses.size() - 1).get("meanLoss").asDouble(), "another rate trains otherwise");
    }

    /** Creates tuned model {@code id} and waits for it: its final TunedModel, which must be ACTIVE. */
    private static JsonNode tune(Http http, String id, ObjectNode body) throws InterruptedException {
        Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=" + id, body.toString());
        assertEquals(200, created.status(), created.body());
        JsonNode op = SeedWalkthroughTest.waitUntilDone(http, created.json().get("name").asText());
        assertTrue(op.has("response"), op.toString());
        JsonNode model = http.get("/v1beta/tunedModels/" + id).json();
        assertEquals("ACTIVE", model.get("state").asText(), model.toString());
        return model;
    }

    private static String greedy(Http http, String model, String text) {
        Http.Response r = http.post("/v1beta/" + model + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":\""
                + text + "\"}]}],\"generationConfig\":{\"temperature\":0}}");
        assertEquals(200, r.status(), r.body());
        return r.json().get("candidates").get(0).get("content").get("parts").get(0).get("text").asText();
    }

    private static double firstLoss(JsonNode model) {
        return model.get("tuningTask").get("snapshots").get(0).get("meanLoss").asDouble();
    }

    private static double lastLoss(JsonNode model) {
        JsonNode snapshots = model.get("tuningTask").get("snapshots");
        return snapshots.get(snapshots.size() - 1).get("meanLoss").asDouble();
    }

    private static ObjectNode body(int epochs, int batchSize, Consumer<ObjectNode> rate) {
        ObjectNode body = JSON.createObjectNode().put("display_name", "numbers").put("base_model", "models/stories-260k");
        ObjectNode task = body.putObject("tuning_task");
        ObjectNode hp = task.putObject("hyperparameters").put("epoch_count", epochs).put("batch_size", batchSize);
        rate.accept(hp);
        ArrayNode examples = task.putObject("training_data").putObject("examples").putArray("examples");
        SeedExamples.NUMBERS.forEach(e -> examples.addObject().put("text_input", e.input()).put("output", e.output()));
        return body;
    }
}
