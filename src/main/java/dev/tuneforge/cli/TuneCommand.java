package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.train.TrainingExample;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** Creates a tuned model from a file of examples on a running server and follows it to the end. */
@Command(name = "tune", mixinStandardHelpOptions = true,
        description = "Tune a model on a JSONL, CSV or JSON file of input/output pairs (a client of `serve`).")
public final class TuneCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "examples: .jsonl, .csv (header text_input,output) or .json")
    Path file;

    @Mixin
    ServerOptions server;

    @Option(names = "--base-model", description = "base model (default: ${DEFAULT-VALUE})")
    String baseModel = "models/gemini-1.5-flash-001-tuning";

    @Option(names = "--display-name", description = "display name (default: the file name)")
    String displayName;

    @Option(names = "--id", description = "tuned model id (default: derived from the display name)")
    String id;

    @Option(names = "--epochs", description = "epoch count (default: ${DEFAULT-VALUE})")
    int epochs = 5;

    @Option(names = "--batch-size", description = "batch size (default: ${DEFAULT-VALUE})")
    int batchSize = 4;

    @Option(names = "--learning-rate", description = "learning rate (default: ${DEFAULT-VALUE})")
    double learningRate = 0.001;

    @Override
    public Integer call() throws Exception {
        ObjectNode body = new ObjectMapper().createObjectNode();
        body.put("displayName", displayName != null ? displayName : file.getFileName().toString().replaceAll("\\.[^.]+$", ""));
        body.put("baseModel", baseModel);
        ObjectNode task = body.putObject("tuningTask");
        task.putObject("hyperparameters").put("epochCount", epochs).put("batchSize", batchSize).put("learningRate", learningRate);
        ArrayNode examples = task.putObject("trainingData").putObject("examples").putArray("examples");
        for (TrainingExample e : ExamplesFile.read(file)) {
            examples.addObject().put("textInput", e.input()).put("output", e.output());
        }
        ApiClient api = server.client();
        String path = "/v1beta/tunedModels" + (id == null ? "" : "?tunedModelId=" + URLEncoder.encode(id, StandardCharsets.UTF_8));
        JsonNode op = api.post(path, body.toString());
        String model = op.path("metadata").path("tunedModel").asText();
        System.out.println("Created " + model + " (" + examples.size() + " examples, "
                + op.path("metadata").path("totalSteps").asInt() + " steps)");
        JsonNode done = TuningProgress.follow(api, op.path("name").asText(), op.path("metadata").path("totalSteps").asInt());
        if (done.has("error")) {
            System.err.println(model + " FAILED: " + done.path("error").path("message").asText());
            return 1;
        }
        System.out.println(model + " is ACTIVE");
        return 0;
    }
}
