package dev.tuneforge.cli;

import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.Snapshot;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.JobListing;
import dev.tuneforge.tuning.JobSettings;
import dev.tuneforge.tuning.TuningJobs;
import dev.tuneforge.tuning.TuningRequest;
import dev.tuneforge.tuning.TuningService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code tuneforge bench-cluster}: on a PostgreSQL database, with worker processes of its own, the time a second
 * worker takes to take over a killed worker's job, job throughput with 1 and 2 workers, and the database's cost per
 * job and per step against a SmolLM2 4 x 64 training step.
 */
@Command(name = "bench-cluster", mixinStandardHelpOptions = true,
        description = "Benchmark the cluster on a PostgreSQL database: takeover time of a killed worker's job, "
                + "throughput with 1 and 2 worker processes, database overhead per job and per step.")
public final class BenchClusterCommand implements Runnable {
    @Mixin
    DatabaseOption database = new DatabaseOption();

    @Option(names = "--jobs", description = "jobs per throughput run (default: ${DEFAULT-VALUE})")
    int jobs = 4;

    @Option(names = "--epochs", description = "epochs of each throughput job on stories-260k (default: ${DEFAULT-VALUE})")
    int epochs = 20;

    @Option(names = "--heartbeat-seconds", description = "workers' heartbeat (default: ${DEFAULT-VALUE})")
    int heartbeatSeconds = 5;

    @Option(names = "--missed-heartbeats", description = "missed heartbeats before a job is dead (default: ${DEFAULT-VALUE})")
    int missedHeartbeats = 6;

    @Option(names = "--overhead-only", description = "measure only the database's cost per job and per step")
    boolean overheadOnly;

    @Option(names = "--step-ms", description = "a SmolLM2 4 x 64 training step on this machine, to compare the "
            + "overheads with (default: ${DEFAULT-VALUE}, measured by `tuneforge bench` on this VM: docs/engine.md)")
    double stepMs = 650;

    @Override
    public void run() {
        DatabaseSettings settings = database.settings(DatabaseSettings.sqlite());
        if (!settings.shared()) {
            throw new IllegalArgumentException("bench-cluster needs --database-url jdbc:postgresql://... (a scratch "
                    + "database: the bench adds and removes its own models)");
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("tuneforge-bench-cluster-");
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        JobSettings jobSettings = new JobSettings(Duration.ofSeconds(heartbeatSeconds), missedHeartbeats,
                Duration.ofSeconds(1), 1);
        ServerConfig config = ServerConfig.defaults(dir, TuneforgeCli.home()).withDatabase(settings).withJobs(jobSettings);
        try (Database db = Database.open(settings, dir); ArtifactStore artifacts = config.artifactStore().open(dir)) {
            overhead(db);
            if (overheadOnly) {
                return;
            }
            try (TuningService api = new TuningService(db, artifacts, config.catalog(), config.lora(), jobSettings)) {
                api.start(false, false);
                throughput(api, db, dir, 1);
                throughput(api, db, dir, 2);
                takeover(api, db, dir, jobSettings);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            deleteRecursively(dir);
        }
    }

    private static void deleteRecursively(Path dir) {
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            System.err.println("cannot remove " + dir + ": " + e.getMessage());
        }
    }

    /** The database's share of a job: its fixed statements, the engine's pick and completion, a step's record. */
    private void overhead(Database db) throws InterruptedException {
        TunedModelStore store = new TunedModelStore(db);
        int n = 50;
        String now = Instant.now().toString();
        List<String> uids = new ArrayList<>();
        CountDownLatch ran = new CountDownLatch(n);
        long stepNanos = 0;
        long fixedNanos = 0;
        int steps = 20;
        // the engine: n jobs queued (with their models), then picked, run (doing nothing) and removed by one worker
        JobSettings settings = new JobSettings(Duration.ofSeconds(5), 6, Duration.ofSeconds(1), 1);
        TuningJobs engine = new TuningJobs(db, settings, uid -> {
            ran.countDown();
            return new TuningJobs.Next.Done();
        }, List::of);
        // a job's statements as TuningService makes them: create and queue (one transaction), start, its steps, finish
        for (int i = 0; i < n; i++) {
            String uid = "bench-overhead-" + i + "-" + System.nanoTime();
            uids.add(uid);
            TunedModelRecord r = new TunedModelRecord(uid, uid, "bench", "op", null, null, "models/stories-260k", null,
                    TunedModelRecord.State.CREATING, now, now, null, null, null, 1, 1, null, null, 0.001, "[]", steps, 0,
                    null, null, null, null, false, null);
            long t0 = System.nanoTime();
            store.insert(r, usage -> {
            }, h -> engine.queueIn(h, uid));
            store.byUid(uid);
            store.markStarted(uid, now, false);
            long t1 = System.nanoTime();
            for (int s = 1; s <= steps; s++) {
                store.recordStep(uid, new Snapshot(s, 1, 1.0, now), now);
            }
            long t2 = System.nanoTime();
            store.markActive(uid, now);
            fixedNanos += (t1 - t0) + (System.nanoTime() - t2);
            stepNanos += t2 - t1;
        }
        long e0 = System.nanoTime();
        engine.startWorking(false);
        ran.await(120, TimeUnit.SECONDS);
        long engineNanos = System.nanoTime() - e0;
        engine.close();
        for (String uid : uids) {
            store.delete(uid);
        }
        double perJob = (fixedNanos + engineNanos) / 1e6 / n;
        double perStep = stepNanos / 1e6 / n / steps;
        System.out.printf("database overhead: %.2f ms per job (statements: create+queue, read, start, finish %.2f ms; job engine "
                        + "start, pick and remove %.2f ms) "
                        + "= %.2f%% of a SmolLM2 4 x 64 step (%.0f ms); %.2f ms per step record = %.2f%% of a step%n",
                perJob, fixedNanos / 1e6 / n, engineNanos / 1e6 / n, 100 * perJob / stepMs, stepMs, perStep,
                100 * perStep / stepMs);
    }

    private void throughput(TuningService api, Database db, Path dir, int workers) throws IOException, InterruptedException {
        List<Process> processes = startWorkers(dir, workers);
        try {
            awaitWorkers(dir, workers);
            long t0 = System.nanoTime();
            List<TunedModelRecord> created = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                created.add(api.create("bench", request("bench-" + workers + "w-" + i + "-" + System.nanoTime(), epochs)));
            }
            for (TunedModelRecord r : created) {
                awaitDone(api, r);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("throughput with %d worker process(es): %d jobs of %d steps in %.1f s = %.2f jobs/min%n",
                    workers, jobs, created.get(0).totalSteps(), seconds, jobs * 60 / seconds);
            for (TunedModelRecord r : created) {
                api.delete(api.store().byUid(r.uid()).orElseThrow());
            }
        } finally {
            stop(processes);
        }
    }

    private void takeover(TuningService api, Database db, Path dir, JobSettings settings)
            throws IOException, InterruptedException {
        List<Process> processes = startWorkers(dir, 2);
        try {
            awaitWorkers(dir, 2);
            TunedModelRecord r = api.create("bench", request("bench-takeover-" + System.nanoTime(), 60));
            JobListing.Job held = null;
            while (held == null) {
                held = JobListing.list(db).stream().filter(j -> j.uid().equals(r.uid()) && j.running()
                        && j.completedSteps() >= 15).findFirst().orElse(null);
                Thread.sleep(10);
            }
            String holder = held.worker();
            long pid = Long.parseLong(holder.substring(0, holder.indexOf('@')));
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
            long killed = System.nanoTime();
            int stepsAtKill = held.completedSteps();
            Double picked = null;
            while (true) {
                JobListing.Job j = JobListing.list(db).stream().filter(x -> x.uid().equals(r.uid())).findFirst().orElse(null);
                if (j != null && j.running() && !holder.equals(j.worker()) && picked == null) {
                    picked = (System.nanoTime() - killed) / 1e9;
                }
                TunedModelRecord now = api.store().byUid(r.uid()).orElseThrow();
                if (picked != null && (now.completedSteps() > stepsAtKill || now.done())) {
                    break;
                }
                Thread.sleep(20);
            }
            double stepped = (System.nanoTime() - killed) / 1e9;
            System.out.printf("takeover after kill -9 of the worker holding a job: detection (picked by the other "
                            + "worker) after %.1f s, against the settings' worst case of %d s (heartbeat %d s x (%d "
                            + "missed + 2) + poll 1 s); restart (base model and checkpoint load, up to the first step "
                            + "past the one it died at) %.1f s; training again after %.1f s in all%n", picked,
                    settings.worstCaseDetection().toSeconds(), heartbeatSeconds, missedHeartbeats, stepped - picked,
                    stepped);
            awaitDone(api, r);
            api.delete(api.store().byUid(r.uid()).orElseThrow());
        } finally {
            stop(processes);
        }
    }

    private static TuningRequest request(String id, int epochCount) {
        List<TrainingExample> examples = new ArrayList<>();
        for (int i = 1; i <= 8; i++) {
            examples.add(new TrainingExample(String.valueOf(i), String.valueOf(i + 1)));
        }
        return new TuningRequest(id, null, null, "models/gemini-1.0-pro-001", null, epochCount, 2, null, null, null,
                null, null, examples);
    }

    private static void awaitDone(TuningService api, TunedModelRecord r) throws InterruptedException {
        while (!api.store().byUid(r.uid()).orElseThrow().done()) {
            Thread.sleep(50);
        }
    }

    private List<Process> startWorkers(Path dir, int n) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path log = dir.resolve("worker-" + i + ".log");
            Files.deleteIfExists(log);
            List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules",
                    "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), TuneforgeCli.class.getName(),
                    "worker", "--data-dir", dir.toString(), "--database-url", database.url, "--config",
                    workerConfig(dir).toString()));
            out.add(new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start());
        }
        return out;
    }

    private Path workerConfig(Path dir) throws IOException {
        Path config = dir.resolve("worker.json");
        Files.writeString(config, """
                {"baseModels": [{"id": "stories-260k", "path": "%s"}],
                 "aliases": {"gemini-1.0-pro-001": "stories-260k"},
                 "jobs": {"heartbeatSeconds": %d, "missedHeartbeats": %d, "pollSeconds": 1}}
                """.formatted(TuneforgeCli.home().resolve("models/stories-260k").toAbsolutePath(), heartbeatSeconds,
                missedHeartbeats));
        return config;
    }

    private static void awaitWorkers(Path dir, int n) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        for (int i = 0; i < n; i++) {
            Path log = dir.resolve("worker-" + i + ".log");
            while (!Files.exists(log) || !Files.readString(log).contains("Tuneforge worker ")) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("a worker did not start: " + (Files.exists(log) ? Files.readString(log) : ""));
                }
                Thread.sleep(100);
            }
        }
    }

    private static void stop(List<Process> processes) throws InterruptedException {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
            }
        }
    }
}
