package dev.tuneforge.tuning;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.train.TrainingExample;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Validates a create request (field names already camelCase) against SPEC §5: at least one example, inputs up
 * to 40,000 and outputs up to 5,000 characters, text only, hyperparameters in range. Messages use the API's
 * snake_case field paths, e.g. {@code tuning_task.training_data.examples.examples[3].text_input}.
 */
public final class TuningRequestParser {
    public static final int MAX_INPUT_CHARS = 40_000;
    public static final int MAX_OUTPUT_CHARS = 5_000;
    public static final int MAX_EXAMPLES = 100_000;
    public static final int MAX_DISPLAY_NAME_CHARS = 128;
    public static final int DEFAULT_EPOCH_COUNT = 5;
    public static final int DEFAULT_BATCH_SIZE = 4;
    public static final int MAX_DESCRIPTION_CHARS = 16_384;
    private static final String UPDATABLE = "displayName, description, temperature, topP, topK";
    private static final Pattern ID = Pattern.compile("[a-z]([a-z0-9-]{0,38}[a-z0-9])?");
    private static final String EXAMPLES = "tuning_task.training_data.examples.examples";

    private TuningRequestParser() {
    }

    public static TuningRequest parse(JsonNode body, String tunedModelIdParam) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("the request body must be a JSON object (a TunedModel)");
        }
        if (tunedModelIdParam != null && !ID.matcher(tunedModelIdParam).matches()) {
            throw new InvalidRequestException("tuned_model_id", "tuned_model_id '" + tunedModelIdParam + "' must be 1-40 characters of "
                    + "lowercase letters, digits and dashes, starting with a letter and not ending with a dash");
        }
        String displayName = optionalText(body, "displayName", "display_name", MAX_DISPLAY_NAME_CHARS);
        String description = optionalText(body, "description", "description", MAX_DESCRIPTION_CHARS);
        String baseModel = optionalText(body, "baseModel", "base_model", 200);
        String sourceTunedModel = null;
        JsonNode source = body.get("tunedModelSource");
        if (source != null && !source.isNull()) {
            if (!source.isObject()) {
                throw new InvalidRequestException("tuned_model_source must be an object");
            }
            sourceTunedModel = optionalText(source, "tunedModel", "tuned_model_source.tuned_model", 200);
            if (sourceTunedModel == null) {
                throw new InvalidRequestException("tuned_model_source.tuned_model is required");
            }
        }
        if (baseModel == null && sourceTunedModel == null) {
            throw new InvalidRequestException("base_model is required (or tuned_model_source.tuned_model)");
        }
        if (baseModel != null && sourceTunedModel != null) {
            throw new InvalidRequestException("tuned_model_source", "give either base_model or tuned_model_source, not both");
        }
        JsonNode task = body.get("tuningTask");
        if (task == null || !task.isObject()) {
            throw new InvalidRequestException("tuning_task is required");
        }
        JsonNode hp = task.path("hyperparameters");
        if (!hp.isMissingNode() && !hp.isNull() && !hp.isObject()) {
            throw new InvalidRequestException("tuning_task.hyperparameters must be an object");
        }
        int epochs = intInRange(hp, "epochCount", "tuning_task.hyperparameters.epoch_count", DEFAULT_EPOCH_COUNT, 1, 1000);
        int batch = intInRange(hp, "batchSize", "tuning_task.hyperparameters.batch_size", DEFAULT_BATCH_SIZE, 1, 64);
        Double lr = doubleInRange(hp, "learningRate", "tuning_task.hyperparameters.learning_rate", 1e-6, 1.0);
        Double lrm = doubleInRange(hp, "learningRateMultiplier", "tuning_task.hyperparameters.learning_rate_multiplier", 1e-3, 100.0);
        if (lr != null && lrm != null) {
            throw new InvalidRequestException("tuning_task.hyperparameters.learning_rate_multiplier",
                    "give either tuning_task.hyperparameters.learning_rate or "
                    + "learning_rate_multiplier, not both");
        }
        Double temperature = temperature(body);
        Double topP = topP(body);
        Integer topK = topK(body);
        List<TrainingExample> examples = examples(task);
        return new TuningRequest(tunedModelIdParam, displayName, description, baseModel, sourceTunedModel, epochs,
                batch, lr, lrm, temperature, topP, topK, examples);
    }

    /**
     * Applies a {@code tunedModels.patch} body to {@code current}: the fields named in {@code updateMask}
     * (comma-separated, camelCase or snake_case) take the body's values (absent or null clears them), validated as
     * create validates them. Without a mask (AIP-134) the updatable fields the body sets are updated; the others it
     * carries (output-only or immutable ones, as in a resource read and sent back) are left alone.
     */
    public static TunedModelPatch patch(JsonNode body, String updateMask, TunedModelPatch current) {
        if (body == null || !body.isObject()) {
            throw new InvalidRequestException("the request body must be a JSON object (a TunedModel)");
        }
        List<String> fields = updateMask == null || updateMask.isBlank() ? fieldsSet(body)
                : List.of(updateMask.split(","));
        TunedModelPatch out = current;
        for (String raw : fields) {
            String field = raw.trim();
            out = switch (FieldNames.camelCase(field)) {
                case "displayName" -> out.withDisplayName(optionalText(body, "displayName", "display_name",
                        MAX_DISPLAY_NAME_CHARS));
                case "description" -> out.withDescription(optionalText(body, "description", "description",
                        MAX_DESCRIPTION_CHARS));
                case "temperature" -> out.withTemperature(temperature(body));
                case "topP" -> out.withTopP(topP(body));
                case "topK" -> out.withTopK(topK(body));
                default -> throw new InvalidRequestException("update_mask", "update_mask field '" + field + "' cannot be updated ("
                        + UPDATABLE + ")");
            };
        }
        return out;
    }

    /** The updatable fields {@code body} sets to a value. */
    private static List<String> fieldsSet(JsonNode body) {
        List<String> out = new ArrayList<>();
        for (String field : UPDATABLE.split(", ")) {
            if (body.hasNonNull(field)) {
                out.add(field);
            }
        }
        return out;
    }

    private static Double temperature(JsonNode body) {
        return doubleInRange(body, "temperature", "temperature", 0.0, 2.0);
    }

    private static Double topP(JsonNode body) {
        return doubleInRange(body, "topP", "top_p", 0.0, 1.0);
    }

    private static Integer topK(JsonNode body) {
        return body.has("topK") && !body.get("topK").isNull() ? intInRange(body, "topK", "top_k", 0, 1, 1000) : null;
    }

    private static List<TrainingExample> examples(JsonNode task) {
        JsonNode data = task.get("trainingData");
        if (data == null || !data.isObject()) {
            throw new InvalidRequestException("tuning_task.training_data is required");
        }
        JsonNode wrapper = data.get("examples");
        if (wrapper == null || !wrapper.isObject()) {
            throw new InvalidRequestException("tuning_task.training_data.examples is required");
        }
        JsonNode list = wrapper.get("examples");
        if (list == null || !list.isArray()) {
            throw new InvalidRequestException(EXAMPLES + " must be a list of {text_input, output}");
        }
        if (list.isEmpty()) {
            throw new InvalidRequestException(EXAMPLES + " is empty: at least one example is required");
        }
        if (list.size() > MAX_EXAMPLES) {
            throw new InvalidRequestException(EXAMPLES + " has " + list.size() + " examples; at most " + MAX_EXAMPLES);
        }
        List<TrainingExample> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode e = list.get(i);
            String at = EXAMPLES + "[" + i + "]";
            if (!e.isObject()) {
                throw new InvalidRequestException(at, at + " must be an object with text_input and output");
            }
            if (e.has("contents") || e.has("messages")) {
                throw new InvalidRequestException(at, at + ": only input/output pairs are supported, not multi-turn chats");
            }
            String input = requiredText(e, "textInput", at + ".text_input", MAX_INPUT_CHARS);
            String output = requiredText(e, "output", at + ".output", MAX_OUTPUT_CHARS);
            out.add(new TrainingExample(input, output));
        }
        return out;
    }

    private static String requiredText(JsonNode n, String field, String path, int max) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            throw new InvalidRequestException(path, path + " is required");
        }
        if (!v.isTextual()) {
            throw new InvalidRequestException(path, path + " must be a string (only text is supported)");
        }
        if (v.asText().isEmpty()) {
            throw new InvalidRequestException(path, path + " is empty");
        }
        if (v.asText().length() > max) {
            throw new InvalidRequestException(path, path + " exceeds " + max + " characters");
        }
        return v.asText();
    }

    private static String optionalText(JsonNode n, String field, String path, int max) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new InvalidRequestException(path, path + " must be a string");
        }
        if (v.asText().length() > max) {
            throw new InvalidRequestException(path, path + " exceeds " + max + " characters");
        }
        return v.asText();
    }

    static int intInRange(JsonNode n, String field, String path, int fallback, int min, int max) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull() || v.isMissingNode()) {
            return fallback;
        }
        if (!(v.isIntegralNumber() || (v.isTextual() && v.asText().matches("-?\\d+")))) {
            throw new InvalidRequestException(path, path + " must be an integer, got " + v);
        }
        long value = v.asLong();
        if (value < min || value > max || (v.isIntegralNumber() && !v.canConvertToLong())) {
            throw new InvalidRequestException(path, path + " must be between " + min + " and " + max + ", got " + v.asText());
        }
        return (int) value;
    }

    static Double doubleInRange(JsonNode n, String field, String path, double min, double max) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull() || v.isMissingNode()) {
            return null;
        }
        if (!v.isNumber()) {
            throw new InvalidRequestException(path, path + " must be a number, got " + v);
        }
        double value = v.asDouble();
        if (!(value >= min && value <= max)) {
            throw new InvalidRequestException(path, path + " must be between " + min + " and " + max + ", got " + v.asText());
        }
        return value;
    }
}
