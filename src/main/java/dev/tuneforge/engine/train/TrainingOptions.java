package dev.tuneforge.engine.train;

import dev.tuneforge.engine.lora.LoraConfig;

/**
 * Hyperparameters of a LoRA tuning run. {@code checkpointEvery} 0 disables periodic checkpoints;
 * {@code maxSequenceLength} 0 means the model's context.
 */
public record TrainingOptions(int epochs, int batchSize, double learningRate, long seed, LoraConfig lora,
                              double weightDecay, double maxGradNorm, int checkpointEvery, int maxSequenceLength) {

    public TrainingOptions {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be at least 1, got " + epochs);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be at least 1, got " + batchSize);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate must be positive, got " + learningRate);
        }
        if (weightDecay < 0 || maxGradNorm < 0 || checkpointEvery < 0 || maxSequenceLength < 0) {
            throw new IllegalArgumentException("weight decay, max grad norm, checkpoint interval and max sequence "
                    + "length must not be negative");
        }
    }

    /** The seed's defaults: 5 epochs, batch 4, learning rate 0.001; LoRA rank 8, alpha 16, dropout 0.05. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(5, 4, 0.001, 42, LoraConfig.defaults(), 0.0, 1.0, 10, 0);
    }

    public TrainingOptions withEpochs(int e) {
        return new TrainingOptions(e, batchSize, learningRate, seed, lora, weightDecay, maxGradNorm, checkpointEvery, maxSequenceLength);
    }

    public TrainingOptions withBatchSize(int b) {
        return new TrainingOptions(epochs, b, learningRate, seed, lora, weightDecay, maxGradNorm, checkpointEvery, maxSequenceLength);
    }

    public TrainingOptions withLearningRate(double lr) {
        return new TrainingOptions(epochs, batchSize, lr, seed, lora, weightDecay, maxGradNorm, checkpointEvery, maxSequenceLength);
    }

    public TrainingOptions withSeed(long s) {
        return new TrainingOptions(epochs, batchSize, learningRate, s, lora, weightDecay, maxGradNorm, checkpointEvery, maxSequenceLength);
    }

    public TrainingOptions withLora(LoraConfig l) {
        return new TrainingOptions(epochs, batchSize, learningRate, seed, l, weightDecay, maxGradNorm, checkpointEvery, maxSequenceLength);
    }

    public TrainingOptions withCheckpointEvery(int steps) {
        return new TrainingOptions(epochs, batchSize, learningRate, seed, lora, weightDecay, maxGradNorm, steps, maxSequenceLength);
    }
}
