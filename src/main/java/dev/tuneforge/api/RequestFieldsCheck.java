package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The fields of a generate request that Tuneforge cannot honour are refused by name rather than dropped:
 * {@code tools} and {@code toolConfig} (no function calling), {@code cachedContent} (no context caching), output
 * modalities other than text, speech and image settings, thinking with a budget. {@code safetySettings} are
 * validated as Google validates them and accepted, but nothing filters: no safety classifier runs and no ratings
 * are reported.
 */
final class RequestFieldsCheck {
    static final List<String> HARM_CATEGORIES = List.of("HARM_CATEGORY_HARASSMENT", "HARM_CATEGORY_HATE_SPEECH",
            "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT", "HARM_CATEGORY_CIVIC_INTEGRITY");
    static final List<String> THRESHOLDS = List.of("BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH",
            "BLOCK_NONE", "OFF");

    private RequestFieldsCheck() {
    }

    static void check(JsonNode request, String prefix, GenerateContent.Target target) {
        if (present(request, "tools") && !(request.get("tools").isArray() && request.get("tools").isEmpty())) {
            throw new InvalidRequestException(prefix + "tools is not supported: " + target.modelVersion()
                    + " is served without function calling");
        }
        if (present(request, "toolConfig")) {
            throw new InvalidRequestException(prefix + "tool_config is not supported: " + target.modelVersion()
                    + " is served without function calling");
        }
        if (present(request, "cachedContent")) {
            throw new InvalidRequestException(prefix + "cached_content is not supported: Tuneforge has no context caching");
        }
        safetySettings(request.get("safetySettings"), prefix + "safety_settings");
        JsonNode g = request.path("generationConfig");
        if (!g.isObject()) {
            return;
        }
        JsonNode modalities = g.get("responseModalities");
        if (modalities != null && !modalities.isNull()) {
            for (int i = 0; i < modalities.size(); i++) {
                if (!modalities.get(i).asText().equals("TEXT")) {
                    throw new InvalidRequestException(prefix + "generation_config.response_modalities[" + i + "] '"
                            + modalities.get(i).asText() + "' is not supported: the models answer with TEXT only");
                }
            }
        }
        for (String field : List.of("speechConfig", "imageConfig", "mediaResolution", "audioTimestamp")) {
            if (present(g, field)) {
                throw new InvalidRequestException(prefix + "generation_config." + snake(field)
                        + " is not supported: the models answer with text only");
            }
        }
        if (g.path("enableEnhancedCivicAnswers").asBoolean(false)) {
            throw new InvalidRequestException(prefix + "generation_config.enable_enhanced_civic_answers is not supported");
        }
        JsonNode thinking = g.get("thinkingConfig");
        if (thinking != null && !thinking.isNull()
                && (thinking.path("thinkingBudget").asInt(0) != 0 || thinking.path("includeThoughts").asBoolean(false)
                || thinking.has("thinkingLevel"))) {
            throw new InvalidRequestException(prefix + "generation_config.thinking_config is not supported: the models "
                    + "do not think before answering (only a thinking_budget of 0 is accepted)");
        }
    }

    private static void safetySettings(JsonNode settings, String path) {
        if (settings == null || settings.isNull()) {
            return;
        }
        if (!settings.isArray()) {
            throw new InvalidRequestException(path + " must be a list of {category, threshold}");
        }
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < settings.size(); i++) {
            JsonNode s = settings.get(i);
            String category = s.path("category").asText("");
            String threshold = s.path("threshold").asText("");
            if (!HARM_CATEGORIES.contains(category)) {
                throw new InvalidRequestException(path + "[" + i + "].category '" + category + "' is not one of "
                        + HARM_CATEGORIES);
            }
            if (!THRESHOLDS.contains(threshold)) {
                throw new InvalidRequestException(path + "[" + i + "].threshold '" + threshold + "' is not one of "
                        + THRESHOLDS);
            }
            if (!seen.add(category)) {
                throw new InvalidRequestException(path + "[" + i + "].category " + category + " is set twice");
            }
        }
    }

    private static boolean present(JsonNode n, String field) {
        return n.has(field) && !n.get(field).isNull();
    }

    private static String snake(String camel) {
        return camel.replaceAll("([A-Z])", "_$1").toLowerCase(java.util.Locale.ROOT);
    }
}
