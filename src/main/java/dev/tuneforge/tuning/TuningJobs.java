package dev.tuneforge.tuning;

import com.github.kagkarlsson.scheduler.Scheduler;
import com.github.kagkarlsson.scheduler.SchedulerClient;
import com.github.kagkarlsson.scheduler.SchedulerName;
import com.github.kagkarlsson.scheduler.task.CompletionHandler;
import com.github.kagkarlsson.scheduler.task.TaskInstance;
import com.github.kagkarlsson.scheduler.task.helper.CustomTask;
import com.github.kagkarlsson.scheduler.task.helper.RecurringTask;
import com.github.kagkarlsson.scheduler.task.schedule.FixedDelay;
import com.github.kagkarlsson.scheduler.task.helper.Tasks;
import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Handle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Tuning jobs on db-scheduler, in the metadata database: a job is one execution of the task {@value #TASK}, named by
 * its tuned model's uid. Any process may queue jobs; a process that works ({@link #startWorking}) runs up to
 * {@code slots} of them at once, beats a heartbeat for each, and takes over jobs whose holder died. The engine
 * guarantees that one process at a time holds a job (optimistic locking on the execution's version).
 */
public final class TuningJobs implements AutoCloseable {
    public static final String TASK = "tuning-job";
    /** The recurring task that queues the job of any model left CREATING without one (its creator died between). */
    public static final String RECONCILE_TASK = "tuning-reconcile";
    private static final Logger LOG = LoggerFactory.getLogger(TuningJobs.class);

    /** What a run of a job asks of the engine: forget the job, or run it again at a time. */
    public sealed interface Next {
        /** The job is over (finished, failed, cancelled or deleted). */
        record Done() implements Next {
        }

        /** The job is to run again, by whichever worker, at {@code at}. */
        record RunAgain(Instant at) implements Next {
        }
    }

    private final Database db;
    private final JobSettings settings;
    private final CustomTask<Void> task;
    private final RecurringTask<Void> reconcile;
    private final SchedulerClient client;
    private final String workerName;
    private final WorkerRegistry registry;
    private Scheduler scheduler;
    private ScheduledExecutorService registryBeat;

    /**
     * {@code run}: runs the job of a uid and says what next; called on the engine's threads. {@code creating}: the
     * uids of models still being created, whose jobs the recurring reconcile task queues when missing.
     */
    public TuningJobs(Database db, JobSettings settings, Function<String, Next> run, Supplier<List<String>> creating) {
        this(db, settings, run, creating, ManagementFactory.getRuntimeMXBean().getName());
    }

    /** As above, holding jobs under {@code workerName} (unique among the processes sharing the database). */
    public TuningJobs(Database db, JobSettings settings, Function<String, Next> run, Supplier<List<String>> creating,
                      String workerName) {
        this.db = db;
        this.settings = settings;
        this.task = Tasks.custom(TASK, Void.class)
                // a job whose holder died runs again at once, on whichever worker finds it first
                .onDeadExecutionRevive()
                .execute((instance, context) -> complete(run.apply(instance.getId())));
        this.reconcile = Tasks.recurring(RECONCILE_TASK, FixedDelay.of(settings.poll().multipliedBy(10)))
                .execute((instance, context) -> creating.get().forEach(this::submit));
        var clientBuilder = SchedulerClient.Builder.create(db.dataSource(), task, reconcile);
        if (db.dialect() == Database.Dialect.SQLITE) {
            clientBuilder.jdbcCustomization(new SqliteJdbcCustomization());
        }
        this.client = clientBuilder.build();
        this.workerName = workerName;
        this.registry = new WorkerRegistry(db, workerName, settings.slots(),
                settings.heartbeat().multipliedBy(settings.missedHeartbeats()));
    }

    private static CompletionHandler<Void> complete(Next next) {
        return switch (next) {
            case Next.Done d -> (complete, ops) -> ops.remove();
            case Next.RunAgain again -> (complete, ops) -> ops.reschedule(complete, again.at());
        };
    }

    /** Queues the job of {@code uid} unless it is queued or running already. */
    public void submit(String uid) {
        TaskInstance<Void> instance = task.instance(uid);
        try {
            (scheduler != null ? scheduler : client).scheduleIfNotExists(instance, Instant.now());
        } catch (RuntimeException e) {
            // two processes queueing the same job at once: one wins, and the job is queued either way
            if (client.getScheduledExecution(instance).isEmpty()) {
                throw e;
            }
        }
    }

    /**
     * Queues the job of the new model {@code uid} in the transaction of {@code h} (the one that inserts the model), so
     * that the model and its job are stored together by one commit: the engine's row as db-scheduler writes it.
     * {@link #queued()} then tells this process's worker, once the transaction is committed.
     */
    public void queueIn(Handle h, String uid) {
        TaskInstance<Void> instance = task.instance(uid);
        h.createUpdate("INSERT INTO scheduled_tasks (task_name, task_instance, task_data, execution_time, picked, "
                        + "version, priority) VALUES (:task, :uid, NULL, :now, :no, 1, :priority)")
                .bind("task", TASK).bind("uid", uid).bind("now", java.sql.Timestamp.from(Instant.now()))
                .bind("no", false).bind("priority", instance.getPriority()).execute();
    }

    /** Has this process's worker (if it works) look for due jobs now, as after {@link #queueIn}. */
    public void queued() {
        if (scheduler != null) {
            scheduler.triggerCheckForDueExecutions();
        }
    }

    /**
     * Starts running jobs here, {@code settings.slots()} at a time. {@code onlyProcess}: this process is the only one
     * using the database (SQLite), so a job that a previous run of it held when it died is dead now, not in
     * {@code missedHeartbeats} heartbeats.
     */
    public void startWorking(boolean onlyProcess) {
        if (onlyProcess) {
            int released = db.jdbi().withHandle(h -> h.createUpdate("UPDATE scheduled_tasks SET picked = :no, "
                    + "picked_by = NULL, last_heartbeat = NULL, execution_time = :now WHERE picked")
                    .bind("no", false).bind("now", java.sql.Timestamp.from(Instant.now())).execute());
            if (released > 0) {
                LOG.info("{} job(s) held when this server last stopped run again", released);
            }
        }
        var builder = Scheduler.create(db.dataSource(), task).startTasks(reconcile);
        if (db.dialect() == Database.Dialect.SQLITE) {
            builder.jdbcCustomization(new SqliteJdbcCustomization());
        }
        scheduler = builder
                .threads(settings.slots())
                .pollingInterval(settings.poll())
                .heartbeatInterval(settings.heartbeat())
                .missedHeartbeatsLimit(settings.missedHeartbeats())
                .schedulerName(new SchedulerName.Fixed(workerName))
                .enableImmediateExecution()
                // a stopping worker's jobs stop at their next step and are queued again for the others
                .shutdownMaxWait(Duration.ofSeconds(60))
                .build();
        scheduler.start();
        registry.forgetLongDead();
        registry.beat();
        registryBeat = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "tuning-worker-heartbeat"));
        long every = settings.heartbeat().toMillis();
        registryBeat.scheduleWithFixedDelay(this::beat, every, every, TimeUnit.MILLISECONDS);
        LOG.info("tuning worker {} runs up to {} job(s) at once; a dead worker's job is picked by another within {} s "
                + "and trains again once that worker has loaded its base model and last checkpoint",
                workerName, settings.slots(), settings.worstCaseDetection().toSeconds());
    }

    private void beat() {
        try {
            registry.beat();
        } catch (RuntimeException e) {
            // the database is away: the engine's own heartbeats fail too, and this one resumes with them
            LOG.debug("worker heartbeat not recorded: {}", e.getMessage());
        }
    }

    /** The name this process holds jobs under (host and process id). */
    public String workerName() {
        return workerName;
    }

    /** Stops running jobs (running ones are asked to stop by the caller first) and waits for them. */
    @Override
    public void close() {
        if (scheduler != null) {
            registryBeat.shutdownNow();
            scheduler.stop();
            try {
                registry.remove();
            } catch (RuntimeException e) {
                LOG.warn("could not remove this worker from tuning_workers (listed as stale until a day old): {}",
                        e.getMessage());
            }
        }
    }
}
