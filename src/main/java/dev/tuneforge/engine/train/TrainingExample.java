package dev.tuneforge.engine.train;

/** One input/output pair to tune on. */
public record TrainingExample(String input, String output) {
    public TrainingExample {
        if (input == null || output == null) {
            throw new IllegalArgumentException("a training example needs both input and output");
        }
    }
}
