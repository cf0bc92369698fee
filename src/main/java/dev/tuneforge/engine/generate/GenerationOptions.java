package dev.tuneforge.engine.generate;

import java.util.List;

/**
 * Decoding settings, as the Gemini API's generationConfig names them. temperature 0 (or topK 1) is greedy;
 * topK 0 and topP 1 disable those filters; seed null draws a random seed. {@code presencePenalty} is subtracted
 * from the logit of every token the answer already has, {@code frequencyPenalty} times the number of times it has
 * it; {@code topLogprobs} null records no log-probabilities per step, else that many top candidates (0–20) beside
 * the chosen token; {@code constraint} (null: none) restricts the tokens each step may choose.
 */
public record GenerationOptions(int maxOutputTokens, double temperature, double topP, int topK, Long seed,
                                List<String> stopSequences, double presencePenalty, double frequencyPenalty,
                                Integer topLogprobs, TokenConstraint.Factory constraint) {

    public GenerationOptions {
        if (maxOutputTokens < 1) {
            throw new IllegalArgumentException("maxOutputTokens must be at least 1, got " + maxOutputTokens);
        }
        if (!(temperature >= 0) || temperature > 100) {
            throw new IllegalArgumentException("temperature must be in [0, 100], got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("topP must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must not be negative, got " + topK);
        }
        stopSequences = stopSequences == null ? List.of() : List.copyOf(stopSequences);
        if (stopSequences.stream().anyMatch(String::isEmpty)) {
            throw new IllegalArgumentException("stopSequences must not contain empty strings");
        }
        if (!Double.isFinite(presencePenalty) || !Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("penalties must be finite numbers");
        }
        if (topLogprobs != null && (topLogprobs < 0 || topLogprobs > 20)) {
            throw new IllegalArgumentException("topLogprobs must be in [0, 20], got " + topLogprobs);
        }
    }

    public GenerationOptions(int maxOutputTokens, double temperature, double topP, int topK, Long seed,
                             List<String> stopSequences) {
        this(maxOutputTokens, temperature, topP, topK, seed, stopSequences, 0, 0, null, null);
    }

    public static GenerationOptions greedy(int maxOutputTokens) {
        return new GenerationOptions(maxOutputTokens, 0, 1, 0, null, List.of());
    }

    /** The same settings with another seed (each of several candidates draws with its own). */
    public GenerationOptions withSeed(Long newSeed) {
        return new GenerationOptions(maxOutputTokens, temperature, topP, topK, newSeed, stopSequences, presencePenalty,
                frequencyPenalty, topLogprobs, constraint);
    }

    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }
}
