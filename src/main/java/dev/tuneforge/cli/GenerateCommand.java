package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** Calls generateContent on a tuned or base model and prints the text. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text with a tuned or base model.")
public final class GenerateCommand implements Runnable {
    @Parameters(index = "0", paramLabel = "MODEL", description = "tunedModels/ID or models/ID")
    String model;

    @Parameters(index = "1", paramLabel = "TEXT", description = "the input")
    String text;

    @Mixin
    ServerOptions server;

    @Option(names = "--temperature", description = "sampling temperature (0 = greedy)")
    Double temperature;

    @Option(names = "--max-output-tokens", description = "maximum tokens to generate")
    Integer maxOutputTokens;

    @Option(names = "--json", description = "print the whole response")
    boolean json;

    @Override
    public void run() {
        ObjectNode body = new ObjectMapper().createObjectNode();
        body.putArray("contents").addObject().putArray("parts").addObject().put("text", text);
        ObjectNode g = body.putObject("generationConfig");
        if (temperature != null) {
            g.put("temperature", temperature);
        }
        if (maxOutputTokens != null) {
            g.put("maxOutputTokens", maxOutputTokens);
        }
        String name = model.contains("/") ? model : "tunedModels/" + model;
        JsonNode r = server.client().post("/v1beta/" + name + ":generateContent", body.toString());
        if (json) {
            System.out.println(ApiClient.pretty(r));
        } else {
            JsonNode c = r.path("candidates").get(0);
            System.out.println(c.path("content").path("parts").get(0).path("text").asText());
            System.err.println("[" + c.path("finishReason").asText() + ", " + r.path("usageMetadata").path("totalTokenCount").asInt() + " tokens]");
        }
    }
}
