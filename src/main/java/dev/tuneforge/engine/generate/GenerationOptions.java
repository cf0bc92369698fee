package dev.tuneforge.engine.generate;

import java.util.List;

/**
 * Decoding settings, as the Gemini API's generationConfig names them. temperature 0 (or topK 1) is greedy;
 * topK 0 and topP 1 disable those filters; seed null draws a random seed.
 */
public record GenerationOptions(int maxOutputTokens, double temperature, double topP, int topK, Long seed,
                                List<String> stopSequences) {

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
    }

    public static GenerationOptions greedy(int maxOutputTokens) {
        return new GenerationOptions(maxOutputTokens, 0, 1, 0, null, List.of());
    }

    public boolean isGreedy() {
        return temperature == 0 || topK == 1;
    }
}
