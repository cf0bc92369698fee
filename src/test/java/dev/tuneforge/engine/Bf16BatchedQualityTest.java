package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The quality cost of the batched decoder's bf16 products, which round their inputs to bf16: on the shared models
 * loaded as bf16, along each reference case's greedy path (prompt and the reference's new tokens, teacher-forced),
 * the batched decoder's logits part from libtorch's on the same bf16 weights (float32 activations) by about as much
 * as rounding the weights to bf16 moves libtorch's own from the float32 model (at most a quarter more: the two are
 * this close on tiny-gemma3, and CPUs without AVX512-BF16 sum in another order), and pick the reference's next token as
 * often. Measured: stories260K 0.459 against 0.483 (largest logit 22), 318 of 320 tokens each; tiny-gemma3 0.021
 * against 0.021, 47 of 48 each; tiny-qwen3 0.004 against 0.006, 48 of 48 each.
 */
class Bf16BatchedQualityTest {
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"stories260K", "tiny-gemma3", "tiny-qwen3"})
    void bf16InputsCostNoMoreThanBf16Weights(String name) throws IOException {
        Path folder = ModelReferenceTest.sharedModels().resolve(name);
        boolean stories = name.equals("stories260K");
        JsonNode cases = new ObjectMapper().readTree(folder.resolve(stories ? "reference/greedy.json"
                : "reference/reference.json").toFile()).get("cases");
        LlamaModel bf16 = LlamaModel.load(new HfModelDirectory(folder.resolve("hf")), ScalarType.BFloat16);
        LlamaModel fp32 = LlamaModel.load(new HfModelDirectory(folder.resolve("hf")), ScalarType.Float);
        int vocab = bf16.config().vocabSize();
        double batchedApart = 0;
        double weightsApart = 0;
        int positions = 0;
        int batchedAgree = 0;
        int libtorchAgree = 0;
        try (BatchDecoder decoder = TeamBatchDecoderTest.batchDecoder(bf16)) {
            for (JsonNode c : cases) {
                long[] prompt = ModelReferenceTest.longs(stories ? c.get("prompt_ids") : c.get("ids"));
                long[] path = concat(prompt,
                        ModelReferenceTest.longs(stories ? c.get("new_ids") : c.get("greedy").get("new_ids")));
                float[][] batched = TeamBatchDecoderTest.decode(decoder, null, path, 7);
                float[] libtorchBf16 = ModelReferenceTest.logits(bf16, path);
                float[] libtorchFp32 = ModelReferenceTest.logits(fp32, path);
                for (int p = prompt.length - 1; p < path.length - 1; p++) {
                    for (int v = 0; v < vocab; v++) {
                        int at = p * vocab + v;
                        batchedApart = Math.max(batchedApart, Math.abs(batched[p][v] - libtorchBf16[at]));
                        weightsApart = Math.max(weightsApart, Math.abs(libtorchBf16[at] - libtorchFp32[at]));
                    }
                    positions++;
                    batchedAgree += ModelReferenceTest.argmax(batched[p], 0, vocab) == path[p + 1] ? 1 : 0;
                    libtorchAgree += ModelReferenceTest.argmax(libtorchBf16, p * vocab, vocab) == path[p + 1] ? 1 : 0;
                }
            }
        }
        assertTrue(weightsApart > 0, name + ": rounding the weights moved the logits");
        assertTrue(batchedApart <= 1.25 * weightsApart, name + ": the bf16 inputs moved the logits by " + batchedApart
                + ", more than the bf16 weights did (" + weightsApart + ")");
        assertTrue(batchedAgree >= libtorchAgree - 1, name + ": the reference's greedy token is the batched decoder's at "
                + batchedAgree + " of " + positions + " positions, libtorch's bf16 at " + libtorchAgree);
    }

    private static long[] concat(long[] a, long[] b) {
        long[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
