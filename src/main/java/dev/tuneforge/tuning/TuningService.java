package dev.tuneforge.tuning;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.train.BatchSchedule;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.TrainingCancelledException;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.engine.train.TrainingOptions;
import dev.tuneforge.store.ArtifactStore;
import dev.tuneforge.store.Snapshot;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.store.TunedModelStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Tuning as durable jobs: create validates and stores the tuned model (CREATING) and queues its job; a worker
 * trains it on the engine, recording a snapshot per step and checkpoints, then stores the adapter and marks it
 * ACTIVE, or FAILED with the error. Jobs still CREATING when the server starts resume from their last checkpoint.
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

    private final TunedModelStore store;
    private final ArtifactStore artifacts;
    private final BaseModelCatalog catalog;
    private final LoraSettings lora;
    private final ExecutorService worker;
    private final Set<String> cancelRequests = ConcurrentHashMap.newKeySet();
    private final Map<String, LoraAdapter> adapters = new ConcurrentHashMap<>();
    private volatile boolean shuttingDown;

    public TuningService(TunedModelStore store, ArtifactStore artifacts, BaseModelCatalog catalog, LoraSettings lora) {
        this.store = store;
        this.artifacts = artifacts;
        this.catalog = catalog;
        this.lora = lora;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "tuning-worker");
            t.setDaemon(true);
            return t;
        });
    }

    /** Queues every job left CREATING (after a restart or crash). */
    public void start() {
        for (String id : store.creating()) {
            LOG.info("resuming tuning job of tunedModels/{}", id);
            worker.submit(() -> run(id));
        }
    }

    public TunedModelStore store() {
        return store;
    }

    public BaseModelCatalog catalog() {
        return catalog;
    }

    public TunedModelRecord create(String project, TuningRequest req) {
        String baseModelName;
        String source = null;
        if (req.sourceTunedModel() != null) {
            String sourceId = stripPrefix(req.sourceTunedModel(), "tunedModels/");
            TunedModelRecord src = store.get(sourceId).filter(r -> r.project().equals(project))
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
        // reading the model's directory now (downloading a Hub model on first use) makes an unreadable base model
        // fail this request rather than the queued job
        catalog.directory(base);
        String id = req.tunedModelId() != null ? req.tunedModelId() : TunedModelIds.fromDisplayName(req.displayName());
        String now = Instant.now().toString();
        double lr = req.learningRate() != null ? req.learningRate()
                : DEFAULT_LEARNING_RATE * (req.learningRateMultiplier() != null ? req.learningRateMultiplier() : 1.0);
        int totalSteps = BatchSchedule.totalSteps(req.examples().size(), req.epochCount(), req.batchSize());
        TunedModelRecord record = new TunedModelRecord(id, project, TunedModelIds.random(12), req.displayName(),
                req.description(), baseModelName, source, TunedModelRecord.State.CREATING, now, now,
                req.temperature(), req.topP(), req.topK(), req.epochCount(), req.batchSize(), req.learningRate(),
                req.learningRateMultiplier(), lr, examplesJson(req.examples()), totalSteps, 0, null, null, null,
                null, false);
        if (!store.insert(record)) {
            throw new ServiceException(ServiceException.Code.ALREADY_EXISTS, "tunedModels/" + id + " already exists");
        }
        worker.submit(() -> run(id));
        return record;
    }

    /** Asks a running job to stop; it ends FAILED with a CANCELLED error. */
    public void cancel(String id) {
        cancelRequests.add(id);
        store.requestCancel(id);
    }

    /** Deletes the tuned model and its files; a running job stops. */
    public boolean delete(String id) {
        cancelRequests.add(id);
        adapters.remove(id);
        boolean deleted = store.delete(id);
        artifacts.delete(id);
        return deleted;
    }

    /** The tuned model's adapter, loaded once and shared by requests. */
    public LoraAdapter adapter(TunedModelRecord r) {
        return adapters.computeIfAbsent(r.id(), id -> PeftAdapterFormat.load(artifacts.adapterDir(id),
                baseOf(r).model()));
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

    private void run(String id) {
        TunedModelRecord r = store.get(id).orElse(null);
        if (r == null || r.done() || shuttingDown) {
            return;
        }
        try {
            if (r.cancelRequested()) {
                throw new TrainingCancelledException(r.completedSteps());
            }
            int attempt = store.markStarted(id, Instant.now().toString());
            if (attempt > MAX_ATTEMPTS) {
                store.markFailed(id, 13, "tuning failed: the job was started " + MAX_ATTEMPTS
                        + " times and its process ended each time before it finished", Instant.now().toString());
                artifacts.deleteCheckpoint(id);
                LOG.error("tunedModels/{} failed: started {} times without finishing", id, MAX_ATTEMPTS);
                return;
            }
            BaseModel base = baseOf(r);
            long[] added = base.promptFormat().addedTokenIds();
            TrainingOptions options = new TrainingOptions(r.epochCount(), r.batchSize(), r.effectiveLearningRate(),
                    id.hashCode(), new LoraConfig(lora.rank(), lora.alpha(), lora.dropout(), LoraConfig.ALL_PROJECTIONS, added),
                    0.0, 1.0, lora.checkpointEvery(), 0);
            LoraTrainer trainer = new LoraTrainer(base.model(), base.promptFormat(), examples(r), options);
            if (r.sourceTunedModel() != null) {
                TunedModelRecord src = store.get(stripPrefix(r.sourceTunedModel(), "tunedModels/"))
                        .orElseThrow(() -> new IllegalStateException("source " + r.sourceTunedModel() + " was deleted"));
                trainer.initializeFrom(adapter(src));
            }
            if (Files.isRegularFile(artifacts.checkpoint(id))) {
                trainer.resumeFrom(artifacts.checkpoint(id));
                store.truncateSnapshots(id, trainer.completedSteps());
                LOG.info("tunedModels/{} resumes at step {}/{}", id, trainer.completedSteps(), trainer.totalSteps());
            }
            trainer.train(step -> store.recordStep(id, new Snapshot(step.step(), step.epoch(), step.meanLoss(),
                            step.computeTime().toString()), Instant.now().toString()),
                    artifacts.checkpoint(id), () -> shuttingDown || cancelRequests.contains(id));
            PeftAdapterFormat.save(trainer.adapter(), artifacts.adapterDir(id), r.baseModel());
            store.markActive(id, Instant.now().toString());
            artifacts.deleteCheckpoint(id);
            LOG.info("tunedModels/{} is ACTIVE after {} steps", id, trainer.totalSteps());
        } catch (TrainingCancelledException e) {
            if (!shuttingDown || cancelRequests.contains(id)) {
                store.markFailed(id, 1, "tuning was cancelled", Instant.now().toString());
                artifacts.deleteCheckpoint(id);
                LOG.info("tunedModels/{} cancelled", id);
            } else {
                store.undoStart(id);
            }
        } catch (RuntimeException | Error e) {
            LOG.error("tuning tunedModels/{} failed", id, e);
            store.markFailed(id, 13, "tuning failed: " + e.getMessage(), Instant.now().toString());
        } finally {
            cancelRequests.remove(id);
            long released = dev.tuneforge.engine.kernel.FreedMemory.release();
            if (released > 0) {
                LOG.info("returned {} MB of freed training memory to the system", released >> 20);
            }
        }
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

    /** Stops taking jobs; a running job stops at its next step and stays CREATING, to resume on the next start. */
    @Override
    public void close() {
        shuttingDown = true;
        worker.shutdown();
        try {
            worker.awaitTermination(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
