package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** candidateCount, log-probabilities, penalties, responseId and stream usage on the bundled base model. */
class SamplingApiTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;
    static BaseModel base;
    static final String MODEL = "/v1beta/models/stories-260k:";
    static final String PROMPT = "\"contents\":[{\"parts\":[{\"text\":\"Once upon a time\"}]}]";

    @BeforeAll
    static void start() throws Exception {
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."));
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        http = Callers.http(server, "p");
        base = config.catalog().load(config.catalog().resolve("stories-260k"));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static JsonNode generate(String config) {
        Http.Response r = http.post(MODEL + "generateContent", "{" + PROMPT + ",\"generationConfig\":" + config + "}");
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    private static String text(JsonNode candidate) {
        return candidate.get("content").get("parts").get(0).get("text").asText();
    }

    @Test
    void candidatesAreIndependentSamplesEachWithItsOwnSeed() {
        JsonNode r = generate("{\"candidateCount\":4,\"temperature\":1,\"seed\":7,\"maxOutputTokens\":24}");
        JsonNode candidates = r.get("candidates");
        assertEquals(4, candidates.size());
        Set<String> texts = new HashSet<>();
        int tokens = 0;
        for (int i = 0; i < 4; i++) {
            assertEquals(i, candidates.get(i).get("index").asInt());
            JsonNode alone = generate("{\"temperature\":1,\"seed\":" + (7 + i) + ",\"maxOutputTokens\":24}");
            assertEquals(text(alone.get("candidates").get(0)), text(candidates.get(i)), "candidate " + i);
            tokens += alone.get("usageMetadata").get("candidatesTokenCount").asInt();
            texts.add(text(candidates.get(i)));
        }
        assertTrue(texts.size() > 1, "four samples at temperature 1 should not all be equal: " + texts);
        JsonNode usage = r.get("usageMetadata");
        assertEquals(tokens, usage.get("candidatesTokenCount").asInt());
        assertEquals(usage.get("promptTokenCount").asInt() + tokens, usage.get("totalTokenCount").asInt());
        JsonNode greedy = generate("{\"candidateCount\":2,\"temperature\":0,\"maxOutputTokens\":16}").get("candidates");
        assertEquals(text(greedy.get(0)), text(greedy.get(1)), "greedy decoding has one answer");
    }

    @Test
    void logprobsAreTheModelsOwnLogSoftmax() {
        JsonNode c = generate("{\"temperature\":0,\"maxOutputTokens\":12,\"responseLogprobs\":true,\"logprobs\":5}")
                .get("candidates").get(0);
        JsonNode chosen = c.get("logprobsResult").get("chosenCandidates");
        JsonNode top = c.get("logprobsResult").get("topCandidates");
        assertEquals(chosen.size(), top.size());
        assertTrue(chosen.size() > 0);
        long[] prompt = base.tokenizer().encode("Once upon a time", true);
        List<Long> ids = new ArrayList<>();
        chosen.forEach(t -> ids.add(t.get("tokenId").asLong()));
        double[][] expected = logSoftmaxAfter(prompt, ids);
        double sum = 0;
        StringBuilder tokens = new StringBuilder();
        for (int i = 0; i < chosen.size(); i++) {
            JsonNode t = chosen.get(i);
            double lp = t.get("logProbability").asDouble();
            assertEquals(expected[i][(int) t.get("tokenId").asLong()], lp, 2e-3, "step " + i);
            JsonNode list = top.get(i).get("candidates");
            assertEquals(5, list.size());
            // greedy: the chosen token is the most likely one
            assertEquals(t.get("tokenId").asLong(), list.get(0).get("tokenId").asLong(), "step " + i);
            for (int k = 0; k < 5; k++) {
                double v = list.get(k).get("logProbability").asDouble();
                assertEquals(expected[i][(int) list.get(k).get("tokenId").asLong()], v, 2e-3);
                assertTrue(v <= 0);
                if (k > 0) {
                    assertTrue(v <= list.get(k - 1).get("logProbability").asDouble(), "most likely first");
                }
            }
            sum += lp;
            tokens.append(t.get("token").asText());
        }
        assertEquals(text(c).strip(), tokens.toString().strip(), "the chosen tokens spell the text");
        assertEquals(sum / chosen.size(), c.get("avgLogprobs").asDouble(), 1e-6);
        assertEquals(sum, c.get("logprobsResult").get("logProbabilitySum").asDouble(), 1e-4);
        JsonNode plain = generate("{\"temperature\":0,\"maxOutputTokens\":12}").get("candidates").get(0);
        assertTrue(plain.get("logprobsResult") == null, "only when asked for");
        assertEquals(c.get("avgLogprobs").asDouble(), plain.get("avgLogprobs").asDouble(), 1e-9);
    }

    /** Log-softmax rows of the model's logits after the prompt and after each of {@code ids}, one full forward. */
    private static double[][] logSoftmaxAfter(long[] prompt, List<Long> ids) {
        long[] all = new long[prompt.length + ids.size()];
        System.arraycopy(prompt, 0, all, 0, prompt.length);
        for (int i = 0; i < ids.size(); i++) {
            all[prompt.length + i] = ids.get(i);
        }
        LlamaModel model = base.model();
        double[][] out = new double[ids.size()][];
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor hidden = model.forward(Tensors.longs(all, 1, all.length), 0, model.newCache(all.length), null);
            for (int i = 0; i < ids.size(); i++) {
                float[] logits = Tensors.toFloats(model.logits(hidden.select(1, prompt.length - 1 + i).select(0, 0), null));
                double max = Double.NEGATIVE_INFINITY;
                for (float v : logits) {
                    max = Math.max(max, v);
                }
                double s = 0;
                for (float v : logits) {
                    s += Math.exp(v - max);
                }
                double lse = max + Math.log(s);
                out[i] = new double[logits.length];
                for (int k = 0; k < logits.length; k++) {
                    out[i][k] = logits[k] - lse;
                }
            }
        }
        return out;
    }

    @Test
    void aFrequencyPenaltyLowersRepeatedTokens() {
        String config = "\"temperature\":0,\"maxOutputTokens\":40,\"responseLogprobs\":true,\"logprobs\":20";
        JsonNode plain = generate("{" + config + "}").get("candidates").get(0);
        JsonNode penalized = generate("{" + config + ",\"frequencyPenalty\":1.5,\"presencePenalty\":0.5}")
                .get("candidates").get(0);
        assertNotEquals(text(plain), text(penalized));
        JsonNode chosen = penalized.get("logprobsResult").get("chosenCandidates");
        JsonNode top = penalized.get("logprobsResult").get("topCandidates");
        Map<Long, Integer> counts = new HashMap<>();
        int changed = 0;
        for (int i = 0; i < chosen.size(); i++) {
            long id = chosen.get(i).get("tokenId").asLong();
            double score = chosen.get(i).get("logProbability").asDouble() - penalty(counts, id);
            for (JsonNode other : top.get(i).get("candidates")) {
                double otherScore = other.get("logProbability").asDouble() - penalty(counts, other.get("tokenId").asLong());
                assertTrue(score >= otherScore - 1e-4, "step " + i + ": the penalized argmax was chosen");
            }
            if (id != top.get(i).get("candidates").get(0).get("tokenId").asLong()) {
                changed++;
            }
            counts.merge(id, 1, Integer::sum);
        }
        assertTrue(changed > 0, "the penalty changed some choice");
    }

    private static double penalty(Map<Long, Integer> counts, long id) {
        int n = counts.getOrDefault(id, 0);
        return n == 0 ? 0 : 0.5 + 1.5 * n;
    }

    @Test
    void everyStreamChunkCarriesTheResponseIdAndUsage() {
        String body = "{" + PROMPT + ",\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":10,\"candidateCount\":2}}";
        JsonNode chunks = ChatModels.json(http.post(MODEL + "streamGenerateContent", body).body());
        assertTrue(chunks.size() > 2);
        String id = chunks.get(0).get("responseId").asText();
        assertTrue(id.length() >= 16, id);
        int prompt = chunks.get(0).get("usageMetadata").get("promptTokenCount").asInt();
        StringBuilder[] texts = {new StringBuilder(), new StringBuilder()};
        int finished = 0;
        for (JsonNode chunk : chunks) {
            assertEquals(id, chunk.get("responseId").asText());
            assertEquals(prompt, chunk.get("usageMetadata").get("promptTokenCount").asInt());
            assertTrue(chunk.get("usageMetadata").get("totalTokenCount").asInt() >= prompt);
            JsonNode c = chunk.get("candidates").get(0);
            int index = c.get("index").asInt();
            assertTrue(index >= finished, "candidates stream one after the other");
            texts[index].append(text(c));
            if (c.has("finishReason")) {
                finished++;
            }
        }
        assertEquals(2, finished);
        JsonNode last = chunks.get(chunks.size() - 1).get("usageMetadata");
        JsonNode whole = generate("{\"temperature\":0,\"maxOutputTokens\":10,\"candidateCount\":2}");
        assertEquals(whole.get("usageMetadata"), last);
        assertEquals(text(whole.get("candidates").get(0)), texts[0].toString());
        assertEquals(text(whole.get("candidates").get(1)), texts[1].toString());
        assertNotEquals(id, whole.get("responseId").asText());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            nine candidates | {"candidateCount":9} | generation_config.candidate_count must be an integer from 1 to 8
            zero candidates | {"candidateCount":0} | generation_config.candidate_count must be an integer from 1 to 8
            logprobs without responseLogprobs | {"logprobs":3} | generation_config.logprobs is only valid with response_logprobs true
            21 logprobs | {"responseLogprobs":true,"logprobs":21} | generation_config.logprobs must be an integer from 0 to 20
            responseLogprobs as text | {"responseLogprobs":"yes"} | generation_config.response_logprobs must be true or false
            a presence penalty of 2 | {"presencePenalty":2} | generation_config.presence_penalty must be a number in [-2, 2)
            a frequency penalty of -3 | {"frequencyPenalty":-3} | generation_config.frequency_penalty must be a number in [-2, 2)
            """)
    void badSamplingSettingsAreRefusedNamingTheField(String name, String config, String message) {
        for (String method : new String[]{"generateContent", "streamGenerateContent"}) {
            Http.Response r = http.post(MODEL + method, "{" + PROMPT + ",\"generationConfig\":" + config + "}");
            assertEquals(400, r.status(), r.body());
            String said = r.json().get("error").get("message").asText();
            assertTrue(said.startsWith(message), said);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            tools | "tools":[{"functionDeclarations":[{"name":"f"}]}] | tools is not supported: models/stories-260k is served without function calling
            a tool config | "toolConfig":{"functionCallingConfig":{"mode":"ANY"}} | tool_config is not supported
            cached content | "cachedContent":"cachedContents/abc" | cached_content is not supported
            an unknown harm category | "safetySettings":[{"category":"HARM_CATEGORY_TOXICITY","threshold":"BLOCK_NONE"}] | safety_settings[0].category 'HARM_CATEGORY_TOXICITY' is not one of
            an unknown threshold | "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_ALL"}] | safety_settings[0].threshold 'BLOCK_ALL' is not one of
            a category set twice | "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"OFF"},{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}] | safety_settings[1].category HARM_CATEGORY_HARASSMENT is set twice
            an image modality | "generationConfig":{"responseModalities":["TEXT","IMAGE"]} | generation_config.response_modalities[1] 'IMAGE' is not supported
            speech | "generationConfig":{"speechConfig":{"voiceConfig":{}}} | generation_config.speech_config is not supported
            a thinking budget | "generationConfig":{"thinkingConfig":{"thinkingBudget":1024}} | generation_config.thinking_config is not supported
            """)
    void fieldsThatCannotBeHonouredAreRefusedByName(String name, String field, String message) {
        for (String method : new String[]{"generateContent", "streamGenerateContent"}) {
            Http.Response r = http.post(MODEL + method, "{" + PROMPT + "," + field + "}");
            assertEquals(400, r.status(), r.body());
            String said = r.json().get("error").get("message").asText();
            assertTrue(said.startsWith(message), said);
        }
        Http.Response counted = http.post(MODEL + "countTokens", "{\"generateContentRequest\":{" + PROMPT + "," + field + "}}");
        assertEquals(400, counted.status(), counted.body());
        assertTrue(counted.json().get("error").get("message").asText().startsWith("generate_content_request." + message),
                counted.body());
    }

    @Test
    void validSafetySettingsAreAcceptedAndFilterNothing() {
        Http.Response r = http.post(MODEL + "generateContent", "{" + PROMPT + ",\"safetySettings\":[{\"category\":"
                + "\"HARM_CATEGORY_DANGEROUS_CONTENT\",\"threshold\":\"BLOCK_LOW_AND_ABOVE\"}],\"generationConfig\":"
                + "{\"temperature\":0,\"maxOutputTokens\":8,\"thinkingConfig\":{\"thinkingBudget\":0},"
                + "\"responseModalities\":[\"TEXT\"]}}");
        assertEquals(200, r.status(), r.body());
        JsonNode c = r.json().get("candidates").get(0);
        assertTrue(c.get("safetyRatings") == null && r.json().get("promptFeedback") == null, "no ratings are made up");
        assertEquals(text(generate("{\"temperature\":0,\"maxOutputTokens\":8}").get("candidates").get(0)), text(c));
    }
}
