package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.engine.generate.FinishReason;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.generate.TextGenerator;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** stories-260k against reference outputs computed independently (float64 NumPy, Hugging Face layout). */
class ReferenceNumericsTest {

    @Test
    void tokenizationMatchesReference() {
        for (JsonNode c : Stories.reference("tokenization.json").get("cases")) {
            String text = c.get("text").asText();
            long[] ids = Stories.tokenizer().encode(text, true);
            assertArrayEquals(Stories.longs(c.get("ids")), ids, () -> "ids of " + text);
            assertEquals(c.get("decoded").asText(), Stories.tokenizer().decode(ids), () -> "decode of " + text);
        }
    }

    @Test
    void allPositionLogitsMatchReferenceWithin1e4() {
        JsonNode ref = Stories.reference("logits.json");
        long[] ids = Stories.longs(ref.get("ids"));
        LlamaModel model = Stories.model();
        float[] logits;
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor hidden = model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null);
            logits = Tensors.toFloats(model.logits(hidden, null));
        }
        int vocab = model.config().vocabSize();
        double maxDiff = 0;
        for (int pos = 0; pos < ids.length; pos++) {
            JsonNode row = ref.get("logits").get(pos);
            for (int v = 0; v < vocab; v++) {
                maxDiff = Math.max(maxDiff, Math.abs(row.get(v).asDouble() - logits[pos * vocab + v]));
            }
        }
        JsonNode last = ref.get("last_logits");
        for (int v = 0; v < vocab; v++) {
            maxDiff = Math.max(maxDiff, Math.abs(last.get(v).asDouble() - logits[(ids.length - 1) * vocab + v]));
        }
        assertTrue(maxDiff < 1e-4, "max |logit diff| " + maxDiff);
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "single-token decoder: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void greedyDecodingReproducesEveryReferenceContinuation(boolean singleTokenDecoder) {
        if (singleTokenDecoder) {
            org.junit.jupiter.api.Assertions.assertNotNull(Stories.model().decoder(), "the single-token decoder runs (jdk.incubator.vector)");
        }
        JsonNode ref = Stories.reference("greedy.json");
        TextGenerator generator = new TextGenerator(Stories.model(), Stories.tokenizer(), singleTokenDecoder);
        int maxNew = ref.get("max_new_tokens").asInt();
        for (JsonNode c : ref.get("cases")) {
            long[] prompt = Stories.tokenizer().encode(c.get("prompt").asText(), true);
            assertArrayEquals(Stories.longs(c.get("prompt_ids")), prompt);
            GenerationResult r = generator.generate(prompt, null, GenerationOptions.greedy(maxNew),
                    Set.of((long) ref.get("eos_token_id").asInt()));
            assertArrayEquals(Stories.longs(c.get("new_ids")), r.outputIds(), () -> "continuation of " + c.get("prompt"));
            assertEquals(c.get("new_text").asText(), r.text());
            assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
            assertEquals(prompt.length, r.promptTokenCount());
        }
    }
}
