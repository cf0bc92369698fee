package dev.tuneforge.engine.generate;

import java.util.List;

/**
 * Generated text with its token ids and counts. The stop token, if one ended generation, is not counted.
 * {@code logprobSum} is the sum of the output tokens' log-probabilities under the model;
 * {@code steps} the log-probabilities of each output token and the top candidates (null when not asked for).
 */
public record GenerationResult(String text, long[] outputIds, int promptTokenCount, FinishReason finishReason,
                               double logprobSum, List<StepLogprobs> steps) {
    /** One step: the chosen token and its log-probability, and the most likely tokens, most likely first. */
    public record StepLogprobs(long chosenId, double chosenLogprob, long[] topIds, double[] topLogprobs) {
    }

    public GenerationResult(String text, long[] outputIds, int promptTokenCount, FinishReason finishReason) {
        this(text, outputIds, promptTokenCount, finishReason, 0, null);
    }

    public int outputTokenCount() {
        return outputIds.length;
    }

    /** The mean log-probability of the output tokens, NaN without any. */
    public double averageLogprob() {
        return outputIds.length == 0 ? Double.NaN : logprobSum / outputIds.length;
    }
}
