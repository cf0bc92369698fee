package dev.tuneforge.engine.generate.json;

import java.util.ArrayList;
import java.util.List;

/**
 * The part of a JSON schema that constrained decoding enforces: a value's type (string, number, integer, boolean,
 * null, object, array) or a list of allowed literal values (enum), whether null is also allowed, an object's
 * properties in the order they are written (required ones always, optional ones possibly skipped), an array's item
 * schema and item count bounds. Also the fewest characters a value of it can take, which lets decoding close the
 * text before its token budget runs out.
 */
public final class JsonSchema {
    public enum Kind { STRING, NUMBER, INTEGER, BOOLEAN, NULL, OBJECT, ARRAY, ENUM }

    /** An object property: its name, schema, and whether it must appear. */
    public record Property(String name, JsonSchema schema, boolean required) {
    }

    private final Kind kind;
    private final boolean nullable;
    private final List<String> literals;
    private final List<Property> properties;
    private final JsonSchema items;
    private final int minItems;
    private final int maxItems;
    /** Object: each property's key as written after the opening quote ({@code name"}, JSON-escaped). */
    private final String[] keyTexts;
    /** Object: characters of property j written in full ({@code "key":value}) at its shortest. */
    private final int[] keyCost;
    /** Object: the fewest characters that close it once properties before index k are done (commas, required ones, '}'). */
    private final int[] minAfter;
    private final int minChars;

    private JsonSchema(Kind kind, boolean nullable, List<String> literals, List<Property> properties, JsonSchema items,
                       int minItems, int maxItems) {
        this.kind = kind;
        this.nullable = nullable;
        this.literals = List.copyOf(literals);
        this.properties = List.copyOf(properties);
        this.items = items;
        this.minItems = minItems;
        this.maxItems = maxItems;
        int n = this.properties.size();
        keyTexts = new String[n];
        keyCost = new int[n];
        minAfter = new int[n + 1];
        minAfter[n] = 1;
        for (int j = n - 1; j >= 0; j--) {
            Property p = this.properties.get(j);
            keyTexts[j] = JsonText.escape(p.name()) + "\"";
            keyCost[j] = 1 + keyTexts[j].length() + 1 + p.schema().minChars();
            minAfter[j] = minAfter[j + 1] + (p.required() ? 1 + keyCost[j] : 0);
        }
        int own = switch (kind) {
            case STRING -> 2;
            case NUMBER, INTEGER -> 1;
            case BOOLEAN, NULL -> 4;
            case ENUM -> this.literals.stream().mapToInt(String::length).min().orElse(Integer.MAX_VALUE / 4);
            case OBJECT -> 1 + minOpenObject();
            case ARRAY -> 1 + minOpenArray();
        };
        this.minChars = nullable ? Math.min(own, 4) : own;
    }

    public static JsonSchema of(Kind kind, boolean nullable) {
        return new JsonSchema(kind, nullable, List.of(), List.of(), null, 0, -1);
    }

    /** Exactly one of {@code literals}, each the JSON text of a value (a string literal with its quotes). */
    public static JsonSchema literals(List<String> literals, boolean nullable) {
        if (literals.isEmpty()) {
            throw new IllegalArgumentException("an enum needs at least one value");
        }
        List<String> all = new ArrayList<>(literals);
        if (nullable && !all.contains("null")) {
            all.add("null");
        }
        return new JsonSchema(Kind.ENUM, false, all, List.of(), null, 0, -1);
    }

    public static JsonSchema object(List<Property> properties, boolean nullable) {
        return new JsonSchema(Kind.OBJECT, nullable, List.of(), properties, null, 0, -1);
    }

    /** An array of {@code items}, with at least {@code minItems} and at most {@code maxItems} (-1: no limit). */
    public static JsonSchema array(JsonSchema items, int minItems, int maxItems, boolean nullable) {
        return new JsonSchema(Kind.ARRAY, nullable, List.of(), List.of(), items, minItems, maxItems);
    }

    public Kind kind() {
        return kind;
    }

    public boolean nullable() {
        return nullable;
    }

    public List<String> literals() {
        return literals;
    }

    public List<Property> properties() {
        return properties;
    }

    public JsonSchema items() {
        return items;
    }

    public int minItems() {
        return minItems;
    }

    public int maxItems() {
        return maxItems;
    }

    /** The fewest characters a value of this schema takes. */
    public int minChars() {
        return minChars;
    }

    String keyText(int j) {
        return keyTexts[j];
    }

    int keyCost(int j) {
        return keyCost[j];
    }

    /** The fewest characters that finish an object whose properties before index {@code k} are done (after a value). */
    int minAfter(int k) {
        return minAfter[k];
    }

    /** Properties that may come next after those before {@code from}: up to and including the first required one. */
    int[] candidates(int from) {
        int end = from;
        while (end < properties.size()) {
            end++;
            if (properties.get(end - 1).required()) {
                break;
            }
        }
        int[] out = new int[end - from];
        for (int j = from; j < end; j++) {
            out[j - from] = j;
        }
        return out;
    }

    /** Whether a required property remains at index {@code from} or later. */
    boolean requiredFrom(int from) {
        for (int j = from; j < properties.size(); j++) {
            if (properties.get(j).required()) {
                return true;
            }
        }
        return false;
    }

    /** The fewest characters that finish an object just opened. */
    int minOpenObject() {
        int required = 0;
        int sum = 0;
        for (int j = 0; j < properties.size(); j++) {
            if (properties.get(j).required()) {
                required++;
                sum += keyCost[j];
            }
        }
        return sum + Math.max(0, required - 1) + 1;
    }

    /** The fewest characters that finish an array just opened. */
    int minOpenArray() {
        return minItems == 0 ? 1 : minItems * items.minChars() + (minItems - 1) + 1;
    }
}
