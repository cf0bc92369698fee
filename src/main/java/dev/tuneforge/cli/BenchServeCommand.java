package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.bench.RandomBaseDirectory;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.WeightDtype;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.http.HttpClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

/**
 * Serving many users at once, measured from outside: a {@code serve} child process on a random-weight base built
 * from a config.json, N tuned models of it (each trained one step through the API, so each has an adapter of its
 * own: the server's LoRA settings, rank 8 on every projection), and rounds of 1, 4, 16, 64 concurrent streaming
 * clients, each on its own tuned model, with the server's resident memory between them.
 */
@Command(name = "bench-serve", mixinStandardHelpOptions = true,
        description = "Concurrent streaming clients over HTTP against a serve child process, each on its own tuned "
                + "model of a random-weight base: throughput, latency, the server's memory.")
public final class BenchServeCommand implements Callable<Integer> {
    static final String BASE_ID = "bench-base";
    static final String PROJECT = "bench-serve";
    static final String MODEL_PREFIX = "bench-serve-";
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(arity = "1..*", paramLabel = "CONFIG", description = "Hugging Face config.json files")
    List<Path> configs;

    @Option(names = "--dtype", description = "the base's dtype in the server (the catalog's dtype: fp32, bf16, auto; "
            + "the weights file is bf16) (default: ${DEFAULT-VALUE})")
    String dtype = "bf16";

    @Option(names = "--prepared-weights", arity = "1", description = "whether the server maps the base's matrices "
            + "from a prepared file (its preparedWeights setting) (default: ${DEFAULT-VALUE})")
    boolean preparedWeights = true;

    @Option(names = "--adapter-dtype", description = "how the server holds the tuned models' adapters (its "
            + "serving.adapterDtype: auto, fp32 or bf16) (default: ${DEFAULT-VALUE})")
    String adapterDtype = "auto";

    @Option(names = "--clients", split = ",", description = "concurrent clients, one round each (default: 1,4,16,64)")
    List<Integer> clients = List.of(1, 4, 16, 64);

    @Option(names = "--tokens", description = "output tokens per request (maxOutputTokens, greedy) (default: ${DEFAULT-VALUE})")
    int tokens = 64;

    @Option(names = "--prompt-tokens", description = "prompt tokens per request, BOS included (default: ${DEFAULT-VALUE})")
    int promptTokens = 32;

    @Option(names = "--requests", description = "requests each client sends one after another in a round "
            + "(default: ${DEFAULT-VALUE})")
    int requests = 1;

    @Option(names = "--warmup-rounds", description = "untimed rounds of the largest --clients count (one request per "
            + "client) before the measured ones, so that no round pays for the JIT compiling the server's batch loop "
            + "(default: ${DEFAULT-VALUE})")
    int warmupRounds = 1;

    @Option(names = "--adapters", description = "tuned models (default: the largest --clients); client i uses the "
            + "i-th modulo this")
    Integer adapters;

    @Option(names = "--work-dir", description = "base models, the server's data and logs, kept for the next run "
            + "(default: ${DEFAULT-VALUE})")
    Path workDir = Path.of("bench-serve");

    @Option(names = "--launcher", description = "the tuneforge launcher script that starts the server "
            + "(default: the installation's)")
    Path launcher;

    @Option(names = "--server-java-opts", description = "JVM options of the server (TUNEFORGE_JAVA_OPTS), e.g. "
            + "-XX:NativeMemoryTracking=summary")
    String serverJavaOpts;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private PrintWriter out;
    private String[] words;

    @Override
    public Integer call() throws Exception {
        out = spec.commandLine().getOut();
        WeightDtype.parse(dtype, "--dtype");
        if (tokens < 2 || promptTokens < 2 || requests < 1 || clients.isEmpty() || clients.stream().anyMatch(n -> n < 1)
                || (adapters != null && adapters < 1)) {
            throw new IllegalArgumentException("--tokens and --prompt-tokens must be at least 2, --requests, "
                    + "--adapters and each of --clients at least 1");
        }
        int models = adapters != null ? adapters : Collections.max(clients);
        Path script = launcher != null ? launcher : TuneforgeCli.home().resolve("tuneforge");
        if (!Files.isExecutable(script)) {
            throw new IllegalArgumentException("--launcher: " + script + " is not an executable launcher script");
        }
        for (Path config : configs) {
            bench(config, script.toAbsolutePath(), models);
        }
        out.flush();
        return 0;
    }

    private void bench(Path configJson, Path script, int models) throws Exception {
        String stem = configJson.getFileName().toString().replaceFirst("\\.json$", "");
        Path dir = workDir.resolve(stem).toAbsolutePath();
        Path base = dir.resolve("base");
        out.printf("== %s (%s base in %s)%n", configJson, dtype, base);
        out.flush();
        long start = System.nanoTime();
        if (RandomBaseDirectory.ensure(configJson, base, 42)) {
            out.printf("wrote random bf16 weights and a %d-word tokenizer in %.1f s%n",
                    ModelConfig.read(configJson).vocabSize(), (System.nanoTime() - start) / 1e9);
        }
        Path serveConfig = writeServeConfig(dir, base, models);
        Path dataDir = dir.resolve("data");
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        ServeProcess server = ServeProcess.start(script, dataDir, serveConfig, dir.resolve("serve.log"), serverJavaOpts);
        try {
            Credentials creds = credentials(script, dir, dataDir, server);
            int trained = ensureTunedModels(creds, server, models);
            if (trained > 0) {
                // memory is measured on a server that has served only: training's is returned when a job ends, but
                // a fresh process shows what serving alone takes
                server.close();
                server = ServeProcess.start(script, dataDir, serveConfig, dir.resolve("serve.log"), serverJavaOpts);
            }
            ModelConfig config = ModelConfig.read(configJson);
            words = RandomBaseDirectory.vocabulary(config);
            rounds(http, server, creds.apiKey, models, config);
        } finally {
            server.close();
        }
    }

    private Path writeServeConfig(Path dir, Path base, int models) throws IOException {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("baseModels").addObject().put("id", BASE_ID).put("path", base.toString()).put("dtype", dtype);
        c.put("preparedWeights", preparedWeights);
        c.putObject("serving").put("adapterCacheSize", Math.max(32, models))
                .put("maxQueuedGenerations", Math.max(64, Collections.max(clients))).put("adapterDtype", adapterDtype);
        c.putObject("quotas").put("generateContentRequestsPerMinute", 1_000_000).put("tuningJobsInProgress", 1_000)
                .put("storedTunedModels", Math.max(100, models));
        c.putObject("jobs").put("pollSeconds", 1);
        Files.createDirectories(dir);
        Path file = dir.resolve("serve.json");
        JSON.writerWithDefaultPrettyPrinter().writeValue(file.toFile(), c);
        return file;
    }

    private record Credentials(ApiClient tuning, String apiKey) {
    }

    /** A fresh OAuth client of the bench's project (the server's URL changes each run) and an API key, by the CLI. */
    private Credentials credentials(Path script, Path dir, Path dataDir, ServeProcess server)
            throws IOException, InterruptedException {
        Path secret = dir.resolve("client_secret.json");
        ServeProcess.run(script, List.of("auth", "init", "--data-dir", dataDir.toString(), "--project", PROJECT,
                "--server", server.baseUrl(), "--output", secret.toString()));
        String key = ServeProcess.run(script, List.of("auth", "api-keys", "create", "--credentials", secret.toString(),
                "--display-name", "bench-serve")).trim();
        ClientSecretFile file = ClientSecretFile.read(secret);
        return new Credentials(new ApiClient(server.baseUrl(), PROJECT, file.accessToken(null)), key);
    }

    /** Creates the tuned models that are missing (one example, one step each) and waits for them; returns how many. */
    private int ensureTunedModels(Credentials creds, ServeProcess server, int models) throws InterruptedException {
        Set<String> active = listTunedModels(creds.tuning).stream()
                .filter(m -> m.path("state").asText().equals("ACTIVE")).map(m -> m.path("name").asText())
                .collect(Collectors.toSet());
        List<String> created = new ArrayList<>();
        long start = System.nanoTime();
        for (int i = 0; i < models; i++) {
            String name = "tunedModels/" + MODEL_PREFIX + i;
            if (active.contains(name)) {
                continue;
            }
            try {
                creds.tuning.delete("/v1beta/" + name);
            } catch (ApiClient.ApiError e) {
                if (e.status != 404) {
                    throw e;
                }
            }
            ObjectNode body = JSON.createObjectNode();
            body.put("display_name", "bench-serve adapter " + i).put("base_model", "models/" + BASE_ID);
            ObjectNode task = body.putObject("tuning_task");
            task.putObject("hyperparameters").put("batch_size", 1).put("epoch_count", 1).put("learning_rate", 0.001);
            task.putObject("training_data").putObject("examples").putArray("examples").addObject()
                    .put("text_input", "w" + (10 + i) + " w" + (11 + i)).put("output", "w" + (12 + i));
            creds.tuning.post("/v1beta/tunedModels?tunedModelId=" + MODEL_PREFIX + i, body.toString());
            created.add(name);
        }
        if (created.isEmpty()) {
            out.printf("%d tuned models of %s already there%n", models, BASE_ID);
            return 0;
        }
        for (String name : created) {
            while (true) {
                JsonNode m = creds.tuning.get("/v1beta/" + name);
                String state = m.path("state").asText();
                if (state.equals("ACTIVE")) {
                    break;
                }
                if (state.equals("FAILED")) {
                    throw new IllegalStateException(name + " failed to train: " + m);
                }
                Thread.sleep(200);
            }
        }
        out.printf("trained %d tuned models (one step each, the server's LoRA settings) in %.1f s; restarting the "
                + "server for the measurements%n", created.size(), (System.nanoTime() - start) / 1e9);
        out.flush();
        return created.size();
    }

    private static List<JsonNode> listTunedModels(ApiClient api) {
        List<JsonNode> all = new ArrayList<>();
        String token = "";
        do {
            JsonNode page = api.get("/v1beta/tunedModels?pageSize=100" + (token.isEmpty() ? "" : "&pageToken=" + token));
            page.path("tunedModels").forEach(all::add);
            token = page.path("nextPageToken").asText("");
        } while (!token.isEmpty());
        return all;
    }

    private void rounds(HttpClient http, ServeProcess server, String apiKey, int models, ModelConfig config)
            throws Exception {
        Thread.sleep(1_000);
        out.printf("server pid %d at %s; idle (fresh, no adapter loaded): %s%n", server.pid(), server.baseUrl(),
                memory(server));
        long start = System.nanoTime();
        StreamedGeneration probe = null;
        for (int i = 0; i < models; i++) {
            probe = StreamedGeneration.run(http, server.baseUrl(), apiKey, model(i), prompt(config, i), 2);
        }
        // and one full-length request, so that the first round does not pay for the JIT compiling the decoder
        StreamedGeneration.run(http, server.baseUrl(), apiKey, model(0), prompt(config, -1), tokens);
        out.printf("loaded %d adapters (a 2-token request each, then one of %d tokens: %.1f s); prompt %d tokens, output up to %d tokens, "
                        + "%d request(s) per client; idle: %s%n", models, tokens, (System.nanoTime() - start) / 1e9,
                probe.promptTokens(), tokens, requests, memory(server));
        out.flush();
        int most = clients.stream().mapToInt(Integer::intValue).max().orElse(1);
        for (int w = 0; w < warmupRounds; w++) {
            long warmup = System.nanoTime();
            round(http, server, apiKey, most, models, config, 1, null);
            out.printf("warm-up round of %d clients (not counted): %.1f s%n", most, (System.nanoTime() - warmup) / 1e9);
            out.flush();
        }
        for (int n : clients) {
            boolean reset = server.resetPeak();
            round(http, server, apiKey, n, models, config, requests, reset);
        }
        // serve hands memory back once quiet (a G1 collection after 10 s idle, the C heap trimmed after 5 s)
        Thread.sleep(15_000);
        out.printf("idle 15 s after the last round: %s%n", memory(server));
        out.flush();
    }

    /** A round of n clients each sending {@code requests} requests; printed unless {@code peakReset} is null. */
    private void round(HttpClient http, ServeProcess server, String apiKey, int n, int models, ModelConfig config,
                       int requests, Boolean peakReset) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        List<Future<List<StreamedGeneration>>> futures = new ArrayList<>();
        long start = System.nanoTime();
        for (int c = 0; c < n; c++) {
            int client = c;
            futures.add(pool.submit(() -> {
                List<StreamedGeneration> done = new ArrayList<>();
                for (int r = 0; r < requests; r++) {
                    done.add(StreamedGeneration.run(http, server.baseUrl(), apiKey, model(client % models),
                            prompt(config, client * requests + r), tokens));
                }
                return done;
            }));
        }
        List<StreamedGeneration> all = new ArrayList<>();
        try {
            for (Future<List<StreamedGeneration>> f : futures) {
                all.addAll(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
        double wall = (System.nanoTime() - start) / 1e9;
        if (peakReset == null) {
            return;
        }
        long total = all.stream().mapToLong(StreamedGeneration::tokens).sum();
        double perRequest = all.stream().mapToDouble(g -> g.tokens() / g.seconds()).average().orElse(0);
        // a request whose first token is EOS (random weights, greedy) has no first text to time
        List<Double> ttft = all.stream().map(StreamedGeneration::firstTokenMillis).filter(t -> t >= 0).toList();
        long empty = all.size() - ttft.size();
        List<Double> gaps = all.stream().flatMap(g -> g.tokenGapMillis().stream()).toList();
        out.printf("%3d clients: %5d tokens in %6.1f s | aggregate %7.1f tok/s | per request %6.1f tok/s | "
                        + "TTFT p50 %7.0f ms, p95 %7.0f ms | per token p50 %6.1f ms, p95 %6.1f ms | server RSS %s%n",
                n, total, wall, total / wall, perRequest, quantile(ttft, 0.50), quantile(ttft, 0.95),
                quantile(gaps, 0.50), quantile(gaps, 0.95), memory(server) + (peakReset ? "" : " (peak since start)")
                        + (empty == 0 ? "" : " | " + empty + " of " + all.size() + " requests ended at once (EOS)"));
        out.flush();
    }

    private static String model(int i) {
        return "tunedModels/" + MODEL_PREFIX + i;
    }

    /** {@code --prompt-tokens} tokens with BOS: ordinary words, different for each request number. */
    private String prompt(ModelConfig config, int request) {
        int count = promptTokens - (config.bosTokenId() == null ? 0 : 1);
        int ordinary = config.vocabSize() - 16;
        StringBuilder sb = new StringBuilder();
        for (int w = 0; w < count; w++) {
            int id = 8 + (int) Math.floorMod(1_000_003L * request + 7919L * w, (long) ordinary);
            sb.append(w == 0 ? "" : " ").append(words[id]);
        }
        return sb.toString();
    }

    private static String memory(ServeProcess server) {
        long[] m = server.residentAndPeak();
        return String.format(java.util.Locale.ROOT, "peak %.0f MB, now %.0f MB", m[1] / 1e6, m[0] / 1e6);
    }

    static double quantile(List<Double> values, double q) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(Math.max(0, (int) Math.ceil(sorted.size() * q) - 1));
    }
}
