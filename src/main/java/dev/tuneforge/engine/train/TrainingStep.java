package dev.tuneforge.engine.train;

import dev.tuneforge.engine.kernel.MicrobatchThreads;
import dev.tuneforge.engine.lora.DropoutMasks;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat.TrainingSequence;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The forward and backward passes of one optimisation step over a batch of sequences, leaving the gradients of the
 * mean loss over the batch's output tokens in the optimizer. The batch is split into microbatches of consecutive
 * sequences that run side by side ({@link MicrobatchThreads}: one per core), each padded on the right to its own
 * longest sequence. Microbatch 0 accumulates into the optimizer's gradients, each other one into a buffer of its
 * own, added in order afterwards: the result does not depend on which thread finishes first, so a resumed run
 * repeats an uninterrupted one. Each microbatch draws its own dropout masks, keyed by the step and its index.
 */
public final class TrainingStep {
    /** Spreads the microbatches' mask keys apart (the 64-bit golden ratio, as SplitMix64 uses). */
    private static final long MICROBATCH_KEY_STRIDE = 0x9E3779B97F4A7C15L;

    private final LlamaModel model;
    private final LoraAdapter adapter;
    private final AdamW optimizer;
    private final long padId;
    private final int maxMicrobatches;
    private final List<AdamW.Gradients> microbatchGradients = new ArrayList<>();

    /** What a step computed: the mean loss and the tokens it ran through the model (padding included). */
    public record Result(double meanLoss, int tokens, int microbatches) {
    }

    public TrainingStep(LlamaModel model, LoraAdapter adapter, AdamW optimizer, long padId) {
        this(model, adapter, optimizer, padId, Integer.MAX_VALUE);
    }

    /** {@code maxMicrobatches} 1: always one batch on the calling thread (for comparisons). */
    public TrainingStep(LlamaModel model, LoraAdapter adapter, AdamW optimizer, long padId, int maxMicrobatches) {
        if (maxMicrobatches < 1) {
            throw new IllegalArgumentException("maxMicrobatches must be at least 1, got " + maxMicrobatches);
        }
        this.model = model;
        this.adapter = adapter;
        this.optimizer = optimizer;
        this.padId = padId;
        this.maxMicrobatches = maxMicrobatches;
    }

    /**
     * Adds the gradients of the batch's mean token loss to the optimizer's (zeroed beforehand by the caller), with
     * dropout masks keyed by {@code dropoutKey}. If a microbatch fails, every gradient is zeroed before the
     * failure is rethrown.
     */
    public Result forwardBackward(List<TrainingSequence> batch, long dropoutKey) {
        if (batch.isEmpty()) {
            throw new IllegalArgumentException("a training step needs at least one sequence");
        }
        for (TrainingSequence s : batch) {
            if (s.labelStart() < 1 || s.labelStart() >= s.length()) {
                throw new IllegalArgumentException("a training sequence needs a prompt token and an output token: "
                        + "labelStart " + s.labelStart() + " of " + s.length() + " tokens");
            }
        }
        int count = Math.min(maxMicrobatches, MicrobatchThreads.microbatches(batch.size()));
        List<List<TrainingSequence>> parts = split(batch, count);
        long outputTokens = outputTokens(batch);
        while (microbatchGradients.size() < count - 1) {
            microbatchGradients.add(optimizer.newGradients());
        }
        try (PointerScope scope = new PointerScope()) {
            Adapter[] passes = new Adapter[count];
            double[] weights = new double[count];
            for (int i = 0; i < count; i++) {
                passes[i] = adapter.trainingPass(new DropoutMasks(dropoutKey + i * MICROBATCH_KEY_STRIDE),
                        i == 0 ? optimizer.gradients() : microbatchGradients.get(i - 1).byName());
                weights[i] = outputTokens(parts.get(i)) / (double) outputTokens;
            }
            double[] losses;
            try {
                losses = MicrobatchThreads.run(count, i -> microbatch(parts.get(i), passes[i], weights[i]));
            } catch (RuntimeException e) {
                // what the other microbatches accumulated must not reach a later step
                optimizer.zeroGrad();
                microbatchGradients.forEach(g -> g.flat().zero_());
                throw e;
            }
            double loss = 0;
            for (int i = 0; i < count; i++) {
                if (i > 0) {
                    optimizer.addGradients(microbatchGradients.get(i - 1));
                }
                loss += losses[i] * weights[i];
            }
            int tokens = parts.stream().mapToInt(p -> p.size() * longest(p)).sum();
            return new Result(loss, tokens, count);
        }
    }

    /** Consecutive runs of sequences, sizes differing by at most one, the larger first. */
    static List<List<TrainingSequence>> split(List<TrainingSequence> batch, int count) {
        List<List<TrainingSequence>> parts = new ArrayList<>(count);
        int from = 0;
        for (int i = 0; i < count; i++) {
            int size = batch.size() / count + (i < batch.size() % count ? 1 : 0);
            parts.add(batch.subList(from, from + size));
            from += size;
        }
        return parts;
    }

    /** Tokens whose loss counts: each sequence's after its prompt. */
    private static long outputTokens(List<TrainingSequence> sequences) {
        return sequences.stream().mapToLong(s -> s.length() - s.labelStart()).sum();
    }

    private static int longest(List<TrainingSequence> part) {
        return part.stream().mapToInt(TrainingSequence::length).max().orElseThrow();
    }

    /** Forward and backward of one microbatch, its loss weighted by {@code weight}; returns its mean loss. */
    private double microbatch(List<TrainingSequence> part, Adapter pass, double weight) {
        try (PointerScope scope = new PointerScope()) {
            int maxLen = longest(part);
            long[] ids = new long[part.size() * maxLen];
            Arrays.fill(ids, padId);
            List<Long> positions = new ArrayList<>();
            List<Long> targets = new ArrayList<>();
            for (int b = 0; b < part.size(); b++) {
                TrainingSequence s = part.get(b);
                System.arraycopy(s.ids(), 0, ids, b * maxLen, s.length());
                for (int t = s.labelStart(); t < s.length(); t++) {
                    positions.add((long) b * maxLen + t - 1);
                    targets.add(s.ids()[t]);
                }
            }
            Tensor hidden = model.forward(Tensors.longs(ids, part.size(), maxLen), 0, null, pass);
            Tensor selected = hidden.reshape(-1, hidden.size(2))
                    .index_select(0, Tensors.longs(positions.stream().mapToLong(Long::longValue).toArray()));
            return HeadLoss.forwardBackward(model, pass, selected,
                    Tensors.longs(targets.stream().mapToLong(Long::longValue).toArray()), weight);
        }
    }
}
