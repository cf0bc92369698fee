package dev.tuneforge.engine.generate.json;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The character-level JSON schema matcher: what it accepts, what it refuses, and its shortest completions. */
class JsonMatcherTest {
    /** {name: string, age: integer, tags: 1–2 of "a"/"b", nick?: string|null, score?: number} */
    static final JsonSchema PERSON = JsonSchema.object(List.of(
            new JsonSchema.Property("name", JsonSchema.of(JsonSchema.Kind.STRING, false), true),
            new JsonSchema.Property("age", JsonSchema.of(JsonSchema.Kind.INTEGER, false), true),
            new JsonSchema.Property("nick", JsonSchema.of(JsonSchema.Kind.STRING, true), false),
            new JsonSchema.Property("tags", JsonSchema.array(JsonSchema.literals(List.of("\"a\"", "\"b\""), false), 1, 2,
                    false), true),
            new JsonSchema.Property("score", JsonSchema.of(JsonSchema.Kind.NUMBER, false), false)), false);

    private static boolean accepts(JsonSchema schema, String text) {
        JsonMatcher m = JsonMatcher.start(schema).feed(text);
        return m != null && m.complete();
    }

    @Test
    void acceptsValuesOfTheSchemaAndNothingElse() {
        assertTrue(accepts(PERSON, "{\"name\":\"Lily\",\"age\":3,\"tags\":[\"a\"]}"));
        assertTrue(accepts(PERSON, "{\"name\":\"L\\\"i\\u00e9\",\"age\":-30,\"nick\":null,\"tags\":[\"b\",\"a\"],\"score\":1.5e-3}"));
        assertTrue(accepts(PERSON, "{\"name\":\"\",\"age\":0,\"nick\":\"x\",\"tags\":[\"a\"]}"));
        for (String bad : new String[]{
                "{\"age\":3,\"tags\":[\"a\"]}",                              // a required property missing
                "{\"age\":3,\"name\":\"x\",\"tags\":[\"a\"]}",                 // out of order
                "{\"name\":\"x\",\"age\":3,\"tags\":[\"a\"],\"other\":1}",     // not a property
                "{\"name\":\"x\",\"age\":3.5,\"tags\":[\"a\"]}",               // not an integer
                "{\"name\":\"x\",\"age\":03,\"tags\":[\"a\"]}",                // leading zero
                "{\"name\":\"x\",\"age\":3,\"tags\":[]}",                      // too few items
                "{\"name\":\"x\",\"age\":3,\"tags\":[\"a\",\"b\",\"a\"]}",     // too many items
                "{\"name\":\"x\",\"age\":3,\"tags\":[\"c\"]}",                 // not in the enum
                "{\"name\":null,\"age\":3,\"tags\":[\"a\"]}",                  // not nullable
                "{\"name\": \"x\",\"age\":3,\"tags\":[\"a\"]}",                // whitespace
                "{\"name\":\"x\",\"age\":3,\"tags\":[\"a\"]}x",                // text after the value
                "{\"name\":\"a\nb\",\"age\":3,\"tags\":[\"a\"]}",              // a raw control character
                "{\"name\":\"x\",\"age\":3,\"tags\":[\"a\"],}"}) {             // a trailing comma
            assertFalse(accepts(PERSON, bad), bad);
        }
        assertNull(JsonMatcher.start(PERSON).feed("{\"name\":\"x\",\"age\":1234567890123456"), "16 digits");
    }

    @Test
    void minRemainingIsTheShortestCompletion() {
        String shortest = "{\"name\":\"\",\"age\":0,\"tags\":[\"a\"]}";
        assertEquals(shortest.length(), JsonMatcher.start(PERSON).minRemaining());
        for (int i = 0; i <= shortest.length(); i++) {
            JsonMatcher m = JsonMatcher.start(PERSON).feed(shortest.substring(0, i));
            assertNotNull(m);
            assertEquals(shortest.length() - i, m.minRemaining(), "after " + shortest.substring(0, i));
        }
        JsonMatcher afterNick = JsonMatcher.start(PERSON).feed("{\"name\":\"x\",\"age\":1,\"n");
        assertEquals("ick\":\"\",\"tags\":[\"a\"]}".length(), afterNick.minRemaining());
    }

    /**
     * Random writers that pick any accepted character, but only ones that leave a completion within their budget,
     * always finish within it, and what they write parses as JSON matching the schema.
     */
    @Test
    void randomWritersWithinABudgetAlwaysWriteValidJson() throws Exception {
        String alphabet = "{}[],:\"\\/-+.0123456789eEabcdefghijklmnopqrstuvwxyzABCDEFnul \n\u00e9";
        Random random = new Random(1);
        ObjectMapper json = new ObjectMapper();
        for (int run = 0; run < 300; run++) {
            int budget = PERSON.minChars() + random.nextInt(60);
            StringBuilder text = new StringBuilder();
            JsonMatcher m = JsonMatcher.start(PERSON);
            while (!(m.complete() && (random.nextInt(3) == 0 || m.minRemaining() == 0 && text.length() == budget))) {
                List<JsonMatcher> options = new ArrayList<>();
                List<Character> chars = new ArrayList<>();
                int left = budget - text.length() - 1;
                for (char c : alphabet.toCharArray()) {
                    JsonMatcher next = m.feed(c);
                    if (next != null && next.minRemaining() <= left) {
                        options.add(next);
                        chars.add(c);
                    }
                }
                if (options.isEmpty()) {
                    assertTrue(m.complete(), "stuck after " + text);
                    break;
                }
                int pick = random.nextInt(options.size());
                m = options.get(pick);
                text.append(chars.get(pick));
            }
            assertTrue(text.length() <= budget, text + " over budget " + budget);
            JsonNode value = json.readTree(text.toString());
            assertTrue(value.get("name").isTextual(), text.toString());
            assertTrue(value.get("age").isIntegralNumber(), text.toString());
            assertTrue(!value.has("nick") || value.get("nick").isNull() || value.get("nick").isTextual());
            assertTrue(!value.has("score") || value.get("score").isNumber());
            JsonNode tags = value.get("tags");
            assertTrue(tags.size() >= 1 && tags.size() <= 2, text.toString());
            tags.forEach(t -> assertTrue(t.asText().equals("a") || t.asText().equals("b")));
            assertEquals(value.size(), 3 + (value.has("nick") ? 1 : 0) + (value.has("score") ? 1 : 0));
        }
    }
}
