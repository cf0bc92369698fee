package dev.tuneforge.engine.train;

import java.time.Duration;
import java.time.Instant;

/** What one optimisation step did: mean token loss of its batch, when it finished and how long it took. */
public record StepReport(int step, int totalSteps, int epoch, double meanLoss, Instant computeTime, Duration duration,
                         int tokens) {
}
