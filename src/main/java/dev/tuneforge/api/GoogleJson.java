package dev.tuneforge.api;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.tuning.FieldNames;
import dev.tuneforge.tuning.InvalidRequestException;

import java.io.IOException;
import java.io.InputStream;
import java.util.Iterator;
import java.util.Map;

/**
 * JSON as Google's API reads it: snake_case and lowerCamelCase field names alike, trailing commas tolerated
 * (the tutorial's curl body has them), unknown fields ignored by the handlers.
 */
public final class GoogleJson {
    /** Deeper than any request of the API (a tuning request nests 6 levels); deep nesting costs stack. */
    static final int MAX_NESTING_DEPTH = 64;
    /** The longest legitimate string is a 40,000-character example; a 50 MB one must fail before it is held. */
    static final int MAX_STRING_LENGTH = 1 << 20;

    public static final ObjectMapper MAPPER = mapper(0);

    private GoogleJson() {
    }

    /** A mapper reading Google's JSON within the nesting and string limits, and at most {@code maxTokens} (0: any). */
    static ObjectMapper mapper(long maxTokens) {
        StreamReadConstraints limits = StreamReadConstraints.builder()
                .maxNestingDepth(MAX_NESTING_DEPTH)
                .maxStringLength(MAX_STRING_LENGTH)
                .maxTokenCount(maxTokens)
                .build();
        return JsonMapper.builder(JsonFactory.builder().streamReadConstraints(limits).build())
                .enable(JsonReadFeature.ALLOW_TRAILING_COMMA)
                .build();
    }

    /**
     * Parses JSON text (the config file); every object key becomes lowerCamelCase. An empty text is an empty object.
     * Request handlers read their body with {@link RequestBodies#json}, which never holds it as one String.
     */
    public static JsonNode parseBody(String body) {
        if (body == null || body.isBlank()) {
            return MAPPER.createObjectNode();
        }
        try {
            return camelCase(MAPPER.readTree(body));
        } catch (JsonProcessingException e) {
            throw invalid(e);
        }
    }

    /**
     * Parses a body from a stream with {@code reader}, as {@link #parseBody(String)} does; IOExceptions of the stream
     * itself (a body over its limit, a client gone) pass through.
     */
    static JsonNode parseBody(ObjectMapper reader, InputStream body) throws IOException {
        try {
            JsonNode tree = reader.readTree(body);
            return tree == null || tree.isMissingNode() ? MAPPER.createObjectNode() : camelCase(tree);
        } catch (JsonProcessingException e) {
            throw invalid(e);
        }
    }

    private static InvalidRequestException invalid(JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        return new InvalidRequestException("invalid JSON payload: " + e.getOriginalMessage()
                + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()));
    }

    /**
     * The node with every field name in lowerCamelCase, except names that are data rather than fields, which
     * Google's JSON parsing keeps as sent: the keys of a schema's {@code properties} map, and everything inside a
     * {@code responseJsonSchema} (a free JSON value).
     */
    static JsonNode camelCase(JsonNode node) {
        if (node.isObject()) {
            ObjectNode out = MAPPER.createObjectNode();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String name = FieldNames.camelCase(e.getKey());
                if (name.equals("responseJsonSchema")) {
                    out.set(name, e.getValue().deepCopy());
                } else if (name.equals("properties") && e.getValue().isObject()) {
                    ObjectNode map = out.putObject(name);
                    e.getValue().fields().forEachRemaining(p -> map.set(p.getKey(), camelCase(p.getValue())));
                } else {
                    out.set(name, camelCase(e.getValue()));
                }
            }
            return out;
        }
        if (node.isArray()) {
            ArrayNode out = MAPPER.createArrayNode();
            node.forEach(n -> out.add(camelCase(n)));
            return out;
        }
        return node;
    }
}
