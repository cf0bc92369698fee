package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.ArrayList;
import java.util.List;

/**
 * generateContent / streamGenerateContent / countTokens on a base model or a tuned model (base + adapter).
 * The prompt is the request's conversation as {@link ConversationPrompt} formats it.
 */
final class GenerateContent {
    static final double DEFAULT_TEMPERATURE = 1.0;
    static final double DEFAULT_TOP_P = 0.95;
    static final int DEFAULT_TOP_K = 40;
    static final int DEFAULT_MAX_OUTPUT_TOKENS = 1024;

    /** The model a request runs on: base, adapter (null for a base model), the defaults that apply. */
    record Target(String modelVersion, BaseModel base, Adapter adapter, Double temperature, Double topP,
                  Integer topK) {
        boolean tuned() {
            return adapter != null;
        }
    }

    private GenerateContent() {
    }

    static GenerationOptions options(JsonNode body, Target target) {
        JsonNode g = body.path("generationConfig");
        if (!g.isMissingNode() && !g.isObject()) {
            throw new InvalidRequestException("generation_config must be an object");
        }
        SamplingFields.candidateCount(g);
        int context = target.base().model().config().maxPositionEmbeddings();
        int maxOut = intField(g, "maxOutputTokens", "generation_config.max_output_tokens",
                Math.min(DEFAULT_MAX_OUTPUT_TOKENS, context));
        if (maxOut < 1) {
            throw new InvalidRequestException("generation_config.max_output_tokens must be at least 1, got " + maxOut);
        }
        double temperature = doubleField(g, "temperature", "generation_config.temperature",
                target.temperature() != null ? target.temperature() : DEFAULT_TEMPERATURE);
        if (temperature < 0 || temperature > 2) {
            throw new InvalidRequestException("generation_config.temperature must be between 0 and 2, got " + temperature);
        }
        double topP = doubleField(g, "topP", "generation_config.top_p", target.topP() != null ? target.topP() : DEFAULT_TOP_P);
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidRequestException("generation_config.top_p must be in (0, 1], got " + topP);
        }
        int topK = intField(g, "topK", "generation_config.top_k", target.topK() != null ? target.topK() : DEFAULT_TOP_K);
        if (topK < 0) {
            throw new InvalidRequestException("generation_config.top_k must not be negative, got " + topK);
        }
        Long seed = g.has("seed") && !g.get("seed").isNull() ? (long) intField(g, "seed", "generation_config.seed", 0) : null;
        List<String> stops = new ArrayList<>();
        JsonNode s = g.get("stopSequences");
        if (s != null && !s.isNull()) {
            if (!s.isArray()) {
                throw new InvalidRequestException("generation_config.stop_sequences must be a list of strings");
            }
            if (s.size() > 5) {
                throw new InvalidRequestException("generation_config.stop_sequences has " + s.size() + " entries; at most 5");
            }
            for (int i = 0; i < s.size(); i++) {
                if (!s.get(i).isTextual() || s.get(i).asText().isEmpty()) {
                    throw new InvalidRequestException("generation_config.stop_sequences[" + i + "] must be a non-empty string");
                }
                stops.add(s.get(i).asText());
            }
        }
        return SamplingFields.apply(g, new GenerationOptions(maxOut, temperature, topP, topK, seed, stops, 0, 0, null,
                ResponseFormat.constraint(g, target)));
    }

    private static int intField(JsonNode n, String field, String path, int fallback) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new InvalidRequestException(path + " must be an integer, got " + v);
        }
        return v.asInt();
    }

    private static double doubleField(JsonNode n, String field, String path, double fallback) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new InvalidRequestException(path + " must be a number, got " + v);
        }
        return v.asDouble();
    }
}
