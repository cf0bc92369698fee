package dev.tuneforge.engine.train;

/** Thrown by {@link LoraTrainer#train} when its stop signal was raised between steps. */
public final class TrainingCancelledException extends RuntimeException {
    public TrainingCancelledException(int completedSteps) {
        super("training cancelled after " + completedSteps + " steps");
    }
}
