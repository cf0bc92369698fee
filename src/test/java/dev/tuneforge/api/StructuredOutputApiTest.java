package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * responseMimeType application/json with a schema on base models: whatever the model's distribution, sampled at
 * temperature 1 with many seeds, the text parses and matches the schema.
 */
class StructuredOutputApiTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;

    /** Google's Schema: a story with a title, a mood from a list, 1-3 characters of name and age, an optional moral. */
    static final String GOOGLE_SCHEMA = """
            {"type":"OBJECT","properties":{
              "title":{"type":"STRING"},
              "mood":{"type":"STRING","enum":["happy","sad"]},
              "characters":{"type":"ARRAY","minItems":"1","maxItems":"3","items":{"type":"OBJECT","properties":{
                 "name":{"type":"STRING"},"age":{"type":"INTEGER","nullable":true}},"required":["name","age"]}},
              "moral":{"type":"STRING","description":"optional"},
              "happy_end":{"type":"BOOLEAN"}},
             "required":["title","mood","characters","happy_end"],
             "propertyOrdering":["title","mood","characters","happy_end","moral"]}""";

    static final String JSON_SCHEMA = """
            {"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{
              "count":{"type":"integer"},"ratio":{"type":["number","null"]},"kind":{"enum":["x",1,true,null]},
              "first_name":{"type":"string"}},
             "required":["count","ratio","kind","first_name"],"additionalProperties":false}""";

    @BeforeAll
    static void start() throws Exception {
        server = new TuneforgeServer(ChatModels.config(dataDir)).start("127.0.0.1", 0);
        http = Callers.http(server, "p");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String request(String model, String schemaField, String schema, String extra) {
        return "{\"contents\":[{\"parts\":[{\"text\":\"Once upon a time\"}]}],\"generationConfig\":{"
                + "\"responseMimeType\":\"application/json\",\"" + schemaField + "\":" + schema + extra + "}}";
    }

    private static JsonNode generateJson(String model, String body) {
        Http.Response r = http.post("/v1beta/models/" + model + ":generateContent", body);
        assertEquals(200, r.status(), r.body());
        JsonNode c = r.json().get("candidates").get(0);
        String text = c.get("content").get("parts").get(0).get("text").asText();
        assertEquals("STOP", c.get("finishReason").asText(), text);
        return ChatModels.json(text);
    }

    @Test
    void googleSchemaOutputAlwaysParsesAndMatches() {
        for (String model : new String[]{"stories-260k", "stories-chat"}) {
            for (int seed = 0; seed < 6; seed++) {
                JsonNode v = generateJson(model, request(model, "responseSchema", GOOGLE_SCHEMA,
                        ",\"temperature\":1,\"seed\":" + seed + ",\"maxOutputTokens\":120"));
                assertTrue(v.get("title").isTextual(), v.toString());
                assertTrue(v.get("mood").asText().matches("happy|sad"), v.toString());
                JsonNode characters = v.get("characters");
                assertTrue(characters.size() >= 1 && characters.size() <= 3, v.toString());
                characters.forEach(ch -> {
                    assertTrue(ch.get("name").isTextual(), v.toString());
                    assertTrue(ch.get("age").isNull() || ch.get("age").isIntegralNumber(), v.toString());
                    assertEquals(2, ch.size());
                });
                assertTrue(v.get("happy_end").isBoolean(), v.toString());
                assertTrue(!v.has("moral") || v.get("moral").isTextual());
                assertEquals(4 + (v.has("moral") ? 1 : 0), v.size(), v.toString());
            }
        }
    }

    @Test
    void jsonSchemaOutputAlwaysParsesAndMatchesAndKeepsPropertyNames() {
        for (int seed = 0; seed < 6; seed++) {
            JsonNode v = generateJson("stories-260k", request("stories-260k", "responseJsonSchema", JSON_SCHEMA,
                    ",\"temperature\":1,\"seed\":" + seed + ",\"maxOutputTokens\":60"));
            assertTrue(v.get("count").isIntegralNumber(), v.toString());
            assertTrue(v.get("ratio").isNull() || v.get("ratio").isNumber(), v.toString());
            JsonNode kind = v.get("kind");
            assertTrue(kind.isNull() || kind.asText().equals("x") && kind.isTextual() || kind.isInt() && kind.asInt() == 1
                    || kind.isBoolean() && kind.asBoolean(), v.toString());
            assertTrue(v.get("first_name").isTextual(), "snake_case names stay as sent: " + v);
        }
    }

    @Test
    void aTightTokenBudgetStillClosesTheValue() {
        // the shortest value takes 69 characters; each is a token of its own at worst
        String schema = "{\"type\":\"OBJECT\",\"properties\":{\"a\":{\"type\":\"STRING\"},\"b\":{\"type\":\"ARRAY\","
                + "\"items\":{\"type\":\"NUMBER\"}}},\"required\":[\"a\",\"b\"]}";
        for (int seed = 0; seed < 4; seed++) {
            JsonNode v = generateJson("stories-260k", request("stories-260k", "responseSchema", schema,
                    ",\"temperature\":1,\"seed\":" + seed + ",\"maxOutputTokens\":16"));
            assertTrue(v.get("a").isTextual() && v.get("b").isArray(), v.toString());
        }
    }

    @Test
    void streamedAndCountedToo() {
        String body = request("stories-260k", "responseSchema", GOOGLE_SCHEMA, ",\"temperature\":0,\"maxOutputTokens\":120");
        JsonNode whole = generateJson("stories-260k", body);
        StringBuilder text = new StringBuilder();
        ChatModels.json(http.post("/v1beta/models/stories-260k:streamGenerateContent", body).body())
                .forEach(c -> text.append(c.get("candidates").get(0).get("content").get("parts").get(0).get("text").asText()));
        assertEquals(whole, ChatModels.json(text.toString()));
        assertEquals(200, http.post("/v1beta/models/stories-260k:countTokens", "{\"generateContentRequest\":" + body + "}").status());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            a pattern | responseSchema | {"type":"STRING","pattern":"a+"} | generation_config.response_schema.pattern is not supported
            anyOf | responseSchema | {"anyOf":[{"type":"STRING"}]} | generation_config.response_schema.anyOf is not supported
            a minimum deep inside | responseSchema | {"type":"OBJECT","properties":{"n":{"type":"NUMBER","minimum":1}}} | generation_config.response_schema.properties.n.minimum is not supported
            no type | responseSchema | {"description":"x"} | generation_config.response_schema.type is required
            an unknown type | responseSchema | {"type":"DATE"} | generation_config.response_schema.type 'DATE' is not one of
            an object without properties | responseSchema | {"type":"OBJECT"} | generation_config.response_schema.properties is required
            an array without items | responseSchema | {"type":"ARRAY"} | generation_config.response_schema.items is required
            a required name that is no property | responseSchema | {"type":"OBJECT","properties":{"a":{"type":"STRING"}},"required":["b"]} | generation_config.response_schema.required[0] 'b' is not one of the properties
            maxItems below minItems | responseSchema | {"type":"ARRAY","items":{"type":"STRING"},"minItems":3,"maxItems":2} | generation_config.response_schema.max_items 2 is below min_items 3
            a date-time format | responseSchema | {"type":"STRING","format":"date-time"} | generation_config.response_schema.format 'date-time' is not supported
            an enum of numbers | responseSchema | {"type":"NUMBER","enum":["1"]} | generation_config.response_schema.enum is only supported with type STRING
            a JSON Schema $ref | responseJsonSchema | {"$ref":"#/$defs/a"} | generation_config.response_json_schema.$ref is not supported
            a JSON Schema oneOf | responseJsonSchema | {"type":"object","properties":{"a":{"oneOf":[]}}} | generation_config.response_json_schema.properties.a.oneOf is not supported
            two JSON Schema types | responseJsonSchema | {"type":["string","number"]} | generation_config.response_json_schema.type: a list of several types
            a schema that is not an object | responseSchema | "STRING" | generation_config.response_schema must be a Schema object
            """)
    void unsupportedOrMalformedSchemasAreRefusedByName(String name, String field, String schema, String message) {
        Http.Response r = http.post("/v1beta/models/stories-260k:generateContent", request("stories-260k", field, schema, ""));
        assertEquals(400, r.status(), r.body());
        String said = r.json().get("error").get("message").asText();
        assertTrue(said.startsWith(message), said);
    }

    @Test
    void jsonModeNeedsASchemaAndTheSchemaNeedsJsonMode() {
        String base = "{\"contents\":[{\"parts\":[{\"text\":\"a\"}]}],\"generationConfig\":";
        String[][] cases = {
                {"{\"responseMimeType\":\"application/json\"}", "needs response_schema or response_json_schema"},
                {"{\"responseSchema\":{\"type\":\"STRING\"}}", "generation_config.response_schema requires response_mime_type application/json"},
                {"{\"responseMimeType\":\"application/json\",\"responseSchema\":{\"type\":\"STRING\"},\"responseJsonSchema\":{\"type\":\"string\"}}",
                        "mutually exclusive"},
                {"{\"responseMimeType\":\"text/x.enum\"}", "response_mime_type 'text/x.enum' is not supported"}};
        for (String[] c : cases) {
            Http.Response r = http.post("/v1beta/models/stories-260k:generateContent", base + c[0] + "}");
            assertEquals(400, r.status(), r.body());
            assertTrue(r.json().get("error").get("message").asText().contains(c[1]), r.body());
        }
    }
}
