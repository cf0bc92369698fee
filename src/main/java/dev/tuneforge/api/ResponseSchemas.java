package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.generate.json.JsonSchema;
import dev.tuneforge.tuning.InvalidRequestException;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads a response schema into the {@link JsonSchema} that constrained decoding enforces: Google's Schema
 * ({@code responseSchema}, the OpenAPI subset) or a JSON Schema ({@code responseJsonSchema}). What decoding
 * enforces: type, nullable / a "null" type, enum (and const), properties, required, propertyOrdering, items,
 * minItems, maxItems. Annotations (title, description, example(s), default, $schema, $id, $comment) are
 * accepted and ignored; every other keyword is refused by name, as is an object without properties.
 */
final class ResponseSchemas {
    private static final Set<String> GOOGLE_ANNOTATIONS = Set.of("title", "description", "example", "default");
    private static final Set<String> GOOGLE_ENFORCED = Set.of("type", "format", "nullable", "enum", "properties",
            "required", "propertyOrdering", "items", "minItems", "maxItems");
    private static final Set<String> JSON_ANNOTATIONS = Set.of("title", "description", "examples", "default",
            "$schema", "$id", "$comment");
    private static final Set<String> JSON_ENFORCED = Set.of("type", "enum", "const", "properties", "required",
            "propertyOrdering", "items", "minItems", "maxItems", "additionalProperties");
    private static final String ENFORCED = "constrained decoding enforces type, nullable, enum, properties, required, "
            + "propertyOrdering, items, minItems and maxItems";

    private ResponseSchemas() {
    }

    /** Google's Schema object at {@code path}. */
    static JsonSchema google(JsonNode s, String path) {
        if (s == null || !s.isObject()) {
            throw new InvalidRequestException(path + " must be a Schema object");
        }
        checkKeywords(s, path, GOOGLE_ENFORCED, GOOGLE_ANNOTATIONS);
        boolean nullable = bool(s, "nullable", path);
        JsonNode typeNode = s.get("type");
        if (typeNode == null || typeNode.isNull() || !typeNode.isTextual()) {
            throw new InvalidRequestException(path + ".type is required: STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, "
                    + "OBJECT or NULL");
        }
        String type = typeNode.asText().toUpperCase(Locale.ROOT);
        String format = s.path("format").asText("");
        JsonNode values = s.get("enum");
        if (values != null && !values.isNull()) {
            if (!type.equals("STRING")) {
                throw new InvalidRequestException(path + ".enum is only supported with type STRING");
            }
            if (!format.isEmpty() && !format.equals("enum")) {
                throw new InvalidRequestException(path + ".format '" + format + "' is not supported with enum");
            }
            return JsonSchema.literals(stringLiterals(values, path + ".enum"), nullable);
        }
        checkFormat(type, format, path);
        return switch (type) {
            case "STRING" -> JsonSchema.of(JsonSchema.Kind.STRING, nullable);
            case "NUMBER" -> JsonSchema.of(JsonSchema.Kind.NUMBER, nullable);
            case "INTEGER" -> JsonSchema.of(JsonSchema.Kind.INTEGER, nullable);
            case "BOOLEAN" -> JsonSchema.of(JsonSchema.Kind.BOOLEAN, nullable);
            case "NULL" -> JsonSchema.of(JsonSchema.Kind.NULL, false);
            case "ARRAY" -> {
                int[] bounds = itemBounds(s, path);
                yield JsonSchema.array(google(required(s, "items", path), path + ".items"), bounds[0], bounds[1], nullable);
            }
            case "OBJECT" -> {
                Map<String, JsonSchema> properties = new LinkedHashMap<>();
                JsonNode props = properties(s, path);
                for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    properties.put(e.getKey(), google(e.getValue(), path + ".properties." + e.getKey()));
                }
                // Google writes properties in propertyOrdering, the others in alphabetical order after them
                yield object(new TreeMap<>(properties), s, path, nullable);
            }
            default -> throw new InvalidRequestException(path + ".type '" + typeNode.asText() + "' is not one of "
                    + "STRING, NUMBER, INTEGER, BOOLEAN, ARRAY, OBJECT, NULL");
        };
    }

    /** A JSON Schema at {@code path}. */
    static JsonSchema json(JsonNode s, String path) {
        if (s == null || !s.isObject()) {
            throw new InvalidRequestException(path + " must be a JSON Schema object");
        }
        checkKeywords(s, path, JSON_ENFORCED, JSON_ANNOTATIONS);
        JsonNode additional = s.get("additionalProperties");
        if (additional != null && !additional.isBoolean() && !additional.isObject()) {
            throw new InvalidRequestException(path + ".additionalProperties must be a boolean or a schema");
        }
        boolean nullable = false;
        String type = null;
        JsonNode typeNode = s.get("type");
        if (typeNode != null && typeNode.isArray()) {
            for (JsonNode t : typeNode) {
                if (t.asText().equals("null")) {
                    nullable = true;
                } else if (type == null) {
                    type = t.asText();
                } else {
                    throw new InvalidRequestException(path + ".type: a list of several types other than \"null\" is "
                            + "not supported");
                }
            }
            if (type == null && nullable) {
                type = "null";
                nullable = false;
            }
        } else if (typeNode != null && typeNode.isTextual()) {
            type = typeNode.asText();
        } else if (typeNode != null) {
            throw new InvalidRequestException(path + ".type must be a type name or a list of them");
        }
        if (s.has("const") || s.has("enum")) {
            List<String> literals = new ArrayList<>();
            if (s.has("const")) {
                literals.add(s.get("const").toString());
            } else {
                JsonNode values = s.get("enum");
                if (!values.isArray() || values.isEmpty()) {
                    throw new InvalidRequestException(path + ".enum must be a non-empty list of values");
                }
                values.forEach(v -> literals.add(v.toString()));
            }
            return JsonSchema.literals(literals, nullable);
        }
        if (type == null) {
            throw new InvalidRequestException(path + ".type is required (or enum, or const)");
        }
        return switch (type) {
            case "string" -> JsonSchema.of(JsonSchema.Kind.STRING, nullable);
            case "number" -> JsonSchema.of(JsonSchema.Kind.NUMBER, nullable);
            case "integer" -> JsonSchema.of(JsonSchema.Kind.INTEGER, nullable);
            case "boolean" -> JsonSchema.of(JsonSchema.Kind.BOOLEAN, nullable);
            case "null" -> JsonSchema.of(JsonSchema.Kind.NULL, false);
            case "array" -> {
                int[] bounds = itemBounds(s, path);
                yield JsonSchema.array(json(required(s, "items", path), path + ".items"), bounds[0], bounds[1], nullable);
            }
            case "object" -> {
                Map<String, JsonSchema> properties = new LinkedHashMap<>();
                JsonNode props = properties(s, path);
                for (Iterator<Map.Entry<String, JsonNode>> it = props.fields(); it.hasNext(); ) {
                    Map.Entry<String, JsonNode> e = it.next();
                    properties.put(e.getKey(), json(e.getValue(), path + ".properties." + e.getKey()));
                }
                yield object(properties, s, path, nullable);
            }
            default -> throw new InvalidRequestException(path + ".type '" + type + "' is not one of string, number, "
                    + "integer, boolean, array, object, null");
        };
    }

    private static JsonSchema object(Map<String, JsonSchema> properties, JsonNode s, String path, boolean nullable) {
        Set<String> required = new LinkedHashSet<>(names(s.get("required"), path + ".required", properties));
        List<String> order = new ArrayList<>(names(s.get("propertyOrdering"), path + ".property_ordering", properties));
        properties.keySet().stream().filter(p -> !order.contains(p)).forEach(order::add);
        List<JsonSchema.Property> list = new ArrayList<>();
        for (String name : order) {
            list.add(new JsonSchema.Property(name, properties.get(name), required.contains(name)));
        }
        return JsonSchema.object(list, nullable);
    }

    private static List<String> names(JsonNode list, String path, Map<String, JsonSchema> properties) {
        List<String> out = new ArrayList<>();
        if (list == null || list.isNull()) {
            return out;
        }
        if (!list.isArray()) {
            throw new InvalidRequestException(path + " must be a list of property names");
        }
        for (int i = 0; i < list.size(); i++) {
            String name = list.get(i).asText();
            if (!list.get(i).isTextual() || !properties.containsKey(name)) {
                throw new InvalidRequestException(path + "[" + i + "] '" + list.get(i).asText()
                        + "' is not one of the properties " + properties.keySet());
            }
            if (out.contains(name)) {
                throw new InvalidRequestException(path + "[" + i + "] '" + name + "' is listed twice");
            }
            out.add(name);
        }
        return out;
    }

    private static JsonNode properties(JsonNode s, String path) {
        JsonNode props = s.get("properties");
        if (props == null || !props.isObject() || props.isEmpty()) {
            throw new InvalidRequestException(path + ".properties is required for an object: free-form objects are "
                    + "not supported");
        }
        return props;
    }

    private static JsonNode required(JsonNode s, String field, String path) {
        JsonNode n = s.get(field);
        if (n == null || n.isNull()) {
            throw new InvalidRequestException(path + "." + field + " is required for an array");
        }
        return n;
    }

    private static int[] itemBounds(JsonNode s, String path) {
        int min = count(s, "minItems", path + ".min_items", 0);
        int max = count(s, "maxItems", path + ".max_items", -1);
        if (max >= 0 && max < min) {
            throw new InvalidRequestException(path + ".max_items " + max + " is below min_items " + min);
        }
        return new int[]{min, max};
    }

    /** A count, as a number or as Google's int64-as-string. */
    private static int count(JsonNode s, String field, String path, int fallback) {
        JsonNode v = s.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        try {
            long n = v.isTextual() ? Long.parseLong(v.asText()) : v.isIntegralNumber() ? v.asLong() : -1;
            if (n < 0 || n > 10_000) {
                throw new NumberFormatException();
            }
            return (int) n;
        } catch (NumberFormatException e) {
            throw new InvalidRequestException(path + " must be a whole number from 0 to 10000, got " + v);
        }
    }

    private static boolean bool(JsonNode s, String field, String path) {
        JsonNode v = s.get(field);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new InvalidRequestException(path + "." + field + " must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    private static List<String> stringLiterals(JsonNode values, String path) {
        if (!values.isArray() || values.isEmpty()) {
            throw new InvalidRequestException(path + " must be a non-empty list of strings");
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < values.size(); i++) {
            if (!values.get(i).isTextual()) {
                throw new InvalidRequestException(path + "[" + i + "] must be a string, got " + values.get(i));
            }
            out.add(values.get(i).toString());
        }
        return out;
    }

    private static void checkFormat(String type, String format, String path) {
        if (format.isEmpty()) {
            return;
        }
        boolean ok = switch (type) {
            case "NUMBER" -> format.equals("float") || format.equals("double");
            case "INTEGER" -> format.equals("int32") || format.equals("int64");
            default -> false;
        };
        if (!ok) {
            throw new InvalidRequestException(path + ".format '" + format + "' is not supported for " + type);
        }
    }

    private static void checkKeywords(JsonNode s, String path, Set<String> enforced, Set<String> annotations) {
        for (Iterator<String> it = s.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            if (!enforced.contains(name) && !annotations.contains(name)) {
                throw new InvalidRequestException(path + "." + name + " is not supported: " + ENFORCED);
            }
        }
    }
}
