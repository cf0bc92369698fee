package dev.tuneforge.engine.generate;

/** Generated text with its token ids and counts. The stop token, if one ended generation, is not counted. */
public record GenerationResult(String text, long[] outputIds, int promptTokenCount, FinishReason finishReason) {
    public int outputTokenCount() {
        return outputIds.length;
    }
}
