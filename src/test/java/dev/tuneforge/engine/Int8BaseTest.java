package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.WeightDtype;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.StepReport;
import dev.tuneforge.engine.train.TrainingCancelledException;
import dev.tuneforge.engine.train.TrainingOptions;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code dtype: int8}: a base held as Q8_0 blocks. What quantizing costs (its logits against the float32 and bf16
 * bases of the same checkpoint, printed), that LoRA trains on it and resumes bit for bit.
 */
class Int8BaseTest {
    private static final Path SHARED = Path.of(System.getProperty("tuneforge.sharedModels", "../shared/models"));

    @TempDir
    Path tmp;

    @Test
    void eachWeightIsWithinHalfAStepOfItsBlockAndTheMatricesTakeAQuarterOfTheirFloat32Bytes() {
        LlamaModel fp32 = Stories.model();
        LlamaModel int8 = LlamaModel.load(Stories.directory(), WeightDtype.INT8);
        assertTrue(int8.int8());
        assertEquals(ScalarType.Float.value, int8.dtype().value, "activations, norms and the cache stay float32");
        try (NoGradGuard g = new NoGradGuard()) {
            int hidden = fp32.config().hiddenSize();
            Tensor exact = fp32.embedTokens().view(-1, hidden / 32, 32);
            Tensor step = exact.abs().amax(new long[]{2}, true).div(new org.bytedeco.pytorch.Scalar(127.0));
            Tensor error = int8.embedTokens().view(-1, hidden / 32, 32).sub(exact).abs();
            // half a step, and the step's own rounding to fp16 (11 bits) times up to 127 steps
            Tensor excess = error.sub(step.mul(new org.bytedeco.pytorch.Scalar(0.5 + 127.0 / 2048)));
            assertTrue(excess.max().item_float() <= 1e-7f, "worst error beyond the bound: " + excess.max().item_float());
            assertTrue(error.max().item_float() > 0, "the weights were rounded");
        }
        // stories-260k's float32 matrices as 34 bytes per 32 weights; norms stay float32
        double ratio = (double) int8.weightBytes() / fp32.weightBytes();
        assertTrue(ratio > 34.0 / 128 && ratio < 0.32, "int8 holds " + ratio + " of the float32 bytes");
    }

    /**
     * The quality cost, on stories-260k (its greedy reference sequences) and the tiny Gemma 3 and Qwen3 fixtures
     * (their reference prompts): every position's logits of the int8 base through the libtorch forward (weights
     * rounded) and through the single-token decoder (weights and activations rounded, the serving path) against the
     * float32 base, with bf16 against float32 for scale. The bounds are sanity, not the figures: the printed table
     * is what docs/engine.md quotes.
     */
    @Test
    void theLogitsOfAnInt8BaseStayCloseToTheFloat32Bases() {
        List<String> table = new ArrayList<>();
        table.add(String.format(Locale.ROOT, "%-12s %-15s %10s %12s %8s %6s", "model", "base", "max|dlogit|",
                "mean KL", "top-1", "pos"));
        check("stories-260k", Stories.directory(), storiesSequences(), table);
        for (String fixture : List.of("tiny-gemma3", "tiny-qwen3")) {
            Path folder = SHARED.resolve(fixture);
            List<long[]> sequences = new ArrayList<>();
            for (JsonNode c : read(folder.resolve("reference/reference.json")).get("cases")) {
                sequences.add(Stories.longs(c.get("ids")));
            }
            check(fixture, new HfModelDirectory(folder.resolve("hf")), sequences, table);
        }
        System.out.println("int8 base against float32, every position of the reference sequences:");
        table.forEach(System.out::println);
    }

    private static void check(String name, HfModelDirectory dir, List<long[]> sequences, List<String> table) {
        LlamaModel fp32 = LlamaModel.load(dir, ScalarType.Float);
        LlamaModel bf16 = LlamaModel.load(dir, ScalarType.BFloat16);
        LlamaModel int8 = LlamaModel.load(dir, WeightDtype.INT8);
        Quality bf16Quality = new Quality();
        Quality forward = new Quality();
        Quality decoded = new Quality();
        SingleTokenDecoder decoder = int8.decoder();
        for (long[] ids : sequences) {
            float[] want = logits(fp32, ids);
            bf16Quality.add(want, logits(bf16, ids), fp32.config().vocabSize());
            forward.add(want, logits(int8, ids), fp32.config().vocabSize());
            if (decoder != null) {
                decoded.add(want, decoded(int8, decoder, ids), fp32.config().vocabSize());
            }
        }
        table.add(bf16Quality.row(name, "bf16"));
        table.add(forward.row(name, "int8 forward"));
        if (decoder != null) {
            table.add(decoded.row(name, "int8 decoder"));
        }
        for (Quality q : decoder != null ? List.of(forward, decoded) : List.of(forward)) {
            assertTrue(q.meanKl() < 0.01, name + ": mean KL " + q.meanKl());
            // the tiny fixtures' random weights leave near ties that bf16 already flips at a tenth of the positions
            assertTrue(q.topOneAgreement() >= Math.min(0.9, bf16Quality.topOneAgreement() - 0.05),
                    name + ": top-1 agreement " + q.topOneAgreement());
            // Q8_0's step is max/127 of a block where bf16's is 2^-8 of each weight: a few times bf16's error, not more
            assertTrue(q.meanKl() < 50 * bf16Quality.meanKl() + 1e-6, name + ": mean KL " + q.meanKl()
                    + " against bf16's " + bf16Quality.meanKl());
        }
    }

    /** Every position's logits through the libtorch forward pass of the whole sequence. */
    static float[] logits(LlamaModel model, long[] ids) {
        try (NoGradGuard g = new NoGradGuard()) {
            return Tensors.toFloats(model.logits(model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null), null));
        }
    }

    /** Position 0 through libtorch (the prompt), every later one through the single-token decoder. */
    static float[] decoded(LlamaModel model, SingleTokenDecoder decoder, long[] ids) {
        int vocab = model.config().vocabSize();
        float[] out = new float[ids.length * vocab];
        KvCache cache = model.newCache(ids.length);
        try (NoGradGuard g = new NoGradGuard()) {
            float[] first = Tensors.toFloats(model.logits(model.forward(Tensors.longs(new long[]{ids[0]}, 1, 1), 0, cache,
                    null), null));
            System.arraycopy(first, 0, out, 0, vocab);
            SingleTokenDecoder.State state = decoder.newState(cache);
            for (int p = 1; p < ids.length; p++) {
                System.arraycopy(decoder.next(state, (int) ids[p], p, cache, null), 0, out, p * vocab, vocab);
            }
        }
        return out;
    }

    /** Max |Δlogit|, mean KL(reference ‖ other) and top-1 agreement over positions. */
    private static final class Quality {
        private double maxDiff;
        private double klSum;
        private int agree;
        private int positions;

        void add(float[] reference, float[] other, int vocab) {
            for (int p = 0; p < reference.length / vocab; p++) {
                int at = p * vocab;
                double[] lp = logSoftmax(reference, at, vocab);
                double[] lq = logSoftmax(other, at, vocab);
                double kl = 0;
                for (int v = 0; v < vocab; v++) {
                    maxDiff = Math.max(maxDiff, Math.abs(reference[at + v] - other[at + v]));
                    kl += Math.exp(lp[v]) * (lp[v] - lq[v]);
                }
                klSum += kl;
                agree += argmax(reference, at, vocab) == argmax(other, at, vocab) ? 1 : 0;
                positions++;
            }
        }

        double meanKl() {
            return klSum / positions;
        }

        double topOneAgreement() {
            return (double) agree / positions;
        }

        String row(String model, String base) {
            return String.format(Locale.ROOT, "%-12s %-15s %10.5f %12.3e %8.4f %6d", model, base, maxDiff, meanKl(),
                    topOneAgreement(), positions);
        }

        private static double[] logSoftmax(float[] x, int at, int n) {
            double max = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                max = Math.max(max, x[at + i]);
            }
            double sum = 0;
            for (int i = 0; i < n; i++) {
                sum += Math.exp(x[at + i] - max);
            }
            double log = max + Math.log(sum);
            double[] out = new double[n];
            for (int i = 0; i < n; i++) {
                out[i] = x[at + i] - log;
            }
            return out;
        }

        private static int argmax(float[] x, int at, int n) {
            int best = 0;
            for (int i = 1; i < n; i++) {
                if (x[at + i] > x[at + best]) {
                    best = i;
                }
            }
            return best;
        }
    }

    /** stories-260k's greedy reference sequences: each prompt and its continuation. */
    private static List<long[]> storiesSequences() {
        List<long[]> out = new ArrayList<>();
        for (JsonNode c : Stories.reference("greedy.json").get("cases")) {
            long[] prompt = Stories.longs(c.get("prompt_ids"));
            long[] added = Stories.longs(c.get("new_ids"));
            long[] all = Arrays.copyOf(prompt, prompt.length + added.length);
            System.arraycopy(added, 0, all, prompt.length, added.length);
            out.add(all);
        }
        return out;
    }

    /** QLoRA's setting: the adapter, the trained stop row and AdamW in float32 over the frozen Q8_0 base. */
    @Test
    void loraTrainsOnAnInt8StoriesBaseAndResumesBitForBit() throws Exception {
        LlamaModel model = LlamaModel.load(Stories.directory(), WeightDtype.INT8);
        PromptFormat format = new PromptFormat(Stories.tokenizer());
        TrainingOptions options = TrainingOptions.defaults().withEpochs(4).withBatchSize(4).withLearningRate(0.02)
                .withLora(LoraConfig.defaults(4)).withCheckpointEvery(3);
        var data = SeedExamples.NUMBERS.subList(0, 8);

        LoraTrainer straight = new LoraTrainer(model, format, data, options);
        List<Double> losses = new ArrayList<>();
        straight.train(r -> losses.add(r.meanLoss()));
        assertEquals(8, losses.size());
        assertTrue(losses.get(6) + losses.get(7) < 0.8 * (losses.get(0) + losses.get(1)), "loss " + losses);
        straight.adapter().namedParameters().values().forEach(t -> assertEquals(ScalarType.Float.value,
                t.scalar_type().value, "adapters stay float32"));

        Path checkpoint = tmp.resolve("ckpt.safetensors");
        LoraTrainer first = new LoraTrainer(model, format, data, options);
        int[] seen = {0};
        assertThrows(TrainingCancelledException.class, () -> first.train(r -> seen[0]++, checkpoint, () -> seen[0] >= 5));
        LoraTrainer resumed = new LoraTrainer(model, format, data, options);
        resumed.resumeFrom(checkpoint);
        assertEquals(3, resumed.completedSteps());
        List<StepReport> rest = new ArrayList<>();
        resumed.train(rest::add, checkpoint, () -> false);
        for (StepReport r : rest) {
            assertEquals(losses.get(r.step() - 1), r.meanLoss(), 0.0, "loss of step " + r.step());
        }
        var a = straight.adapter().namedParameters();
        var b = resumed.adapter().namedParameters();
        for (String k : a.keySet()) {
            assertTrue(Tensors.bitwiseEqual(a.get(k).detach(), b.get(k).detach()), k);
        }
    }

    private static JsonNode read(Path file) {
        try {
            return new ObjectMapper().readTree(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
