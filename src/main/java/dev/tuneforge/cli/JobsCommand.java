package dev.tuneforge.cli;

import dev.tuneforge.store.Database;
import dev.tuneforge.tuning.JobListing;
import dev.tuneforge.tuning.WorkerRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code tuneforge jobs}: the tuning jobs in the database, and the workers holding them with their heartbeats. */
@Command(name = "jobs", mixinStandardHelpOptions = true,
        description = "List the queued and running tuning jobs, the worker holding each, and every tuning worker with "
                + "its last heartbeat, slots and jobs.")
final class JobsCommand implements Callable<Integer> {
    @Option(names = "--data-dir", description = "the server's data directory, for its SQLite database (default: ${DEFAULT-VALUE})")
    Path dataDir = Path.of("data");

    @Mixin
    DatabaseOption database = new DatabaseOption();

    @Override
    public Integer call() {
        List<JobListing.Job> jobs;
        List<WorkerRegistry.Worker> workers;
        try (Database db = database.openExisting(dataDir)) {
            jobs = JobListing.list(db);
            workers = WorkerRegistry.list(db);
        }
        Instant now = Instant.now();
        Map<String, List<JobListing.Job>> byWorker = new LinkedHashMap<>();
        System.out.printf("%-50s %-8s %-28s %-10s %-11s %s%n", "MODEL", "STATE", "WORKER", "HEARTBEAT", "STEPS", "STARTS");
        for (JobListing.Job j : jobs) {
            System.out.printf("%-50s %-8s %-28s %-10s %-11s %d%n", j.model() == null ? "(deleted) " + j.uid() : j.model(),
                    j.running() ? "running" : "queued", j.running() ? j.worker() : "-",
                    j.running() ? ago(j.lastHeartbeat(), now) : "-", j.completedSteps() + "/" + j.totalSteps(), j.starts());
            if (j.running()) {
                byWorker.computeIfAbsent(j.worker(), w -> new java.util.ArrayList<>()).add(j);
            }
        }
        if (jobs.isEmpty()) {
            System.out.println("(no queued or running tuning jobs)");
        }
        if (workers.isEmpty()) {
            System.out.println("(no tuning workers)");
        }
        for (WorkerRegistry.Worker w : workers) {
            List<JobListing.Job> held = byWorker.getOrDefault(w.name(), List.of());
            System.out.println("worker " + w.name() + ": " + (w.stale(now) ? "STALE (no heartbeat for over "
                    + String.format(java.util.Locale.ROOT, "%.1f", w.staleAfter().toMillis() / 1000.0)
                    + " s: dead or paused)" : "live") + ", last heartbeat "
                    + ago(w.lastHeartbeat(), now) + ", " + held.size() + "/" + w.slots() + " slot(s) busy"
                    + (held.isEmpty() ? ", idle" : ", holds " + String.join(", ", held.stream().map(JobsCommand::name)
                    .toList())));
        }
        for (var e : byWorker.entrySet()) {
            if (workers.stream().noneMatch(w -> w.name().equals(e.getKey()))) {
                // the holder is gone from the worker table (it stopped); the engine revives its job once it is dead
                Instant last = e.getValue().stream().map(JobListing.Job::lastHeartbeat).filter(java.util.Objects::nonNull)
                        .max(Instant::compareTo).orElse(null);
                System.out.println("worker " + e.getKey() + ": not registered, last job heartbeat " + ago(last, now)
                        + ", holds " + String.join(", ", e.getValue().stream().map(JobsCommand::name).toList()));
            }
        }
        return 0;
    }

    private static String name(JobListing.Job j) {
        return j.model() == null ? "(deleted) " + j.uid() : j.model();
    }

    private static String ago(Instant t, Instant now) {
        return t == null ? "never" : Math.max(0, Duration.between(t, now).toSeconds()) + " s ago";
    }
}
