package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.model.Projection;

import java.util.EnumSet;
import java.util.Set;

/**
 * LoRA hyperparameters: rank r, alpha (the update is scaled by alpha / r), dropout on the adapter's input, the
 * projections adapted, and the token ids whose embedding rows are trained (PEFT's trainable_token_indices).
 */
public record LoraConfig(int rank, double alpha, double dropout, Set<Projection> targetModules,
                         long[] trainableTokenIndices) {

    public static final Set<Projection> ALL_PROJECTIONS = EnumSet.allOf(Projection.class);

    public LoraConfig {
        if (rank < 1 || rank > 1024) {
            throw new IllegalArgumentException("LoRA rank must be between 1 and 1024, got " + rank);
        }
        if (!(alpha > 0) || Double.isInfinite(alpha)) {
            throw new IllegalArgumentException("LoRA alpha must be positive, got " + alpha);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("LoRA dropout must be in [0, 1), got " + dropout);
        }
        if (targetModules == null || targetModules.isEmpty()) {
            throw new IllegalArgumentException("LoRA needs at least one target module");
        }
        targetModules = Set.copyOf(targetModules);
        trainableTokenIndices = trainableTokenIndices == null ? new long[0] : trainableTokenIndices.clone();
    }

    /** Defaults: rank 8, alpha 16, dropout 0.05, every projection. */
    public static LoraConfig defaults(long... trainableTokens) {
        return new LoraConfig(8, 16, 0.05, ALL_PROJECTIONS, trainableTokens);
    }

    public double scale() {
        return alpha / rank;
    }

    public LoraConfig withTrainableTokens(long... tokens) {
        return new LoraConfig(rank, alpha, dropout, targetModules, tokens);
    }
}
