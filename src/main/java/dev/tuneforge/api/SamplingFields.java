package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.tuning.InvalidRequestException;

/**
 * The generationConfig fields beyond the basic sampling settings: {@code candidateCount} (1–8),
 * {@code presencePenalty} and {@code frequencyPenalty} ([-2, 2)), {@code responseLogprobs} and {@code logprobs}
 * (0–20 top candidates, only with responseLogprobs).
 */
final class SamplingFields {
    static final int MAX_CANDIDATES = 8;
    static final int MAX_LOGPROBS = 20;

    private SamplingFields() {
    }

    static int candidateCount(JsonNode g) {
        JsonNode v = g.get("candidateCount");
        if (v == null || v.isNull()) {
            return 1;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 1 || v.asInt() > MAX_CANDIDATES) {
            throw new InvalidRequestException("generation_config.candidate_count must be an integer from 1 to "
                    + MAX_CANDIDATES + ", got " + v);
        }
        return v.asInt();
    }

    /** {@code base} with the penalties and log-probabilities that {@code g} asks for. */
    static GenerationOptions apply(JsonNode g, GenerationOptions base) {
        double presence = penalty(g, "presencePenalty", "generation_config.presence_penalty");
        double frequency = penalty(g, "frequencyPenalty", "generation_config.frequency_penalty");
        JsonNode wanted = g.get("responseLogprobs");
        if (wanted != null && !wanted.isNull() && !wanted.isBoolean()) {
            throw new InvalidRequestException("generation_config.response_logprobs must be true or false, got " + wanted);
        }
        boolean logprobs = wanted != null && wanted.asBoolean();
        JsonNode count = g.get("logprobs");
        Integer top = logprobs ? 0 : null;
        if (count != null && !count.isNull()) {
            if (!count.isIntegralNumber() || !count.canConvertToInt() || count.asInt() < 0 || count.asInt() > MAX_LOGPROBS) {
                throw new InvalidRequestException("generation_config.logprobs must be an integer from 0 to " + MAX_LOGPROBS
                        + ", got " + count);
            }
            if (!logprobs) {
                throw new InvalidRequestException("generation_config.logprobs is only valid with response_logprobs true");
            }
            top = count.asInt();
        }
        return new GenerationOptions(base.maxOutputTokens(), base.temperature(), base.topP(), base.topK(), base.seed(),
                base.stopSequences(), presence, frequency, top, base.constraint());
    }

    private static double penalty(JsonNode g, String field, String path) {
        JsonNode v = g.get(field);
        if (v == null || v.isNull()) {
            return 0;
        }
        if (!v.isNumber() || !(v.asDouble() >= -2 && v.asDouble() < 2)) {
            throw new InvalidRequestException(path + " must be a number in [-2, 2), got " + v);
        }
        return v.asDouble();
    }
}
