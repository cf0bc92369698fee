package dev.tuneforge.store;

/** One tuning step as recorded: step, epoch, mean token loss of the step's batch, RFC 3339 time. */
public record Snapshot(int step, int epoch, double meanLoss, String computeTime) {
}
