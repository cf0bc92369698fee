package dev.tuneforge.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.Iterator;
import java.util.Map;

/**
 * JSON as Google's API reads it: snake_case and lowerCamelCase field names alike, trailing commas tolerated
 * (the tutorial's curl body has them), unknown fields ignored by the handlers.
 */
public final class GoogleJson {
    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(JsonReadFeature.ALLOW_TRAILING_COMMA)
            .build();

    private GoogleJson() {
    }

    /** Parses a request body; every object key becomes lowerCamelCase. An empty body is an empty object. */
    public static JsonNode parseBody(String body) {
        if (body == null || body.isBlank()) {
            return MAPPER.createObjectNode();
        }
        try {
            return camelCase(MAPPER.readTree(body));
        } catch (JsonProcessingException e) {
            throw new InvalidRequestException("invalid JSON payload: " + e.getOriginalMessage()
                    + " at line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr());
        }
    }

    static JsonNode camelCase(JsonNode node) {
        if (node.isObject()) {
            ObjectNode out = MAPPER.createObjectNode();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                out.set(toCamel(e.getKey()), camelCase(e.getValue()));
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

    static String toCamel(String key) {
        if (key.indexOf('_') < 0 || key.startsWith("@")) {
            return key;
        }
        StringBuilder sb = new StringBuilder(key.length());
        boolean upper = false;
        for (char c : key.toCharArray()) {
            if (c == '_') {
                upper = sb.length() > 0;
            } else {
                sb.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return sb.toString();
    }
}
