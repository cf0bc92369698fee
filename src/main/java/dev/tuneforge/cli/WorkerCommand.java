package dev.tuneforge.cli;

import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeWorker;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/** Runs a tuning worker until interrupted. */
@Command(name = "worker", mixinStandardHelpOptions = true,
        description = "Run tuning jobs from the shared database (PostgreSQL), no HTTP: any number of workers and API "
                + "servers may share one database and artifact directory.")
public final class WorkerCommand implements Runnable {
    @Option(names = "--data-dir", description = "the artifact directory the API servers share (default: ${DEFAULT-VALUE})")
    Path dataDir = Path.of("data");

    @Option(names = "--config", description = "JSON config file: base models, LoRA settings, database, jobs")
    Path config;

    @Option(names = "--tuning-slots", paramLabel = "N", description = "jobs this worker trains at once (default: "
            + "jobs.slots of the config, else 1)")
    Integer slots;

    @Mixin
    DatabaseOption database = new DatabaseOption();

    @Override
    public void run() {
        ServerConfig cfg = config == null ? ServerConfig.defaults(dataDir, TuneforgeCli.home())
                : ServerConfig.read(config, dataDir);
        cfg = cfg.withDatabase(database.settings(cfg.database()));
        if (slots != null) {
            cfg = cfg.withJobs(cfg.jobs().withSlots(slots));
        }
        dev.tuneforge.engine.kernel.OpenMpWaitPolicy.chooseFor(cfg.catalog().dtypes());
        TuneforgeWorker worker = new TuneforgeWorker(cfg).start();
        System.out.println("Tuneforge worker " + worker.tuning().jobs().workerName() + " runs up to " + cfg.jobs().slots()
                + " tuning job(s) at once (database " + cfg.database().describe(dataDir) + "; artifacts in "
                + dataDir.toAbsolutePath() + "; picks a dead worker's job within "
                + cfg.jobs().worstCaseDetection().toSeconds() + " s, then trains it again once the base model and the "
                + "job's last checkpoint are loaded)");
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            worker.close();
            stopped.countDown();
        }));
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
