package dev.tuneforge.tuning;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.lora.ServedAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.train.BatchSchedule;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.TrainingCancelledException;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.engine.train.TrainingOptions;
import dev.tuneforge.quota.QuotaSettings;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.Snapshot;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.store.artifacts.ArtifactStoreException;
import org.jdbi.v3.core.JdbiException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Tuning as durable jobs: create validates and stores the tuned model (CREATING) and queues its job in the job
 * engine ({@link TuningJobs}, in the database); a worker (this process or any other on the same database) trains it,
 * recording a snapshot per step and checkpoints, then stores the adapter and marks it ACTIVE, or FAILED with the
 * error. A job whose worker stopped or died resumes from its last checkpoint on whichever worker takes it.
 * <p>
 * A job whose storage fails (the database or the data directory cannot be written: disk full, read-only) is
 * neither failed nor dropped: it is queued again with a growing wait, resuming from its last checkpoint once writes
 * succeed again; meanwhile {@link #storageProblem()} says what is wrong.
 * <p>
 * A cancel or delete made through any process reaches the job at its next step, wherever it runs: the step's record
 * reads the model's row back.
 */
public final class TuningService implements AutoCloseable {
    public static final double DEFAULT_LEARNING_RATE = 0.001;
    /** Starts of one job (first run plus resumes after restarts) before it is failed instead of retried again. */
    public static final int MAX_ATTEMPTS = 5;
    private static final Logger LOG = LoggerFactory.getLogger(TuningService.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    /** LoRA settings of this server. */
    public record LoraSettings(int rank, double alpha, double dropout, int checkpointEvery) {
        public static LoraSettings defaults() {
            return new LoraSettings(8, 16, 0.05, 10);
        }
    }

    /** How a run of a job ended. */
    private enum Outcome { FINISHED, STORAGE_UNAVAILABLE, STOPPED }

    private final TunedModelStore store;
    private final ArtifactStore artifacts;
    private final BaseModelCatalog catalog;
    private final LoraSettings lora;
    private final StorageRetry retry;
    private final Quotas quotas;
    private final TuningJobs jobs;
    /** How long each job whose storage failed waits before its next try, doubling while it keeps failing. */
    private final Map<String, Duration> storageWaits = new ConcurrentHashMap<>();
    /** Uids of jobs asked to stop (cancelled or deleted): a job's own id, never shared with a later model. */
    private final Set<String> cancelRequests = ConcurrentHashMap.newKeySet();
    /** Uids whose last start ended without the process dying but could not be taken back in the database. */
    private final Set<String> startsToUndo = ConcurrentHashMap.newKeySet();
    private final AdapterCache adapters;
    private final TuningMetrics metrics;
    private volatile String storageProblem;
    private volatile boolean shuttingDown;

    public TuningService(Database db, ArtifactStore artifacts, BaseModelCatalog catalog, LoraSettings lora,
                         JobSettings jobSettings) {
        this(db, artifacts, catalog, lora, jobSettings, StorageRetry.defaults(), new AdapterCache(AdapterCache.DEFAULT_SIZE),
                TuningMetrics.none(), new Quotas(QuotaSettings.defaults()));
    }

    public TuningService(Database db, ArtifactStore artifacts, BaseModelCatalog catalog, LoraSettings lora,
                         JobSettings jobSettings, StorageRetry retry, AdapterCache adapters, TuningMetrics metrics,
                         Quotas quotas) {
        this.adapters = adapters;
        this.metrics = metrics;
        this.quotas = quotas;
        this.store = new TunedModelStore(db);
        this.artifacts = artifacts;
        this.catalog = catalog;
        this.lora = lora;
        this.retry = retry;
        this.jobs = new TuningJobs(db, jobSettings, this::runJob, store::creating);
    }

    /**
     * Queues every job left CREATING that is not queued (a process that died between storing a model and queueing
     * its job) and, when {@code work}, starts running jobs in this process. {@code onlyProcess}: no other process
     * uses the database (SQLite).
     */
    public void start(boolean work, boolean onlyProcess) {
        for (String uid : store.creating()) {
            jobs.submit(uid);
        }
        if (work) {
            jobs.startWorking(onlyProcess);
        }
    }

    public TunedModelStore store() {
        return store;
    }

    public BaseModelCatalog catalog() {
        return catalog;
    }

    /**
     * What keeps the worker from writing its jobs' progress (it waits and retries), or null when its last write
     * succeeded.
     */
    public String storageProblem() {
        return storageProblem;
    }

    public TunedModelRecord create(String project, TuningRequest req) {
        String baseModelName;
        String source = null;
        if (req.sourceTunedModel() != null) {
            String sourceId = stripPrefix(req.sourceTunedModel(), "tunedModels/");
            TunedModelRecord src = store.get(project, sourceId)
                    .orElseThrow(() -> new ServiceException(ServiceException.Code.NOT_FOUND,
                            "tuned_model_source.tuned_model " + req.sourceTunedModel() + " not found"));
            if (src.state() != TunedModelRecord.State.ACTIVE) {
                throw new ServiceException(ServiceException.Code.FAILED_PRECONDITION,
                        "tuned_model_source.tuned_model " + src.name() + " is " + src.state() + ", not ACTIVE");
            }
            baseModelName = src.baseModel();
            source = src.name();
        } else {
            baseModelName = req.baseModel().startsWith("models/") ? req.baseModel() : "models/" + req.baseModel();
            if (catalog.resolve(baseModelName) == null) {
                throw new ServiceException(ServiceException.Code.NOT_FOUND, "base_model " + req.baseModel()
                        + " not found; GET /v1beta/models lists the base models of this server");
            }
        }
        BaseModelCatalog.Entry base = catalog.resolve(baseModelName);
        // loading the base now (downloading a Hub model on first use) makes an unreadable base model fail this
        // request rather than the queued job, and tokenizes the examples as training will
        BaseModel loaded = catalog.load(base);
        long trainingTokens = TrainingTokens.count(loaded.promptFormat(), loaded.model().config().maxPositionEmbeddings(),
                req.examples(), req.epochCount());
        String id = req.tunedModelId() != null ? req.tunedModelId() : TunedModelIds.fromDisplayName(req.displayName());
        String now = Instant.now().toString();
        double lr = req.learningRate() != null ? req.learningRate()
                : DEFAULT_LEARNING_RATE * (req.learningRateMultiplier() != null ? req.learningRateMultiplier() : 1.0);
        int totalSteps = BatchSchedule.totalSteps(req.examples().size(), req.epochCount(), req.batchSize());
        TunedModelRecord record = new TunedModelRecord(TunedModelIds.uid(), id, project, TunedModelIds.random(12),
                req.displayName(), req.description(), baseModelName, source, TunedModelRecord.State.CREATING, now, now,
                req.temperature(), req.topP(), req.topK(), req.epochCount(), req.batchSize(), req.learningRate(),
                req.learningRateMultiplier(), lr, examplesJson(req.examples()), totalSteps, 0, null, null, null,
                null, false, null);
        // the model and its queued job in one commit
        if (!store.insert(record, usage -> quotas.admitTuningJob(project, trainingTokens, usage.tunedModels(),
                usage.creating()), h -> jobs.queueIn(h, record.uid()))) {
            throw new ServiceException(ServiceException.Code.ALREADY_EXISTS, "tunedModels/" + id + " already exists");
        }
        jobs.queued();
        return record;
    }

    /** Asks the model's job to stop; it ends FAILED with a CANCELLED error. */
    public void cancel(TunedModelRecord r) {
        cancelRequests.add(r.uid());
        store.requestCancel(r.uid());
    }

    /** Deletes the tuned model and its files; its job, running or queued, stops. */
    public boolean delete(TunedModelRecord r) {
        if (!r.done()) {
            cancelRequests.add(r.uid());
        }
        adapters.evict(r.uid());
        boolean deleted = store.delete(r.uid());
        // the model is gone once its row is; files the store cannot remove now are only left over
        removeLeftovers(r.uid());
        return deleted;
    }

    /**
     * The tuned model's adapter, loaded once and shared by requests. An adapter that cannot be read marks the model
     * damaged (until it can be read again) and throws {@link DamagedModelException}, which names the model but not
     * where its files are; the log has the cause. Held for the caller, who must {@link ServedAdapter#release} it when
     * the request is done (its memory can be freed only then).
     */
    public ServedAdapter adapter(TunedModelRecord r) {
        BaseModel base = baseOf(r);
        ServedAdapter adapter = adapters.get(r.uid(), uid -> load(r, base));
        if (r.damaged()) {
            try {
                recordDamage(r, null);
            } catch (RuntimeException e) {
                adapter.release();
                throw e;
            }
            LOG.info("the adapter of {} can be read again", r.name());
        }
        return adapter;
    }

    private ServedAdapter load(TunedModelRecord r, BaseModel base) {
        try {
            return artifacts.readAdapter(r.uid(), dir -> PeftAdapterFormat.loadForServing(dir, base.model(),
                    adapters.dtype()));
        } catch (ArtifactStoreException e) {
            // the store does not answer: nothing is known about the adapter itself
            LOG.error("the adapter of {} cannot be fetched from the artifact store ({})", r.name(),
                    artifacts.describe(), e);
            throw new ServiceException(ServiceException.Code.UNAVAILABLE, "the artifact store is unavailable; "
                    + "retry later");
        } catch (RuntimeException e) {
            LOG.error("the adapter of {} (uid {}) in the artifact store ({}) cannot be read", r.name(), r.uid(),
                    artifacts.describe(), e);
            String reason = "its adapter cannot be read (" + PublicMessages.withoutPaths(e.getMessage()) + ")";
            recordDamage(r, reason);
            throw new DamagedModelException(r.name(), reason);
        }
    }

    private void recordDamage(TunedModelRecord r, String reason) {
        try {
            store.markDamaged(r.uid(), reason, Instant.now().toString());
        } catch (JdbiException e) {
            LOG.warn("cannot record the state of {}'s adapter: {}", r.name(), e.getMessage());
        }
    }

    public BaseModel baseOf(TunedModelRecord r) {
        BaseModelCatalog.Entry e = catalog.resolve(r.baseModel());
        if (e == null) {
            throw new ServiceException(ServiceException.Code.FAILED_PRECONDITION, "base model " + r.baseModel()
                    + " of " + r.name() + " is no longer configured");
        }
        return catalog.load(e);
    }

    public static List<TrainingExample> examples(TunedModelRecord r) {
        try {
            List<TrainingExample> out = new ArrayList<>();
            for (JsonNode e : JSON.readTree(r.trainingExamplesJson())) {
                out.add(new TrainingExample(e.get("textInput").asText(), e.get("output").asText()));
            }
            return out;
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("stored training data of " + r.name() + " is corrupt", e);
        }
    }

    /** Runs the job of {@code uid} once, on one of the job engine's threads, and tells the engine what next. */
    private TuningJobs.Next runJob(String uid) {
        Outcome outcome = run(uid);
        return switch (outcome) {
            case FINISHED -> {
                // a stop request outlives a pause or a shutdown, never its job
                cancelRequests.remove(uid);
                storageWaits.remove(uid);
                yield new TuningJobs.Next.Done();
            }
            case STORAGE_UNAVAILABLE -> {
                Duration wait = storageWaits.compute(uid, (k, previous) -> previous == null ? retry.first()
                        : retry.next(previous));
                yield new TuningJobs.Next.RunAgain(Instant.now().plus(wait));
            }
            // this process stops: any worker may take the job at once
            case STOPPED -> new TuningJobs.Next.RunAgain(Instant.now());
        };
    }

    private Outcome run(String uid) {
        TunedModelRecord r;
        try {
            r = store.byUid(uid).orElse(null);
        } catch (JdbiException e) {
            return storageFailed(uid, "reading the job", e, false);
        }
        if (r == null) {
            removeLeftovers(uid);
            return Outcome.FINISHED;
        }
        if (r.done()) {
            return Outcome.FINISHED;
        }
        if (shuttingDown) {
            return Outcome.STOPPED;
        }
        boolean started = false;
        try {
            if (r.cancelRequested() || cancelRequests.contains(uid)) {
                throw new TrainingCancelledException(r.completedSteps());
            }
            int attempt = store.markStarted(uid, Instant.now().toString(), startsToUndo.remove(uid));
            started = true;
            if (attempt > MAX_ATTEMPTS) {
                store.markFailed(uid, 13, "tuning failed: the job was started " + MAX_ATTEMPTS
                        + " times and its process ended each time before it finished", Instant.now().toString());
                artifacts.deleteCheckpoint(uid);
                LOG.error("{} failed: started {} times without finishing", r.name(), MAX_ATTEMPTS);
                return Outcome.FINISHED;
            }
            train(r);
            storageRecovered();
            return Outcome.FINISHED;
        } catch (TrainingCancelledException e) {
            return cancelledOrStopped(r, started);
        } catch (JdbiException | UncheckedIOException e) {
            if (deletedMeanwhile(uid)) {
                return Outcome.FINISHED;
            }
            return storageFailed(uid, "running " + r.name(), e, started);
        } catch (RuntimeException | Error e) {
            LOG.error("tuning {} failed", r.name(), e);
            try {
                store.markFailed(uid, 13, "tuning failed: " + PublicMessages.withoutPaths(e.getMessage()),
                        Instant.now().toString());
            } catch (JdbiException storage) {
                return storageFailed(uid, "recording the failure of " + r.name(), storage, true);
            }
            return Outcome.FINISHED;
        } finally {
            long released = dev.tuneforge.engine.kernel.FreedMemory.release();
            if (released > 0) {
                LOG.info("returned {} MB of freed training memory to the system", released >> 20);
            }
        }
    }

    private void train(TunedModelRecord r) {
        String uid = r.uid();
        BaseModel base = baseOf(r);
        long[] added = base.promptFormat().addedTokenIds();
        TrainingOptions options = new TrainingOptions(r.epochCount(), r.batchSize(), r.effectiveLearningRate(),
                r.id().hashCode(), new LoraConfig(lora.rank(), lora.alpha(), lora.dropout(), LoraConfig.ALL_PROJECTIONS,
                added), 0.0, 1.0, lora.checkpointEvery(), 0);
        LoraTrainer trainer = new LoraTrainer(base.model(), base.promptFormat(), examples(r), options);
        if (r.sourceTunedModel() != null) {
            TunedModelRecord src = store.get(r.project(), stripPrefix(r.sourceTunedModel(), "tunedModels/"))
                    .orElseThrow(() -> new IllegalStateException("source " + r.sourceTunedModel() + " was deleted"));
            // read from the store, not through adapter(): an unreachable store is a storage outage to wait out here
            trainer.initializeFrom(artifacts.readAdapter(src.uid(), dir -> PeftAdapterFormat.load(dir, base.model())));
        }
        if (artifacts.readCheckpoint(uid, file -> {
            trainer.resumeFrom(file);
            return true;
        }).isPresent()) {
            LOG.info("{} resumes at step {}/{}", r.name(), trainer.completedSteps(), trainer.totalSteps());
        }
        // steps recorded after the checkpoint are recomputed (identically) from it
        int resumedAt = trainer.completedSteps();
        if (r.completedSteps() != resumedAt) {
            // (a fresh start has nothing to drop: no commit for it)
            store.truncateSnapshots(uid, resumedAt);
        }
        boolean[] stopRequested = {false};
        trainer.train(step -> {
                    metrics.stepDone(step);
                    // false: cancelled or deleted, possibly through another process
                    stopRequested[0] = !store.recordStep(uid, new Snapshot(step.step(), step.epoch(), step.meanLoss(),
                            step.computeTime().toString()), Instant.now().toString());
                    if (lora.checkpointEvery() > 0 && step.step() > resumedAt + lora.checkpointEvery()) {
                        // a step recorded and a checkpoint written since the resume: both stores take writes
                        storageRecovered();
                    }
                },
                t -> artifacts.saveCheckpoint(uid, t::saveCheckpoint),
                () -> shuttingDown || stopRequested[0] || cancelRequests.contains(uid));
        artifacts.saveAdapter(uid, dir -> PeftAdapterFormat.save(trainer.adapter(), dir, r.baseModel()));
        store.markActive(uid, Instant.now().toString());
        artifacts.deleteCheckpoint(uid);
        LOG.info("{} is ACTIVE after {} steps", r.name(), trainer.totalSteps());
    }

    private Outcome cancelledOrStopped(TunedModelRecord r, boolean started) {
        String uid = r.uid();
        if (deletedMeanwhile(uid)) {
            return Outcome.FINISHED;
        }
        try {
            if (!shuttingDown || cancelRequests.contains(uid)) {
                store.markFailed(uid, 1, "tuning was cancelled", Instant.now().toString());
                artifacts.deleteCheckpoint(uid);
                LOG.info("{} cancelled", r.name());
                return Outcome.FINISHED;
            }
            if (started) {
                store.undoStart(uid);
            }
            return Outcome.STOPPED;
        } catch (JdbiException | UncheckedIOException e) {
            return storageFailed(uid, "stopping " + r.name(), e, started);
        }
    }

    private boolean deletedMeanwhile(String uid) {
        try {
            if (store.byUid(uid).isEmpty()) {
                removeLeftovers(uid);
                return true;
            }
        } catch (JdbiException e) {
            // the database is unreadable too: the job is retried
        }
        return false;
    }

    private void removeLeftovers(String uid) {
        try {
            artifacts.delete(uid);
        } catch (UncheckedIOException e) {
            LOG.warn("cannot remove the files of deleted tuning job {}: {}", uid, e.getMessage());
        }
    }

    private Outcome storageFailed(String uid, String doing, RuntimeException e, boolean started) {
        if (started) {
            try {
                store.undoStart(uid);
            } catch (JdbiException again) {
                startsToUndo.add(uid);
            }
        }
        String problem = "the tuning worker cannot write to its storage: " + PublicMessages.withoutPaths(rootMessage(e));
        if (!problem.equals(storageProblem)) {
            LOG.error("{} while {}; the job waits and is retried from its last checkpoint", problem, doing, e);
        } else {
            LOG.warn("{} while {}; retrying later", problem, doing);
        }
        storageProblem = problem;
        return Outcome.STORAGE_UNAVAILABLE;
    }

    private void storageRecovered() {
        if (storageProblem != null) {
            storageProblem = null;
            LOG.info("the tuning worker can write to its storage again");
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        String message = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
        return t == e ? message : message + " (" + e.getClass().getSimpleName() + ")";
    }

    private static String examplesJson(List<TrainingExample> examples) {
        ArrayNode arr = JSON.createArrayNode();
        for (TrainingExample e : examples) {
            arr.addObject().put("textInput", e.input()).put("output", e.output());
        }
        return arr.toString();
    }

    private static String stripPrefix(String s, String prefix) {
        return s.startsWith(prefix) ? s.substring(prefix.length()) : s;
    }

    /** The job engine (the jobs CLI and tests look at it). */
    public TuningJobs jobs() {
        return jobs;
    }

    /**
     * Stops taking jobs; a running job stops at its next step and stays CREATING, queued again for any worker (or
     * this server's next start).
     */
    @Override
    public void close() {
        shuttingDown = true;
        jobs.close();
    }
}
