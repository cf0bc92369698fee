package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How quickly a running server answers while long generations run: the latency of {@code /healthz} and of a short
 * generateContent with 0, 2, 8... long generations in flight (each restarted as soon as it ends). A client of any
 * server, so one build can measure another.
 */
@Command(name = "bench-latency", mixinStandardHelpOptions = true,
        description = "Latency of /healthz and of a short generateContent on a running server while long generations run.")
public final class BenchLatencyCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--server", description = "server base URL (default: ${DEFAULT-VALUE})")
    String server = "http://127.0.0.1:8080";

    @Option(names = "--api-key", required = true, description = "an API key of the project that owns --model")
    String apiKey;

    @Option(names = "--model", description = "the model of the short requests (default: ${DEFAULT-VALUE})")
    String model = "models/stories-260k";

    @Option(names = "--long-model", description = "the model of the long generations (default: ${DEFAULT-VALUE})")
    String longModel = "models/stories-260k";

    @Option(names = "--long", split = ",", description = "long generations in flight, one round each (default: 0,2,8)")
    List<Integer> inFlight = List.of(0, 2, 8);

    @Option(names = "--long-tokens", description = "maxOutputTokens of a long generation (default: ${DEFAULT-VALUE})")
    int longTokens = 512;

    @Option(names = "--samples", description = "health checks and short requests per round (default: ${DEFAULT-VALUE})")
    int samples = 100;

    @Override
    public Integer call() throws Exception {
        if (samples < 1 || longTokens < 1 || inFlight.stream().anyMatch(n -> n < 0)) {
            throw new IllegalArgumentException("--samples and --long-tokens must be positive and --long not negative");
        }
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        String base = server.replaceAll("/+$", "");
        System.out.printf("server %s; short: %s, 8 tokens; long: %s, %d tokens%n", base, model, longModel, longTokens);
        for (int n : inFlight) {
            round(client, base, n);
        }
        return 0;
    }

    private void round(HttpClient client, String base, int longCount) throws Exception {
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicLong longTokensDone = new AtomicLong();
        AtomicLong longDone = new AtomicLong();
        List<Thread> longs = new ArrayList<>();
        for (int i = 0; i < longCount; i++) {
            int seed = i;
            longs.add(Thread.ofPlatform().daemon().start(() -> {
                while (running.get()) {
                    try {
                        JsonNode r = generate(client, base, longModel, "Once upon a time", longTokens, 1.0, seed);
                        longTokensDone.addAndGet(r.path("usageMetadata").path("candidatesTokenCount").asLong());
                        longDone.incrementAndGet();
                    } catch (Exception e) {
                        System.out.println("  long generation failed: " + e.getMessage());
                        return;
                    }
                }
            }));
        }
        Thread.sleep(longCount == 0 ? 0 : 1_000);
        List<Double> health = new ArrayList<>();
        List<Double> shortOnes = new ArrayList<>();
        HttpRequest healthz = HttpRequest.newBuilder(URI.create(base + "/healthz")).timeout(Duration.ofSeconds(60)).build();
        for (int i = 0; i < samples; i++) {
            long start = System.nanoTime();
            HttpResponse<String> h = client.send(healthz, HttpResponse.BodyHandlers.ofString());
            health.add((System.nanoTime() - start) / 1e6);
            if (h.statusCode() != 200) {
                throw new IOException("/healthz answered " + h.statusCode());
            }
            start = System.nanoTime();
            generate(client, base, model, Integer.toString(i), 8, 0.0, i);
            shortOnes.add((System.nanoTime() - start) / 1e6);
            Thread.sleep(20);
        }
        running.set(false);
        for (Thread t : longs) {
            t.join();
        }
        System.out.printf("%d long in flight: /healthz %s | short generateContent %s | long: %d done, %.0f tokens each%n",
                longCount, percentiles(health), percentiles(shortOnes), longDone.get(),
                longDone.get() == 0 ? 0.0 : (double) longTokensDone.get() / longDone.get());
    }

    private JsonNode generate(HttpClient client, String base, String target, String text, int tokens, double temperature,
                              int seed) throws IOException, InterruptedException {
        String body = JSON.createObjectNode().<com.fasterxml.jackson.databind.node.ObjectNode>set("contents",
                JSON.createArrayNode().add(JSON.createObjectNode().set("parts", JSON.createArrayNode()
                        .add(JSON.createObjectNode().put("text", text)))))
                .<com.fasterxml.jackson.databind.node.ObjectNode>set("generationConfig", JSON.createObjectNode()
                        .put("maxOutputTokens", tokens).put("temperature", temperature).put("seed", seed)).toString();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(base + "/v1beta/" + target
                        + ":generateContent")).timeout(Duration.ofSeconds(300)).header("x-goog-api-key", apiKey)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException(target + " answered " + r.statusCode() + ": " + r.body());
        }
        return JSON.readTree(r.body());
    }

    /** p50 / p95 / p99 in milliseconds. */
    static String percentiles(List<Double> millis) {
        List<Double> sorted = new ArrayList<>(millis);
        Collections.sort(sorted);
        return String.format("p50 %.1f ms, p95 %.1f ms, p99 %.1f ms", at(sorted, 0.50), at(sorted, 0.95), at(sorted, 0.99));
    }

    private static double at(List<Double> sorted, double quantile) {
        return sorted.get(Math.max(0, (int) Math.ceil(sorted.size() * quantile) - 1));
    }
}
