package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Multi-turn contents and systemInstruction through the chat template (or the plain format), over HTTP. */
class ConversationApiTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static ServerConfig config;
    static Http http;

    static final String SYSTEM = "{\"parts\":[{\"text\":\"Be brief.\"}]}";
    static final String THREE_TURNS = "[{\"role\":\"user\",\"parts\":[{\"text\":\"Hi\"}]},"
            + "{\"role\":\"model\",\"parts\":[{\"text\":\"Hello! \"}]},"
            + "{\"role\":\"user\",\"parts\":[{\"text\":\" Tell me \"},{\"text\":\"a story.\"}]}]";
    /** Gemma 3's rendering of the conversation above (the shared fixture's reference for it). */
    static final String GEMMA_RENDERED = "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
            + "Hello!<end_of_turn>\n<start_of_turn>user\nTell me a story.<end_of_turn>\n<start_of_turn>model\n";

    @BeforeAll
    static void start() throws Exception {
        config = ChatModels.config(dataDir);
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        http = Callers.http(server, "p");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static BaseModel base(String id) {
        return config.catalog().load(config.catalog().resolve(id));
    }

    @Test
    void aChatTemplateRendersEveryTurnAndTheSystemInstruction() {
        BaseModel chat = base("stories-chat");
        long[] expected = chat.tokenizer().encode(GEMMA_RENDERED, false);
        String body = "{\"systemInstruction\":" + SYSTEM + ",\"contents\":" + THREE_TURNS
                + ",\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":12}}";
        JsonNode count = http.post("/v1beta/models/stories-chat:countTokens", "{\"contents\":" + THREE_TURNS + "}").json();
        assertEquals(chat.tokenizer().encode(GEMMA_RENDERED.replace("Be brief.\n\n", ""), false).length,
                count.get("totalTokens").asInt(), count.toString());
        JsonNode full = http.post("/v1beta/models/stories-chat:countTokens", "{\"generateContentRequest\":" + body + "}").json();
        assertEquals(expected.length, full.get("totalTokens").asInt(), full.toString());

        JsonNode r = http.post("/v1beta/models/stories-chat:generateContent", body).json();
        GenerationResult local = chat.generate(expected, null, GenerationOptions.greedy(12), chat.promptFormat().stopIds(),
                t -> { });
        assertEquals(local.text(), r.get("candidates").get(0).get("content").get("parts").get(0).get("text").asText());
        assertEquals(expected.length, r.get("usageMetadata").get("promptTokenCount").asInt());

        String streamed = http.post("/v1beta/models/stories-chat:streamGenerateContent", body).body();
        StringBuilder text = new StringBuilder();
        ChatModels.json(streamed).forEach(c -> text.append(c.get("candidates").get(0).get("content").get("parts").get(0)
                .get("text").asText()));
        assertEquals(local.text(), text.toString());
    }

    @Test
    void withoutATemplateABaseModelContinuesTheTurnsJoinedByNewlines() {
        BaseModel plain = base("stories-260k");
        String body = "{\"systemInstruction\":" + SYSTEM + ",\"contents\":" + THREE_TURNS
                + ",\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":10}}";
        long[] expected = plain.tokenizer().encode("Be brief.\nHi\nHello! \n Tell me a story.", true);
        JsonNode count = http.post("/v1beta/models/stories-260k:countTokens", "{\"generateContentRequest\":" + body + "}").json();
        assertEquals(expected.length, count.get("totalTokens").asInt());
        JsonNode r = http.post("/v1beta/models/stories-260k:generateContent", body).json();
        GenerationResult local = plain.generate(expected, null, GenerationOptions.greedy(10), plain.eosIds(), t -> { });
        assertEquals(local.text(), r.get("candidates").get(0).get("content").get("parts").get(0).get("text").asText());
    }

    @Test
    void aTemplateWithoutPlaceForTheSystemInstructionRefusesIt() {
        Http.Response r = http.post("/v1beta/models/stories-nosystem:generateContent", "{\"systemInstruction\":" + SYSTEM
                + ",\"contents\":" + THREE_TURNS + "}");
        assertEquals(400, r.status(), r.body());
        String message = r.json().get("error").get("message").asText();
        assertTrue(message.startsWith("system_instruction: the chat template of models/stories-nosystem"), message);
        // without it the same conversation is fine
        assertEquals(200, http.post("/v1beta/models/stories-nosystem:countTokens", "{\"contents\":" + THREE_TURNS + "}").status());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            a model turn first | [{"role":"model","parts":[{"text":"a"}]},{"role":"user","parts":[{"text":"b"}]}] | | contents[0].role must be 'user'
            two user turns in a row | [{"role":"user","parts":[{"text":"a"}]},{"role":"user","parts":[{"text":"b"}]}] | | contents[1].role must be 'model'
            a model turn last | [{"role":"user","parts":[{"text":"a"}]},{"role":"model","parts":[{"text":"b"}]}] | | contents[1].role must be 'user': the last turn
            an unknown role | [{"role":"assistant","parts":[{"text":"a"}]}] | | contents[0].role must be 'user'
            a turn without role among several | [{"role":"user","parts":[{"text":"a"}]},{"parts":[{"text":"b"}]},{"role":"user","parts":[{"text":"c"}]}] | | contents[1].role is required
            empty parts | [{"role":"user","parts":[{"text":"a"}]},{"role":"model","parts":[]},{"role":"user","parts":[{"text":"c"}]}] | | contents[1].parts is required
            a turn of blank text | [{"role":"user","parts":[{"text":"  "}]}] | | contents[0].parts: the turn has no text
            a function call part | [{"role":"user","parts":[{"functionCall":{"name":"f"}}]}] | | contents[0].parts[0]: only text parts are supported (got functionCall)
            a system instruction from the model | [{"parts":[{"text":"a"}]}] | {"role":"model","parts":[{"text":"x"}]} | system_instruction.role must be 'system' or 'user'
            an empty system instruction | [{"parts":[{"text":"a"}]}] | {"parts":[]} | system_instruction.parts is required
            """)
    void badConversationsAreRefusedNamingTheField(String name, String contents, String system, String message) {
        String body = "{\"contents\":" + contents + (system == null ? "" : ",\"system_instruction\":" + system) + "}";
        for (String method : new String[]{"generateContent", "streamGenerateContent", "countTokens"}) {
            Http.Response r = http.post("/v1beta/models/stories-chat:" + method, body);
            assertEquals(400, r.status(), method + " " + r.body());
            JsonNode e = r.json().get("error");
            assertEquals("INVALID_ARGUMENT", e.get("status").asText());
            assertTrue(e.get("message").asText().startsWith(message), method + ": " + e.get("message").asText());
        }
        Http.Response wrapped = http.post("/v1beta/models/stories-chat:countTokens", "{\"generateContentRequest\":" + body + "}");
        assertEquals(400, wrapped.status());
        assertTrue(wrapped.json().get("error").get("message").asText().startsWith("generate_content_request." + message),
                wrapped.body());
    }

    @Test
    void aConversationLongerThanTheContextIsRefusedBeforeStreaming() {
        String body = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"" + "x ".repeat(1000) + "\"}]}]}";
        for (String method : new String[]{"generateContent", "streamGenerateContent"}) {
            Http.Response r = http.post("/v1beta/models/stories-chat:" + method, body);
            assertEquals(400, r.status(), r.body());
            assertTrue(r.json().get("error").get("message").asText().matches(
                    "contents: the prompt has \\d+ tokens; the context of models/stories-chat is 512 tokens"), r.body());
        }
        assertEquals(200, http.post("/v1beta/models/stories-chat:countTokens", body).status());
    }

    @Test
    void countTokensTakesContentsOrARequestNotBoth() {
        Http.Response r = http.post("/v1beta/models/stories-chat:countTokens", "{\"contents\":" + THREE_TURNS
                + ",\"generateContentRequest\":{\"contents\":" + THREE_TURNS + "}}");
        assertEquals(400, r.status());
        assertTrue(r.json().get("error").get("message").asText().contains("mutually exclusive"), r.body());
        Http.Response other = http.post("/v1beta/models/stories-chat:countTokens", "{\"generateContentRequest\":"
                + "{\"model\":\"models/stories-260k\",\"contents\":" + THREE_TURNS + "}}");
        assertEquals(400, other.status());
        assertTrue(other.json().get("error").get("message").asText().startsWith("generate_content_request.model"), other.body());
    }
}
