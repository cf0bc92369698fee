package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.tokenizer.TextTokenizer;

import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;

/**
 * The JSON of one generateContent answer or of its stream's chunks: candidates (with avgLogprobs, and
 * logprobsResult when asked for), usageMetadata, modelVersion and one responseId shared by every chunk.
 */
final class GenerateResponse {
    private static final SecureRandom RANDOM = new SecureRandom();
    private final GenerateContent.Target target;
    private final int promptTokens;
    private final String responseId;

    GenerateResponse(GenerateContent.Target target, int promptTokens) {
        this.target = target;
        this.promptTokens = promptTokens;
        byte[] id = new byte[16];
        RANDOM.nextBytes(id);
        this.responseId = Base64.getUrlEncoder().withoutPadding().encodeToString(id);
    }

    /** The whole answer: every candidate, and the usage of all of them. */
    ObjectNode complete(List<GenerationResult> results) {
        ObjectNode root = GoogleJson.MAPPER.createObjectNode();
        ArrayNode candidates = root.putArray("candidates");
        int outputTokens = 0;
        for (int i = 0; i < results.size(); i++) {
            GenerationResult r = results.get(i);
            candidates.add(finished(i, r.text(), r));
            outputTokens += r.outputTokenCount();
        }
        return finish(root, outputTokens);
    }

    /** A stream chunk of candidate {@code index}'s text; usage counts the prompt so far, as Google's chunks do. */
    ObjectNode chunk(int index, String text) {
        ObjectNode root = GoogleJson.MAPPER.createObjectNode();
        root.putArray("candidates").add(candidate(index, text));
        root.putObject("usageMetadata").put("promptTokenCount", promptTokens).put("totalTokenCount", promptTokens);
        return ids(root);
    }

    /**
     * The last stream chunk of candidate {@code index}: its last text, finishReason and log-probabilities, with
     * the usage of every candidate finished so far ({@code outputTokens}).
     */
    ObjectNode lastChunk(int index, String text, GenerationResult result, int outputTokens) {
        ObjectNode root = GoogleJson.MAPPER.createObjectNode();
        root.putArray("candidates").add(finished(index, text, result));
        return finish(root, outputTokens);
    }

    private ObjectNode finish(ObjectNode root, int outputTokens) {
        root.putObject("usageMetadata").put("promptTokenCount", promptTokens)
                .put("candidatesTokenCount", outputTokens).put("totalTokenCount", promptTokens + outputTokens);
        return ids(root);
    }

    private ObjectNode ids(ObjectNode root) {
        root.put("modelVersion", target.modelVersion());
        root.put("responseId", responseId);
        return root;
    }

    private ObjectNode finished(int index, String text, GenerationResult r) {
        ObjectNode c = candidate(index, text);
        c.put("finishReason", r.finishReason().name());
        if (r.outputTokenCount() > 0) {
            c.put("avgLogprobs", r.averageLogprob());
        }
        if (r.steps() != null) {
            TextTokenizer tokenizer = target.base().tokenizer();
            ObjectNode result = c.putObject("logprobsResult");
            ArrayNode top = result.putArray("topCandidates");
            ArrayNode chosen = result.putArray("chosenCandidates");
            for (GenerationResult.StepLogprobs step : r.steps()) {
                chosen.add(token(tokenizer, step.chosenId(), step.chosenLogprob()));
                ArrayNode list = top.addObject().putArray("candidates");
                for (int k = 0; k < step.topIds().length; k++) {
                    list.add(token(tokenizer, step.topIds()[k], step.topLogprobs()[k]));
                }
            }
            result.put("logProbabilitySum", r.logprobSum());
        }
        return c;
    }

    private static ObjectNode token(TextTokenizer tokenizer, long id, double logprob) {
        return GoogleJson.MAPPER.createObjectNode().put("token", tokenizer.tokenText(id)).put("tokenId", id)
                .put("logProbability", logprob);
    }

    private static ObjectNode candidate(int index, String text) {
        ObjectNode candidate = GoogleJson.MAPPER.createObjectNode();
        ObjectNode content = candidate.putObject("content");
        content.putArray("parts").addObject().put("text", text);
        content.put("role", "model");
        candidate.put("index", index);
        return candidate;
    }
}
