package dev.tuneforge.cli;

import dev.tuneforge.api.PublicBaseUrl;
import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** Runs the HTTP server until interrupted. */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Run the Gemini-API-compatible tuning server.")
public final class ServeCommand implements Runnable {
    @Option(names = "--port", description = "port (default: ${DEFAULT-VALUE}; 0 picks a free one)")
    int port = 8080;

    @Option(names = "--host", description = "address to listen on (default: ${DEFAULT-VALUE})")
    String host = "127.0.0.1";

    @Option(names = "--data-dir", description = "database and tuned models (default: ${DEFAULT-VALUE})")
    Path dataDir = Path.of("data");

    @Option(names = "--config", description = "JSON config file: base models, aliases, LoRA settings, auth, http (TLS, "
            + "trusted proxies, limits)")
    Path config;

    @Option(names = "--public-url", description = "the URL clients reach the server at, for the discovery document's "
            + "endpoints (default: http.publicBaseUrl of the config, else http(s)://HOST:PORT, localhost for a wildcard host)")
    String publicUrl;

    @picocli.CommandLine.Mixin
    DatabaseOption database = new DatabaseOption();

    @Option(names = "--no-worker", description = "serve the API only; workers (`tuneforge worker`) on the shared "
            + "database tune")
    boolean noWorker;

    @Option(names = "--tuning-slots", paramLabel = "N", description = "jobs this server trains at once (default: "
            + "jobs.slots of the config, else 1)")
    Integer slots;

    @Override
    public void run() {
        ServerConfig cfg = config == null ? ServerConfig.defaults(dataDir, TuneforgeCli.home())
                : ServerConfig.read(config, dataDir);
        cfg = cfg.withDatabase(database.settings(cfg.database()));
        if (noWorker || slots != null) {
            cfg = cfg.withJobs(cfg.jobs().withSlots(noWorker ? 0 : slots));
        }
        if (publicUrl != null) {
            cfg = cfg.withHttp(cfg.http().withPublicBaseUrl(PublicBaseUrl.parse(publicUrl, "--public-url")));
        }
        dev.tuneforge.engine.kernel.OpenMpWaitPolicy.chooseFor(cfg.catalog().dtypes());
        TuneforgeServer server = new TuneforgeServer(cfg).start(host, port);
        System.out.println("Tuneforge listening on " + (cfg.http().servesTls() ? "https" : "http") + "://"
                + (host.contains(":") ? "[" + host + "]" : host) + ":" + server.port() + " (public URL "
                + server.publicBaseUrl() + "; data in " + dataDir.toAbsolutePath() + "; database "
                + cfg.database().describe(dataDir) + "; OpenMP workers: "
                + dev.tuneforge.engine.kernel.OpenMpWaitPolicy.describe() + ")");
        // freed native memory is kept for reuse (the launcher's glibc settings): handed back once the server is quiet
        dev.tuneforge.engine.kernel.IdleMemoryTrimmer trimmer = dev.tuneforge.engine.kernel.IdleMemoryTrimmer.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (trimmer != null) {
                trimmer.close();
            }
            server.close();
            stopped.countDown();
        }));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
