package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.genai.Chat;
import com.google.genai.Client;
import com.google.genai.ResponseStream;
import com.google.genai.types.Candidate;
import com.google.genai.types.Content;
import com.google.genai.types.CountTokensResponse;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.LogprobsResultCandidate;
import com.google.genai.types.Part;
import com.google.genai.types.Schema;
import com.google.genai.types.Type;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.tokenizer.ChatTemplate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The official Google GenAI Java SDK against a real server: chats of three turns with a system instruction (on a
 * chat-template base model and on a tuned model), candidateCount, logprobs, structured output, countTokens and
 * streaming.
 */
class GenAiSdkGenerationTest {
    @TempDir
    static Path dataDir;
    static ServerConfig config;
    static TuneforgeServer server;
    static Client client;
    static String tunedModel;

    @BeforeAll
    static void start() throws Exception {
        config = ChatModels.config(dataDir);
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        Http http = Callers.http(server, "p");
        String[] apiKey = server.auth().store().createApiKey("p", "sdk", "test");
        client = Client.builder().apiKey(apiKey[1])
                .httpOptions(HttpOptions.builder().baseUrl("http://127.0.0.1:" + server.port()).build()).build();
        JsonNode op = http.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY).json();
        SeedWalkthroughTest.waitUntilDone(http, op.get("name").asText());
        tunedModel = op.get("metadata").get("tunedModel").asText();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static BaseModel base(String id) {
        return config.catalog().load(config.catalog().resolve(id));
    }

    /** Three turns of a chat; the prompt of each is the whole history, as the model's prompt format renders it. */
    private static void chatThreeTurns(String model, String baseId, String system) {
        GenerateContentConfig.Builder settings = GenerateContentConfig.builder().temperature(0f).maxOutputTokens(8);
        if (system != null) {
            settings.systemInstruction(Content.fromParts(Part.fromText(system)));
        }
        Chat chat = client.chats.create(model, settings.build());
        List<ChatTemplate.Message> turns = new ArrayList<>();
        BaseModel base = base(baseId);
        for (String message : new String[]{"Lily wanted to", "Tell me a story.", "What happened next?"}) {
            GenerateContentResponse r = chat.sendMessage(message);
            turns.add(new ChatTemplate.Message("user", message));
            long[] expected = base.promptFormat().conversationIds(system, turns);
            assertEquals(expected.length, r.usageMetadata().orElseThrow().promptTokenCount().orElseThrow(),
                    model + " turn " + turns.size());
            // the same conversation sent at once, by REST, gets the same answer
            List<Content> contents = new ArrayList<>();
            for (ChatTemplate.Message t : turns) {
                contents.add(Content.builder().role(t.role().equals("user") ? "user" : "model")
                        .parts(Part.fromText(t.content())).build());
            }
            GenerateContentResponse direct = client.models.generateContent(model, contents, settings.build());
            assertEquals(direct.text(), r.text(), model + " turn " + turns.size());
            turns.add(new ChatTemplate.Message("assistant", r.text()));
        }
        assertEquals(6, chat.getHistory(true).size());
    }

    @Test
    void chatsOfThreeTurnsOnAChatTemplateBaseWithASystemInstruction() {
        chatThreeTurns("models/stories-chat", "stories-chat", "Be brief.");
    }

    @Test
    void chatsOfThreeTurnsOnATunedModel() {
        chatThreeTurns(tunedModel, "stories-260k", null);
        chatThreeTurns(tunedModel, "stories-260k", "Answer with a number.");
    }

    @Test
    void candidatesAndLogprobs() {
        GenerateContentResponse r = client.models.generateContent("models/stories-260k", "Once upon a time",
                GenerateContentConfig.builder().candidateCount(3).temperature(1f).seed(5).maxOutputTokens(10)
                        .responseLogprobs(true).logprobs(3).build());
        List<Candidate> candidates = r.candidates().orElseThrow();
        assertEquals(3, candidates.size());
        int tokens = 0;
        for (Candidate c : candidates) {
            List<LogprobsResultCandidate> chosen = c.logprobsResult().orElseThrow().chosenCandidates().orElseThrow();
            double sum = chosen.stream().mapToDouble(t -> t.logProbability().orElseThrow()).sum();
            assertEquals(sum / chosen.size(), c.avgLogprobs().orElseThrow(), 1e-4);
            c.logprobsResult().orElseThrow().topCandidates().orElseThrow()
                    .forEach(top -> assertEquals(3, top.candidates().orElseThrow().size()));
            tokens += chosen.size();
        }
        assertEquals(tokens, r.usageMetadata().orElseThrow().candidatesTokenCount().orElseThrow());
        assertTrue(r.responseId().isPresent());
    }

    @Test
    void structuredOutputWithASchemaAndWithAJsonSchema() throws Exception {
        Schema schema = Schema.builder().type(Type.Known.OBJECT).properties(Map.of(
                        "name", Schema.builder().type(Type.Known.STRING).build(),
                        "colors", Schema.builder().type(Type.Known.ARRAY).maxItems(2L)
                                .items(Schema.builder().type(Type.Known.STRING).enum_(List.of("red", "blue")).build()).build()))
                .required(List.of("name", "colors")).build();
        for (int seed = 0; seed < 3; seed++) {
            GenerateContentResponse r = client.models.generateContent("models/stories-chat", "Lily wanted to",
                    GenerateContentConfig.builder().responseMimeType("application/json").responseSchema(schema)
                            .temperature(1f).seed(seed).maxOutputTokens(60).build());
            JsonNode v = ChatModels.json(r.text());
            assertTrue(v.get("name").isTextual(), r.text());
            assertTrue(v.get("colors").size() <= 2, r.text());
            v.get("colors").forEach(c -> assertTrue(c.asText().matches("red|blue"), r.text()));
        }
        GenerateContentResponse r = client.models.generateContent("models/stories-260k", "Once upon a time",
                GenerateContentConfig.builder().responseMimeType("application/json")
                        .responseJsonSchema(Map.of("type", "object", "properties", Map.of("ok", Map.of("type", "boolean")),
                                "required", List.of("ok"))).temperature(1f).maxOutputTokens(20).build());
        assertTrue(ChatModels.json(r.text()).get("ok").isBoolean(), r.text());
    }

    @Test
    void countTokensAndStreaming() {
        List<Content> contents = List.of(Content.builder().role("user").parts(Part.fromText("Hi")).build(),
                Content.builder().role("model").parts(Part.fromText("Hello!")).build(),
                Content.builder().role("user").parts(Part.fromText("Tell me a story.")).build());
        CountTokensResponse count = client.models.countTokens("models/stories-chat", contents, null);
        long[] expected = base("stories-chat").promptFormat().conversationIds(null, List.of(
                new ChatTemplate.Message("user", "Hi"), new ChatTemplate.Message("assistant", "Hello!"),
                new ChatTemplate.Message("user", "Tell me a story.")));
        assertEquals(expected.length, count.totalTokens().orElseThrow());

        GenerateContentConfig greedy = GenerateContentConfig.builder().temperature(0f).maxOutputTokens(12).build();
        StringBuilder text = new StringBuilder();
        Set<String> ids = new HashSet<>();
        try (ResponseStream<GenerateContentResponse> stream = client.models.generateContentStream("models/stories-chat",
                contents, greedy)) {
            for (GenerateContentResponse chunk : stream) {
                text.append(chunk.text());
                ids.add(chunk.responseId().orElseThrow());
                assertEquals(expected.length, chunk.usageMetadata().orElseThrow().promptTokenCount().orElseThrow());
            }
        }
        assertEquals(1, ids.size(), "one responseId for every chunk");
        assertEquals(client.models.generateContent("models/stories-chat", contents, greedy).text(), text.toString());
    }
}
