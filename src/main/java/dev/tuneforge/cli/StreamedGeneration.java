package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;

/**
 * One greedy {@code streamGenerateContent?alt=sse} request and its timings as the client sees them: time to the
 * first text, and the gap before each later token. The gap of an event carrying several tokens is shared out
 * evenly between them; the count of tokens in an event is its count of words, which is exact for
 * {@link dev.tuneforge.engine.bench.RandomBaseDirectory}'s word-per-token vocabulary.
 */
record StreamedGeneration(long startNanos, long endNanos, double firstTokenMillis, List<Double> tokenGapMillis,
                          int tokens, int promptTokens) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static StreamedGeneration run(HttpClient http, String baseUrl, String apiKey, String model, String prompt,
                                  int maxTokens) throws IOException, InterruptedException {
        ObjectNode body = JSON.createObjectNode();
        body.putArray("contents").addObject().put("role", "user").putArray("parts").addObject().put("text", prompt);
        body.putObject("generationConfig").put("maxOutputTokens", maxTokens).put("temperature", 0.0);
        HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl + "/v1beta/" + model
                        + ":streamGenerateContent?alt=sse")).timeout(Duration.ofMinutes(30))
                .header("x-goog-api-key", apiKey).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        long start = System.nanoTime();
        HttpResponse<Stream<String>> r = http.send(request, HttpResponse.BodyHandlers.ofLines());
        double first = -1;
        long last = 0;
        List<Double> gaps = new ArrayList<>();
        int tokens = -1;
        int promptTokens = -1;
        try (Stream<String> lines = r.body()) {
            if (r.statusCode() != 200) {
                throw new IOException(model + " answered " + r.statusCode() + ": " + String.join("\n", lines.toList()));
            }
            for (Iterator<String> it = lines.iterator(); it.hasNext(); ) {
                String line = it.next();
                if (!line.startsWith("data:")) {
                    continue;
                }
                long now = System.nanoTime();
                JsonNode event = JSON.readTree(line.substring(5));
                if (event.has("error")) {
                    throw new IOException(model + " failed while streaming: " + event.get("error"));
                }
                StringBuilder text = new StringBuilder();
                for (JsonNode part : event.path("candidates").path(0).path("content").path("parts")) {
                    text.append(part.path("text").asText(""));
                }
                int words = text.toString().isBlank() ? 0 : text.toString().trim().split("\\s+").length;
                if (words > 0) {
                    if (first < 0) {
                        first = (now - start) / 1e6;
                        words--;
                    } else if (words > 0) {
                        double each = (now - last) / 1e6 / words;
                        for (int i = 0; i < words; i++) {
                            gaps.add(each);
                        }
                    }
                    last = now;
                }
                JsonNode usage = event.path("usageMetadata");
                if (usage.has("candidatesTokenCount")) {
                    tokens = usage.get("candidatesTokenCount").asInt();
                }
                if (usage.has("promptTokenCount")) {
                    promptTokens = usage.get("promptTokenCount").asInt();
                }
            }
        }
        long end = System.nanoTime();
        if (tokens < 0) {
            throw new IOException(model + ": the stream ended without usageMetadata.candidatesTokenCount");
        }
        return new StreamedGeneration(start, end, first, gaps, tokens, promptTokens);
    }

    double seconds() {
        return (endNanos - startNanos) / 1e9;
    }
}
