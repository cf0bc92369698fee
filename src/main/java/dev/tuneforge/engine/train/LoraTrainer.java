package dev.tuneforge.engine.train;

import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.tokenizer.PromptFormat.TrainingSequence;
import org.bytedeco.pytorch.Tensor;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * LoRA fine-tuning on a frozen base: batches padded to their longest example, loss only on output tokens,
 * AdamW with gradient clipping, a report after every step, periodic checkpoints that resume to the same result.
 */
public final class LoraTrainer {
    private final LlamaModel model;
    private final TrainingOptions options;
    private final List<TrainingSequence> sequences;
    private final BatchSchedule schedule;
    private final LoraAdapter adapter;
    private final Map<String, Tensor> params;
    private final AdamW optimizer;
    private final TrainingStep trainingStep;
    private final String fingerprint;
    private int completedSteps;

    /** Listener of step reports. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(StepReport report);
    }

    public LoraTrainer(LlamaModel model, PromptFormat format, List<TrainingExample> examples, TrainingOptions options) {
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("at least one training example is needed");
        }
        this.model = model;
        this.options = options;
        int limit = options.maxSequenceLength() > 0
                ? Math.min(options.maxSequenceLength(), model.config().maxPositionEmbeddings())
                : model.config().maxPositionEmbeddings();
        List<TrainingSequence> seqs = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            TrainingExample e = examples.get(i);
            TrainingSequence s = format.trainingSequence(e.input(), e.output());
            if (s.labelStart() >= limit) {
                throw new IllegalArgumentException("example " + i + ": the input takes " + s.labelStart()
                        + " tokens, the model's context is " + limit);
            }
            if (s.length() > limit) {
                s = new TrainingSequence(java.util.Arrays.copyOf(s.ids(), limit), s.labelStart());
            }
            seqs.add(s);
        }
        this.sequences = List.copyOf(seqs);
        this.schedule = new BatchSchedule(examples.size(), options.epochs(), options.batchSize(), options.seed());
        this.adapter = LoraAdapter.initialize(model, options.lora(), options.seed());
        this.params = adapter.namedParameters();
        this.optimizer = new AdamW(params, options.learningRate(), options.weightDecay());
        this.trainingStep = new TrainingStep(model, adapter, optimizer, format.tokenizer().eosId());
        this.fingerprint = fingerprint(sequences, options);
    }

    public LoraAdapter adapter() {
        return adapter;
    }

    public int totalSteps() {
        return schedule.totalSteps();
    }

    public int completedSteps() {
        return completedSteps;
    }

    /**
     * Trains from the current step to the end. Between steps it checks {@code stop} (throwing
     * {@link TrainingCancelledException}) and every {@code checkpointEvery} steps, and at the end, writes
     * {@code checkpoint} when one is given. Each step's report reaches {@code listener} before a checkpoint
     * including that step is written, so a checkpoint is never ahead of what the listener recorded: a process that
     * dies between the two resumes from the previous checkpoint and repeats the steps after it.
     */
    public void train(StepListener listener, Path checkpoint, BooleanSupplier stop) {
        train(listener, checkpoint == null ? null : trainer -> trainer.saveCheckpoint(checkpoint), stop);
    }

    /** Where a trainer's checkpoints go: {@code save} writes one with {@link #saveCheckpoint(Path)}. */
    @FunctionalInterface
    public interface CheckpointSink {
        void save(LoraTrainer trainer);
    }

    /** As {@link #train(StepListener, Path, BooleanSupplier)}, handing each checkpoint to {@code checkpoints}. */
    public void train(StepListener listener, CheckpointSink checkpoints, BooleanSupplier stop) {
        while (completedSteps < totalSteps()) {
            if (stop.getAsBoolean()) {
                throw new TrainingCancelledException(completedSteps);
            }
            StepReport report = step(completedSteps + 1);
            completedSteps++;
            listener.onStep(report);
            if (checkpoints != null && (completedSteps == totalSteps()
                    || (options.checkpointEvery() > 0 && completedSteps % options.checkpointEvery() == 0))) {
                checkpoints.save(this);
            }
        }
    }

    public void train(StepListener listener) {
        train(listener, (CheckpointSink) null, () -> false);
    }

    private StepReport step(int step) {
        long started = System.nanoTime();
        int[] batch = schedule.batch(step);
        List<TrainingSequence> examples = new ArrayList<>(batch.length);
        for (int i : batch) {
            examples.add(sequences.get(i));
        }
        TrainingStep.Result result = trainingStep.forwardBackward(examples, options.seed() * 7_919L + step);
        double loss = result.meanLoss();
        optimizer.update(options.maxGradNorm());
        if (!Double.isFinite(loss)) {
            throw new IllegalStateException("loss became " + loss + " at step " + step
                    + "; lower the learning rate");
        }
        return new StepReport(step, totalSteps(), schedule.epochOf(step), loss, Instant.now(),
                Duration.ofNanos(System.nanoTime() - started), result.tokens());
    }

    /** Starts from another adapter's weights (tuning a tuned model further); names and shapes must match. */
    public void initializeFrom(LoraAdapter source) {
        Map<String, Tensor> from = source.namedParameters();
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor t = from.get(e.getKey());
                if (t == null || !java.util.Arrays.equals(Tensors.shape(t), Tensors.shape(e.getValue()))) {
                    throw new IllegalArgumentException("the source adapter has no matching " + e.getKey());
                }
                e.getValue().copy_(t);
            }
        }
        adapter.parametersChanged();
    }

    /** Writes adapter parameters, optimizer moments and the step count to {@code file} atomically. */
    public void saveCheckpoint(Path file) {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        params.forEach((k, v) -> tensors.put("param/" + k, v.detach()));
        optimizer.expAvg().forEach((k, v) -> tensors.put("exp_avg/" + k, v));
        optimizer.expAvgSq().forEach((k, v) -> tensors.put("exp_avg_sq/" + k, v));
        Safetensors.write(file, tensors, Map.of("completed_steps", Integer.toString(completedSteps),
                "optimizer_steps", Long.toString(optimizer.steps()), "fingerprint", fingerprint));
    }

    /** Restores a checkpoint written by a trainer with the same examples and options. */
    public void resumeFrom(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("no checkpoint at " + file);
        }
        Safetensors.Header header = Safetensors.readHeader(file);
        if (!fingerprint.equals(header.metadata().get("fingerprint"))) {
            throw new IllegalArgumentException("checkpoint " + file + " belongs to a different dataset or options");
        }
        Map<String, Tensor> tensors = Safetensors.read(file);
        Map<String, Tensor> avg = new LinkedHashMap<>();
        Map<String, Tensor> avgSq = new LinkedHashMap<>();
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor saved = tensors.get("param/" + e.getKey());
                if (saved == null) {
                    throw new IllegalArgumentException("checkpoint lacks " + e.getKey());
                }
                e.getValue().copy_(saved);
                avg.put(e.getKey(), tensors.get("exp_avg/" + e.getKey()));
                avgSq.put(e.getKey(), tensors.get("exp_avg_sq/" + e.getKey()));
            }
        }
        optimizer.restore(Long.parseLong(header.metadata().get("optimizer_steps")), avg, avgSq);
        adapter.parametersChanged();
        completedSteps = Integer.parseInt(header.metadata().get("completed_steps"));
    }

    private static String fingerprint(List<TrainingSequence> sequences, TrainingOptions options) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (TrainingSequence s : sequences) {
                d.update(java.util.Arrays.toString(s.ids()).getBytes(StandardCharsets.UTF_8));
                d.update((byte) s.labelStart());
            }
            var lora = options.lora();
            String settings = String.join("|", List.of(
                    String.valueOf(options.epochs()), String.valueOf(options.batchSize()),
                    String.valueOf(options.learningRate()), String.valueOf(options.seed()),
                    String.valueOf(options.weightDecay()), String.valueOf(options.maxGradNorm()),
                    String.valueOf(lora.rank()), String.valueOf(lora.alpha()), String.valueOf(lora.dropout()),
                    new java.util.TreeSet<>(lora.targetModules()).toString(),
                    java.util.Arrays.toString(lora.trainableTokenIndices())));
            d.update(settings.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d.digest()).substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
