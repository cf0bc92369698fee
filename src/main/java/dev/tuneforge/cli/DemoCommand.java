package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeServer;
import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.train.TrainingExample;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Starts an in-process server and runs the tutorial's walkthrough against it over HTTP: list, create, get,
 * poll the operation, generate. Then asks the tuned model every training input and some held-out ones.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the tuning tutorial's walkthrough against an in-process server on the bundled model.")
public final class DemoCommand implements Runnable {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--epochs", description = "epoch_count of the create request (default: ${DEFAULT-VALUE}; the "
            + "tutorial's 5 is too few for the 260K-parameter model to learn the answers and to stop)")
    int epochs = 50;

    @Option(names = "--batch-size", description = "batch_size (default: ${DEFAULT-VALUE}, as the tutorial's Python flavour)")
    int batchSize = 4;

    @Option(names = "--learning-rate", description = "learning_rate (default: ${DEFAULT-VALUE})")
    double learningRate = 0.001;

    @Option(names = "--data-dir", description = "data directory (default: a fresh temporary one)")
    Path dataDir;

    @Override
    public void run() {
        // the walkthrough prints every request itself; the server's per-request log lines would only repeat them
        System.setProperty("org.slf4j.simpleLogger.log.dev.tuneforge.api.ApiServer", "warn");
        System.setProperty("org.slf4j.simpleLogger.log.dev.tuneforge.tuning.TuningService", "warn");
        try {
            Path dir = dataDir != null ? dataDir : Files.createTempDirectory("tuneforge-demo");
            try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dir, TuneforgeCli.home())).start("127.0.0.1", 0)) {
                String base = "http://127.0.0.1:" + server.port();
                System.out.println("In-process server on " + base + ", data in " + dir);
                step("0. Credentials: tuneforge auth init --project my-project-id (a demo OAuth client), then "
                        + "tuneforge auth print-access-token (client-credentials grant at POST /oauth2/token)");
                var client = server.auth().store().createClient("my-project-id");
                Path clientFile = dir.resolve("client_secret.json");
                new ClientSecretFile(client.clientId(), client.clientSecret(), base + "/oauth2/token", "my-project-id")
                        .write(clientFile);
                String token = ClientSecretFile.read(clientFile).accessToken(null);
                System.out.println("wrote " + clientFile + "; access token " + token.substring(0, 16) + "... ("
                        + server.auth().tokens().ttl().toMinutes() + " minutes)");
                ApiClient api = new ApiClient(base, "my-project-id", token);
                JsonNode key = api.post("/v1beta/apiKeys", "{\"displayName\": \"demo\"}");
                System.out.println("API key " + key.path("name").asText() + " created for using the tuned model");
                walkthrough(api, api.withApiKey(key.path("keyString").asText()));
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private void walkthrough(ApiClient api, ApiClient withKey) {
        step("1. GET /v1beta/tunedModels");
        System.out.println(ApiClient.pretty(api.get("/v1beta/tunedModels")));

        step("2. POST /v1beta/tunedModels  (the tutorial's request: base_model models/gemini-1.0-pro-001, 15 examples, "
                + "epoch_count " + epochs + ", batch_size " + batchSize + ", learning_rate " + learningRate + ")");
        JsonNode op = api.post("/v1beta/tunedModels", createBody().toString());
        System.out.println(ApiClient.pretty(op));
        String model = op.path("metadata").path("tunedModel").asText();
        String operation = op.path("name").asText();

        step("3. GET /v1beta/" + model + "  | grep state");
        System.out.println("\"state\": \"" + api.get("/v1beta/" + model).path("state").asText() + "\",");

        step("4. Poll GET /v1/" + operation);
        JsonNode done = TuningProgress.follow(api, operation, op.path("metadata").path("totalSteps").asInt());
        if (done.has("error")) {
            System.out.println("tuning failed: " + ApiClient.pretty(done.get("error")));
            return;
        }
        JsonNode snaps = done.path("metadata").path("snapshots");
        System.out.printf(Locale.ROOT, "%.2f%% - %s%n", done.path("metadata").path("completedPercent").asDouble(),
                snaps.get(snaps.size() - 1));
        System.out.println("mean loss per epoch: " + epochLosses(snaps));
        System.out.println("\"state\": \"" + api.get("/v1beta/" + model).path("state").asText() + "\"");

        step("5. POST /v1beta/" + model + ":generateContent  {\"contents\": [{\"parts\": [{\"text\": \"LXIII\"}]}]}"
                + "  (with the API key)");
        System.out.println(ApiClient.pretty(withKey.post("/v1beta/" + model + ":generateContent", request("LXIII"))));

        step("The tuned model on every training input (greedy):");
        int exact = 0;
        for (TrainingExample e : SeedExamples.NUMBERS) {
            JsonNode c = withKey.post("/v1beta/" + model + ":generateContent", request(e.input())).path("candidates").get(0);
            String text = c.path("content").path("parts").get(0).path("text").asText();
            boolean ok = text.equals(e.output()) && c.path("finishReason").asText().equals("STOP");
            exact += ok ? 1 : 0;
            System.out.printf(Locale.ROOT, "  %-12s -> %-18s %-10s %s%n", e.input(), quote(text),
                    c.path("finishReason").asText(), ok ? "exact" : "expected " + quote(e.output()));
        }
        System.out.printf(Locale.ROOT, "  %d of %d answered exactly and stopped%n", exact, SeedExamples.NUMBERS.size());
        step("Held-out inputs (a 260K-parameter model does not generalise; printed as they come):");
        for (String input : SeedExamples.HELD_OUT) {
            JsonNode c = withKey.post("/v1beta/" + model + ":generateContent", request(input)).path("candidates").get(0);
            System.out.printf(Locale.ROOT, "  %-12s -> %-18s %s%n", input,
                    quote(c.path("content").path("parts").get(0).path("text").asText()), c.path("finishReason").asText());
        }
    }

    private ObjectNode createBody() {
        ObjectNode body = JSON.createObjectNode();
        body.put("display_name", "number generator model");
        body.put("base_model", "models/gemini-1.0-pro-001");
        ObjectNode task = body.putObject("tuning_task");
        task.putObject("hyperparameters").put("batch_size", batchSize).put("learning_rate", learningRate)
                .put("epoch_count", epochs);
        ArrayNode examples = task.putObject("training_data").putObject("examples").putArray("examples");
        for (TrainingExample e : SeedExamples.NUMBERS) {
            examples.addObject().put("text_input", e.input()).put("output", e.output());
        }
        return body;
    }

    private static String request(String text) {
        ObjectNode body = JSON.createObjectNode();
        body.putArray("contents").addObject().putArray("parts").addObject().put("text", text);
        body.putObject("generationConfig").put("temperature", 0);
        return body.toString();
    }

    private static String epochLosses(JsonNode snaps) {
        StringBuilder sb = new StringBuilder();
        int epoch = 0;
        double sum = 0;
        int n = 0;
        for (JsonNode s : snaps) {
            if (s.path("epoch").asInt() != epoch && n > 0) {
                sb.append(String.format(Locale.ROOT, "%d:%.3f ", epoch, sum / n));
                sum = 0;
                n = 0;
            }
            epoch = s.path("epoch").asInt();
            sum += s.path("meanLoss").asDouble();
            n++;
        }
        return sb.append(String.format(Locale.ROOT, "%d:%.3f", epoch, sum / n)).toString();
    }

    private static void step(String title) {
        System.out.println("\n== " + title);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
