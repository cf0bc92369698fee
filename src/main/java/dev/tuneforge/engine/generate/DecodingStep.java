package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.kernel.LogSumExp;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Chooses each next token of one generation from the model's logits: records the chosen token's log-probability
 * (and the top candidates when asked for) under the model's own distribution, the log-softmax of its logits; then
 * subtracts the presence and frequency penalties of the tokens already generated, masks what the constraint
 * forbids, and samples ({@link TokenSampler}).
 */
final class DecodingStep {
    private final GenerationOptions options;
    private final Set<Long> stopIds;
    private final TokenSampler sampler;
    private final TokenConstraint constraint;
    private final Map<Long, Integer> counts = new HashMap<>();
    private final List<GenerationResult.StepLogprobs> steps;
    private double logprobSum;

    DecodingStep(GenerationOptions options, Set<Long> stopIds) {
        this.options = options;
        this.stopIds = stopIds;
        this.sampler = new TokenSampler(options);
        this.constraint = options.constraint() == null ? null : options.constraint().start();
        this.steps = options.topLogprobs() == null ? null : new ArrayList<>();
    }

    /** The next token after {@code logits} [vocab]; {@code tokensLeft} more may follow it. */
    long choose(float[] logits, int tokensLeft) {
        float[] adjusted = logits;
        if (constraint != null || !counts.isEmpty() && (options.presencePenalty() != 0 || options.frequencyPenalty() != 0)) {
            adjusted = logits.clone();
            for (Map.Entry<Long, Integer> e : counts.entrySet()) {
                int id = e.getKey().intValue();
                adjusted[id] -= (float) (options.presencePenalty() + options.frequencyPenalty() * e.getValue());
            }
            if (constraint != null) {
                constraint.mask(adjusted, tokensLeft, stopIds);
            }
        }
        long next = sampler.next(adjusted);
        if (stopIds.contains(next)) {
            return next;
        }
        double logSumExp = LogSumExp.of(logits);
        double chosen = logits[(int) next] - logSumExp;
        logprobSum += chosen;
        if (steps != null) {
            int k = Math.min(options.topLogprobs(), logits.length);
            int[] top = k == 0 ? new int[0] : TokenSampler.largest(logits, k);
            long[] ids = new long[top.length];
            double[] values = new double[top.length];
            for (int i = 0; i < top.length; i++) {
                ids[i] = top[i];
                values[i] = logits[top[i]] - logSumExp;
            }
            steps.add(new GenerationResult.StepLogprobs(next, chosen, ids, values));
        }
        counts.merge(next, 1, Integer::sum);
        if (constraint != null) {
            constraint.accept(next);
        }
        return next;
    }

    /** Whether the constraint allows nothing but a stop token any more. */
    boolean constraintFinished() {
        return constraint != null && constraint.finished();
    }

    double logprobSum() {
        return logprobSum;
    }

    List<GenerationResult.StepLogprobs> steps() {
        return steps;
    }
}
