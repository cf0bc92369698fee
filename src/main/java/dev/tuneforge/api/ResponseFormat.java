package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.generate.TokenConstraint;
import dev.tuneforge.engine.generate.json.JsonSchema;
import dev.tuneforge.engine.generate.json.JsonSchemaConstraint;
import dev.tuneforge.tuning.InvalidRequestException;

/**
 * {@code responseMimeType} with {@code responseSchema} or {@code responseJsonSchema}: text/plain (no constraint),
 * or application/json on a base model, decoded under the schema ({@link JsonSchemaConstraint}). Tuned models
 * refuse JSON mode, as Google's do.
 */
final class ResponseFormat {
    private ResponseFormat() {
    }

    /** The constraint of generation config {@code g}, or null for plain text. */
    static TokenConstraint.Factory constraint(JsonNode g, GenerateContent.Target target) {
        JsonNode mimeNode = g.get("responseMimeType");
        String mime = mimeNode == null || mimeNode.isNull() ? "text/plain" : mimeNode.asText();
        boolean hasSchema = present(g, "responseSchema");
        boolean hasJsonSchema = present(g, "responseJsonSchema");
        if (mime.equals("application/json") && target.tuned()) {
            throw new InvalidRequestException("JSON mode is not supported for tuned models");
        }
        if (!mime.equals("application/json") && !mime.equals("text/plain")) {
            throw new InvalidRequestException("generation_config.response_mime_type '" + mime + "' is not supported: "
                    + "text/plain or application/json");
        }
        if (hasSchema && hasJsonSchema) {
            throw new InvalidRequestException("generation_config.response_schema and response_json_schema are mutually "
                    + "exclusive: send one of them");
        }
        if (mime.equals("text/plain")) {
            if (hasSchema || hasJsonSchema) {
                throw new InvalidRequestException("generation_config." + (hasSchema ? "response_schema" : "response_json_schema")
                        + " requires response_mime_type application/json");
            }
            return null;
        }
        if (!hasSchema && !hasJsonSchema) {
            throw new InvalidRequestException("generation_config.response_mime_type application/json needs "
                    + "response_schema or response_json_schema: free-form JSON is not supported");
        }
        JsonSchema schema = hasSchema
                ? ResponseSchemas.google(g.get("responseSchema"), "generation_config.response_schema")
                : ResponseSchemas.json(g.get("responseJsonSchema"), "generation_config.response_json_schema");
        return new JsonSchemaConstraint.Factory(schema, target.base().vocabulary());
    }

    private static boolean present(JsonNode g, String field) {
        return g.has(field) && !g.get(field).isNull();
    }
}
