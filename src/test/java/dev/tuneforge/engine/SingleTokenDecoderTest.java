package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.kernel.CpuFeatures;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The single-token decoder against libtorch's full-sequence forward pass, the reference for its numerics. */
class SingleTokenDecoderTest {
    @TempDir
    Path tmp;

    private static final long[] IDS = {1, 403, 407, 2, 261, 378, 432, 383, 5};
    /** Positions that go through libtorch before the decoder takes over. */
    private static final int PROMPT = 3;
    /** Whether the checks run the decoder as it is chosen (the native team where built) or the Java decoder. */
    static volatile boolean asChosen = true;


    @Test
    void matchesTheFullForwardPassWithAndWithoutAnAdapter() throws Exception {
        for (TinyModels.Spec spec : new TinyModels.Spec[]{TinyModels.Spec.llama(),
                new TinyModels.Spec("qwen2", false, 1, false, ScalarType.Float, 1),
                new TinyModels.Spec("llama", false, 4, true, ScalarType.Float, 1)}) {
            LlamaModel model = LlamaModel.load(new HfModelDirectory(
                    TinyModels.write(tmp.resolve(spec.modelType() + spec.kvHeads()), spec, 5)), ScalarType.Float);
            assertMatches(model, null, model, null, 1e-5, spec + " without adapter");
            LoraAdapter adapter = trainedAdapter(model);
            assertMatches(model, adapter, model, adapter, 1e-5, spec + " with adapter");
        }
    }

    /**
     * Where gcc is there on x86-64 Linux the build makes the native library, and on a CPU with AVX-512 the team
     * decodes: a silent fallback (a C file gcc rejects, a library that does not load) would only be slower.
     */
    @Test
    void theNativeTeamDecodesWhereItWasBuilt() throws Exception {
        boolean built = getClass().getResource("/native/linux-x86_64/libtuneforge-decoder.so") != null;
        boolean gcc = java.util.Arrays.stream(System.getenv().getOrDefault("PATH", "").split(":"))
                .anyMatch(dir -> java.nio.file.Files.isExecutable(Path.of(dir, "gcc")));
        if (gcc && "Linux".equals(System.getProperty("os.name")) && "amd64".equals(System.getProperty("os.arch"))) {
            assertTrue(built, "gcc is installed but the native library was not built: see the build's "
                    + "\"native decoder\" line");
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(asChosen && built && CpuFeatures.hasAvx512()
                && !"0".equals(System.getenv("TUNEFORGE_NATIVE_LOOP")) && !"0".equals(System.getenv("TUNEFORGE_TEAM_DECODER")),
                "the decoder as chosen: " + asChosen + ", library built: " + built + ", AVX-512: " + CpuFeatures.hasAvx512());
        LlamaModel model = LlamaModel.random(qwen2(36, 50, 3, 1), ScalarType.Float, 9);
        assertTrue(model.decoder().loop().startsWith("native team decoder"), model.decoder().loop());
        assertTrue(model.decoder().withoutTeam().loop().startsWith("native AVX-512 loop"),
                model.decoder().withoutTeam().loop());
    }

    @Test
    void handlesSizesThatAreNotMultiplesOfTheVectorWidth() {
        LlamaModel model = LlamaModel.random(qwen2(36, 50, 3, 1), ScalarType.Float, 9);
        LoraAdapter adapter = trainedAdapter(model);
        assertMatches(model, adapter, model, adapter, 1e-5, "hidden 36, head_dim 12, intermediate 50, vocab 515");
    }

    /**
     * Matrices large enough to be split across the cores in blocks (the tiny models above fit in one block). Sums of 712
     * float products in libtorch's order and in the decoder's part from 1.0e-5 to 1.7e-5 apart (measured over runs,
     * libtorch's own order following its thread count), so 3e-5 here.
     */
    @Test
    void productsSplitAcrossTheCoresMatchTheFullForwardPass() {
        LlamaModel model = LlamaModel.random(qwen2(256, 712, 4, 2), ScalarType.Float, 11);
        LoraAdapter adapter = trainedAdapter(model);
        assertMatches(model, null, model, null, 3e-5, "hidden 256, intermediate 712, without adapter");
        assertMatches(model, adapter, model, adapter, 3e-5, "hidden 256, intermediate 712, with adapter");
    }

    /**
     * A context long enough for attention to be split across the cores by positions (3 key/value heads do not
     * divide among two cores): each core's part is combined with the others' after its own softmax.
     */
    @Test
    void attentionSplitByPositionsMatchesTheFullForwardPass() {
        LlamaModel model = LlamaModel.random(qwen2(96, 160, 6, 3), ScalarType.Float, 17);
        LoraAdapter adapter = trainedAdapter(model);
        long[] ids = new java.util.Random(5).longs(100, 0, 515).toArray();
        assertMatches(model, adapter, model, adapter, ids, 3, 1e-5, "100 positions, 3 key/value heads");
    }

    /**
     * Six query heads on one key/value head of 24 dimensions: the decoder reads each key and value row once for
     * up to four query heads, here in two batches, with a vector part and a scalar tail of each row.
     */
    @Test
    void queryHeadsSharingAKeyHeadInBatchesMatchTheFullForwardPass() {
        LlamaModel model = LlamaModel.random(qwen2(144, 160, 6, 1), ScalarType.Float, 19);
        LoraAdapter adapter = trainedAdapter(model);
        long[] ids = new java.util.Random(7).longs(60, 0, 515).toArray();
        assertMatches(model, adapter, model, adapter, ids, 3, 1e-5, "6 query heads on 1 key/value head, head_dim 24");
    }

    /**
     * An adapter on some members of each projection group only (q and v without k, up without gate, down, no o):
     * the decoder multiplies the present members' A rows together with the base matrix and must add each update
     * to the right rows.
     */
    @Test
    void adaptersOnPartOfAProjectionGroupMatchTheFullForwardPass() {
        LlamaModel model = LlamaModel.random(qwen2(256, 712, 4, 2), ScalarType.Float, 13);
        LoraConfig some = new LoraConfig(4, 8, 0.0, java.util.EnumSet.of(dev.tuneforge.engine.model.Projection.Q,
                dev.tuneforge.engine.model.Projection.V, dev.tuneforge.engine.model.Projection.UP,
                dev.tuneforge.engine.model.Projection.DOWN), new long[0]);
        LoraAdapter adapter = LoraAdapter.initialize(model, some, 5);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.namedParameters().values().forEach(t -> t.add_(torch.randn(Tensors.shape(t)).mul_(new Scalar(0.1))));
        }
        adapter.parametersChanged();
        assertMatches(model, adapter, model, adapter, 1e-5, "q, v, up and down adapted");
    }

    /**
     * An int8 (Q8_0) base: the decoders' products quantize x per block of 32 (q8_rows.c) where the libtorch forward
     * multiplies the dequantized weights by x in float32, so they differ by x's rounding only: a few tenths of a
     * percent of the logits. Sizes of whole blocks split across the cores, and of partial blocks (36, 50, 12).
     */
    @Test
    void anInt8BaseDecodesAsItsForwardPassUpToTheActivationsRounding() {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.tuneforge.engine.kernel.WeightMatrix.q8Available(),
                "the Q8_0 decoder needs the native loop");
        for (ModelConfig config : new ModelConfig[]{qwen2(256, 712, 4, 2), qwen2(36, 50, 3, 1)}) {
            LlamaModel model = LlamaModel.random(config, dev.tuneforge.engine.model.WeightDtype.INT8, 21);
            assertTrue(model.decoder().loop().contains("Q8_0 rows"), model.decoder().loop());
            LoraAdapter adapter = trainedAdapter(model);
            float[] got = decodeAll(model, adapter);
            float[] want = forwardAfterPrompt(model, adapter, IDS, PROMPT);
            double maxLogit = 0;
            for (float v : want) {
                maxLogit = Math.max(maxLogit, Math.abs(v));
            }
            double diff = maxDifference(want, got);
            assertTrue(maxLogit > 0.1, "logits large enough for the comparison to mean something");
            assertTrue(diff < 0.02 * maxLogit, "hidden " + config.hiddenSize() + ": max difference " + diff
                    + " against logits up to " + maxLogit);
            assertTrue(diff > 0, "the decoder rounds x, the forward pass does not: they cannot agree exactly");
        }
    }

    private static float[] forwardAfterPrompt(LlamaModel model, LoraAdapter adapter, long[] ids, int prompt) {
        int vocab = model.config().vocabSize();
        try (NoGradGuard g = new NoGradGuard()) {
            float[] full = Tensors.toFloats(model.logits(model.forward(Tensors.longs(ids, 1, ids.length), 0, null,
                    adapter), adapter));
            return Arrays.copyOfRange(full, prompt * vocab, ids.length * vocab);
        }
    }

    /** A two-layer Qwen2 configuration (q/k/v biases, untied head, vocabulary 515). */
    private static ModelConfig qwen2(int hidden, int intermediate, int heads, int kvHeads) {
        return TeamBatchDecoderTest.config("qwen2", hidden, intermediate, heads, kvHeads, 0);
    }

    @Test
    void bfloat16WeightsAreReadAsTheSameValues() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("bf16"), new TinyModels.Spec("llama", true, 2, false, ScalarType.BFloat16, 1), 4);
        LlamaModel bf16 = LlamaModel.load(new HfModelDirectory(dir), ScalarType.BFloat16);
        // the same (bf16-representable) weights widened to float32: libtorch's reference in full precision
        LlamaModel widened = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
        LoraAdapter adapter = trainedAdapter(bf16);
        PeftAdapterFormat.save(adapter, tmp.resolve("bf16-adapter"), "bf16");
        // every position through the decoder: libtorch's bf16 pass would round the prompt's activations to bf16
        assertMatches(bf16, adapter, widened, PeftAdapterFormat.load(tmp.resolve("bf16-adapter"), widened), 0, 1e-5,
                "bf16 weights");
    }

    /**
     * A bf16 model keeps its keys and values in bf16 (as Hugging Face keeps the cache in the model's dtype). The
     * reference: the same weights widened to float32, run token by token through libtorch with a bf16 cache, which
     * rounds each key and value to bf16 on the way in and widens them again for attention; everything else is
     * float32 in both. A float32 cache gives measurably different logits, so the rounding does happen.
     */
    @Test
    void aBfloat16ModelKeepsKeysAndValuesInBfloat16() throws Exception {
        // head_dim 8 (all in the scalar tails), and head_dim 24 with six query heads on one key head (vector and
        // tail, the query heads in two batches). The larger model's keys and values come out of longer sums, which
        // the decoder adds up in another order than libtorch: a last-bit difference before the rounding to bf16
        // can move a value by one bf16 step (one of 960 keys, in the run that set this tolerance), 2e-5 in the
        // logits, against 5e-3 for no rounding at all.
        for (TinyModels.Shape shape : new TinyModels.Shape[]{TinyModels.Shape.TINY, new TinyModels.Shape(144, 96, 6)}) {
            boolean tiny = shape == TinyModels.Shape.TINY;
            int kvHeads = tiny ? 2 : 1;
            double tolerance = tiny ? 1e-5 : 1e-4;
            Path dir = TinyModels.write(tmp.resolve("bf16-cache-" + shape.hidden()),
                    new TinyModels.Spec("llama", true, kvHeads, false, ScalarType.BFloat16, 1), 4, shape);
            LlamaModel bf16 = LlamaModel.load(new HfModelDirectory(dir), ScalarType.BFloat16);
            LlamaModel widened = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
            long[] ids = new java.util.Random(9).longs(40, 0, bf16.config().vocabSize()).toArray();
            float[] got = decodeAll(bf16, null, ids, 0, bf16.newCache(ids.length));
            float[] roundedCache = stepByStep(widened, ids, new KvCache(widened.config(), ids.length, ScalarType.BFloat16));
            float[] floatCache = stepByStep(widened, ids, new KvCache(widened.config(), ids.length, ScalarType.Float));
            assertTrue(maxDifference(got, roundedCache) < tolerance, shape + " against a bf16 cache: "
                    + maxDifference(got, roundedCache));
            assertTrue(maxDifference(got, floatCache) > 10 * tolerance, shape + " against a float32 cache: "
                    + maxDifference(got, floatCache));
        }
    }

    /** Logits of every position of {@code ids}, each through libtorch alone after the ones before it in {@code cache}. */
    private static float[] stepByStep(LlamaModel model, long[] ids, KvCache cache) {
        int vocab = model.config().vocabSize();
        float[] out = new float[ids.length * vocab];
        try (NoGradGuard g = new NoGradGuard()) {
            for (int p = 0; p < ids.length; p++) {
                float[] logits = Tensors.toFloats(model.logits(model.forward(Tensors.longs(new long[]{ids[p]}, 1, 1), p,
                        cache, null), null));
                System.arraycopy(logits, 0, out, p * vocab, vocab);
            }
        }
        return out;
    }

    private static double maxDifference(float[] a, float[] b) {
        double max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs(a[i] - b[i]));
        }
        return max;
    }

    @Test
    void concurrentSequencesDecodeAsIfAlone() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(
                TinyModels.write(tmp.resolve("concurrent"), TinyModels.Spec.llama(), 6)), ScalarType.Float);
        LoraAdapter adapter = trainedAdapter(model);
        float[] tunedAlone = decodeAll(model, adapter);
        float[] baseAlone = decodeAll(model, null);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> runs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                LoraAdapter a = i % 2 == 0 ? adapter : null;
                runs.add(pool.submit((Callable<float[]>) () -> decodeAll(model, a)));
            }
            for (int i = 0; i < runs.size(); i++) {
                // the prompt's pass through libtorch may split its reductions differently under load: 1e-6, not 0
                assertArrayEquals(i % 2 == 0 ? tunedAlone : baseAlone, runs.get(i).get(), 1e-6f);
            }
        } finally {
            pool.shutdown();
        }
    }

    /** An adapter with non-zero LoRA weights and replacement rows for two of the sequence's tokens. */
    private static LoraAdapter trainedAdapter(LlamaModel model) {
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(2, 407), 3);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.namedParameters().values().forEach(t -> t.add_(torch.randn(Tensors.shape(t)).mul_(new Scalar(0.1))));
        }
        adapter.parametersChanged();
        return adapter;
    }

    private static float[] decodeAll(LlamaModel model, LoraAdapter adapter) {
        return decodeAll(model, adapter, PROMPT);
    }

    /** Logits of every position after the first {@code prompt} (which libtorch runs), from the decoder. */
    private static float[] decodeAll(LlamaModel model, LoraAdapter adapter, int prompt) {
        return decodeAll(model, adapter, IDS, prompt);
    }

    /** As {@link #decodeAll(LlamaModel, LoraAdapter, long[], int, KvCache)} with a float32 cache. */
    private static float[] decodeAll(LlamaModel model, LoraAdapter adapter, long[] ids, int prompt) {
        return decodeAll(model, adapter, ids, prompt, new KvCache(model.config(), ids.length, ScalarType.Float));
    }

    private static float[] decodeAll(LlamaModel model, LoraAdapter adapter, long[] ids, int prompt, KvCache cache) {
        SingleTokenDecoder decoder = model.decoder();
        assertNotNull(decoder, "the decoder runs on this JVM (Java 22+, jdk.incubator.vector)");
        decoder = asChosen ? decoder : decoder.withoutTeam();
        int vocab = model.config().vocabSize();
        float[] out = new float[(ids.length - prompt) * vocab];
        try (NoGradGuard g = new NoGradGuard()) {
            if (prompt > 0) {
                model.forward(Tensors.longs(Arrays.copyOf(ids, prompt), 1, prompt), 0, cache, adapter);
            }
            SingleTokenDecoder.State state = decoder.newState(cache);
            for (int p = prompt; p < ids.length; p++) {
                float[] logits = decoder.next(state, (int) ids[p], p, cache, adapter == null ? null : adapter.decodeWeights());
                System.arraycopy(logits, 0, out, (p - prompt) * vocab, vocab);
            }
        }
        return out;
    }

    private static void assertMatches(LlamaModel decoding, LoraAdapter decodingAdapter, LlamaModel reference,
                                      LoraAdapter adapter, double tolerance, String what) {
        assertMatches(decoding, decodingAdapter, reference, adapter, PROMPT, tolerance, what);
    }

    private static void assertMatches(LlamaModel decoding, LoraAdapter decodingAdapter, LlamaModel reference,
                                      LoraAdapter adapter, int prompt, double tolerance, String what) {
        assertMatches(decoding, decodingAdapter, reference, adapter, IDS, prompt, tolerance, what);
    }

    private static void assertMatches(LlamaModel decoding, LoraAdapter decodingAdapter, LlamaModel reference,
                                      LoraAdapter adapter, long[] ids, int prompt, double tolerance, String what) {
        float[] got = decodeAll(decoding, decodingAdapter, ids, prompt);
        int vocab = reference.config().vocabSize();
        float[] full;
        try (NoGradGuard g = new NoGradGuard()) {
            full = Tensors.toFloats(reference.logits(reference.forward(Tensors.longs(ids, 1, ids.length), 0, null,
                    adapter), adapter));
        }
        float[] want = Arrays.copyOfRange(full, prompt * vocab, ids.length * vocab);
        double maxDiff = 0;
        double maxLogit = 0;
        for (int i = 0; i < want.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
            maxLogit = Math.max(maxLogit, Math.abs(want[i]));
        }
        assertTrue(maxLogit > 0.1, what + ": logits large enough for the comparison to mean something");
        assertTrue(maxDiff < tolerance, what + ": max difference " + maxDiff);
    }
}
