package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.kernel.CpuFeatures;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.generate.TokenSampler;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.TeamBatchDecoder;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The native batched team decoder: rows of several sequences (different adapters, none, prompt chunks and single
 * tokens at different positions) in one step give bitwise the logits each sequence gets alone, however its prompt is
 * chunked, and those logits match libtorch's forward pass; KV pages are taken as sequences grow and given back.
 */
class TeamBatchDecoderTest {
    @TempDir
    Path tmp;

    /**
     * The decoder, which must exist wherever the native team can run (library built, AVX-512, not turned off): a
     * missing one fails here rather than skipping, as NativeDecoderBuiltTest's policy.
     */
    static BatchDecoder batchDecoder(LlamaModel model) {
        BatchDecoder decoder = model.batchDecoder();
        boolean built = TeamBatchDecoderTest.class.getResource("/native/linux-x86_64/libtuneforge-decoder.so") != null;
        boolean turnedOff = "0".equals(System.getenv("TUNEFORGE_TEAM_DECODER"))
                || "0".equals(System.getenv("TUNEFORGE_NATIVE_LOOP"));
        if (built && CpuFeatures.hasAvx512() && !turnedOff) {
            assertNotNull(decoder, "the batched team decoder runs here: " + TeamBatchDecoder.unavailableReason());
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(decoder != null,
                "no batched team decoder here: " + TeamBatchDecoder.unavailableReason());
        return decoder;
    }

    @Test
    void mixedStepsGiveEachSequenceItsLogitsAloneAndMatchLibtorch() throws Exception {
        for (TinyModels.Spec spec : new TinyModels.Spec[]{TinyModels.Spec.llama(),
                new TinyModels.Spec("qwen2", false, 1, false, ScalarType.Float, 1),
                new TinyModels.Spec("llama", false, 4, true, ScalarType.Float, 1)}) {
            LlamaModel model = LlamaModel.load(new HfModelDirectory(
                    TinyModels.write(tmp.resolve(spec.modelType() + spec.kvHeads()), spec, 5)), ScalarType.Float);
            checkMixedSteps(model, 1e-5, spec.toString());
        }
    }

    /** Products large enough to be split across the threads, with the odd row counts of every tile size. */
    @Test
    void largerMatricesSplitAcrossTheThreads() {
        LlamaModel model = LlamaModel.random(config("qwen2", 256, 712, 4, 2, 0), ScalarType.Float, 11);
        checkMixedSteps(model, 1e-5, "hidden 256, intermediate 712");
    }

    /** Six query heads on one key/value head of head_dim 24 (vector part and scalar tail, queries in two batches). */
    @Test
    void queryHeadsSharingAKeyHead() {
        LlamaModel model = LlamaModel.random(config("qwen2", 144, 160, 6, 1, 0), ScalarType.Float, 19);
        checkMixedSteps(model, 1e-5, "6 query heads on 1 key/value head");
    }

    /** Mistral with a sliding window of 5 on every layer: positions beyond it cross the window in chunks and alone. */
    @Test
    void aSlidingWindowHidesEarlierPositions() {
        LlamaModel model = LlamaModel.random(config("mistral", 64, 96, 4, 2, 5), ScalarType.Float, 23);
        checkMixedSteps(model, 1e-5, "sliding window 5");
    }

    /**
     * bf16 weights with a bf16 KV cache: the reference is the same weights widened to float32 run token by token
     * through libtorch with a bf16 cache (as SingleTokenDecoderTest's bf16 cache check). The batched products round
     * their inputs to bf16 (BatchProductTest checks them exactly), so the logits stay within a bf16 rounding's reach of
     * the float32-activation ones: within 1/64 of the largest logit (measured 0.0062 of 1.16), where float32 inputs
     * agreed to 1e-5.
     */
    @Test
    void bfloat16WeightsAndCache() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("bf16"), new TinyModels.Spec("llama", true, 2, false,
                ScalarType.BFloat16, 1), 4);
        LlamaModel bf16 = LlamaModel.load(new HfModelDirectory(dir), ScalarType.BFloat16);
        LlamaModel widened = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
        try (BatchDecoder decoder = batchDecoder(bf16)) {
            long[] ids = new Random(9).longs(40, 0, bf16.config().vocabSize()).toArray();
            float[][] alone = decode(decoder, null, ids, 7);
            KvCache cache = new KvCache(widened.config(), ids.length, ScalarType.BFloat16);
            int vocab = widened.config().vocabSize();
            double worst = 0;
            double largest = 0;
            int sameArgmax = 0;
            try (NoGradGuard g = new NoGradGuard()) {
                for (int p = 0; p < ids.length; p++) {
                    float[] want = Tensors.toFloats(widened.logits(widened.forward(Tensors.longs(new long[]{ids[p]}, 1, 1),
                            p, cache, null), null));
                    for (int v = 0; v < vocab; v++) {
                        worst = Math.max(worst, Math.abs(want[v] - alone[p][v]));
                        largest = Math.max(largest, Math.abs(want[v]));
                    }
                    sameArgmax += TokenSampler.argmax(want) == TokenSampler.argmax(alone[p]) ? 1 : 0;
                }
            }
            assertTrue(largest > 0.5, "logits large enough for the comparison to mean something: " + largest);
            assertTrue(worst < largest / 64, "bf16 against libtorch with a bf16 cache: " + worst + " (largest logit "
                    + largest + ")");
            assertTrue(sameArgmax >= ids.length - 2, "the same most likely token at " + sameArgmax + " of "
                    + ids.length + " positions");
        }
    }

    @Test
    void pagesAreTakenAsSequencesGrowAndGivenBackWhenTheyEnd() {
        LlamaModel model = LlamaModel.random(config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 3);
        try (BatchDecoder decoder = batchDecoder(model)) {
            assertEquals(0, decoder.kvBytesInUse());
            BatchDecoder.Sequence a = decoder.open(null, 4);
            BatchDecoder.Sequence b = decoder.open(null, 4);
            assertEquals(0, decoder.kvBytesInUse(), "nothing is preallocated for a sequence");
            step(decoder, a, new long[]{1, 2, 3}, false);
            long page = decoder.kvBytesInUse();
            // 2 layers × keys and values × 2 key/value heads × 16 positions × head_dim 16 × 4 bytes
            assertEquals(2L * 2 * 2 * 16 * 16 * 4, page, "one page for the first positions");
            step(decoder, a, new long[]{4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, false);
            assertEquals(page, decoder.kvBytesInUse(), "16 positions fit one page");
            step(decoder, a, new long[]{17}, true);
            assertEquals(2 * page, decoder.kvBytesInUse(), "position 16 opens a second page");
            assertEquals(17, a.length());
            step(decoder, b, new long[]{5}, true);
            assertEquals(3 * page, decoder.kvBytesInUse());
            a.close();
            assertEquals(page, decoder.kvBytesInUse());
            b.close();
            assertEquals(0, decoder.kvBytesInUse(), "every page given back");
            assertThrows(IllegalArgumentException.class, () -> step(decoder, a, new long[]{1}, true),
                    "a closed sequence cannot step");
        }
    }

    /**
     * The batched and the single-token decoder share the one native team: while another thread decodes single tokens
     * (taking the team whenever it is free), batched steps wait for it and still give exactly their logits.
     */
    @Test
    void sharesTheTeamWithTheSingleTokenDecoder() throws Exception {
        LlamaModel model = LlamaModel.random(config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 29);
        long[] ids = new Random(3).longs(30, 0, 515).toArray();
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newSingleThreadExecutor();
        java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
        java.util.concurrent.atomic.AtomicInteger singleTokens = new java.util.concurrent.atomic.AtomicInteger();
        try (BatchDecoder decoder = batchDecoder(model)) {
            float[][] alone = decode(decoder, null, ids, 1);
            java.util.concurrent.Future<?> other = pool.submit(() -> {
                SingleTokenDecoder single = model.decoder();
                while (!stop.get()) {
                    KvCache cache = model.newCache(ids.length);
                    SingleTokenDecoder.State state = single.newState(cache);
                    for (int p = 0; p < ids.length && !stop.get(); p++) {
                        single.next(state, (int) ids[p], p, cache, null);
                        singleTokens.incrementAndGet();
                    }
                }
                return null;
            });
            long waitUntil = System.nanoTime() + 60_000_000_000L;
            while (singleTokens.get() == 0 && System.nanoTime() < waitUntil) {
                Thread.onSpinWait();
            }
            for (int chunk : new int[]{1, 4, 7}) {
                float[][] meanwhile = decode(decoder, null, ids, chunk);
                for (int p = 0; p < ids.length; p++) {
                    assertArrayEquals(alone[p], meanwhile[p], "position " + p + " in chunks of " + chunk);
                }
            }
            stop.set(true);
            other.get();
            assertTrue(singleTokens.get() > 0, "the single-token decoder ran meanwhile");
        } finally {
            stop.set(true);
            pool.shutdown();
        }
    }

    @Test
    void badRowsAreRefusedByName() {
        LlamaModel model = LlamaModel.random(config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 3);
        try (BatchDecoder decoder = batchDecoder(model)) {
            BatchDecoder.Sequence a = decoder.open(null, 4);
            BatchDecoder.Sequence b = decoder.open(null, 4);
            IllegalArgumentException split = assertThrows(IllegalArgumentException.class, () -> decoder.step(List.of(
                    new BatchDecoder.Row(a, 1, false), new BatchDecoder.Row(b, 1, false), new BatchDecoder.Row(a, 2, true))));
            assertTrue(split.getMessage().contains("rows[2].sequence"), split.getMessage());
            IllegalArgumentException token = assertThrows(IllegalArgumentException.class,
                    () -> decoder.step(List.of(new BatchDecoder.Row(a, 515, true))));
            assertTrue(token.getMessage().contains("rows[0].token"), token.getMessage());
            assertEquals(0, a.length(), "a refused step leaves the sequence as it was");
        }
    }

    /**
     * Three sequences (adapter A, adapter B, none) of different lengths: their prompts in chunks of random sizes and
     * their continuations one token a step, the sequences in varying order within steps. Each sequence's logits are
     * bitwise those it gets alone (its prompt in one step, and one row a step), and within {@code tolerance} of
     * libtorch's forward pass over the whole sequence.
     */
    private static void checkMixedSteps(LlamaModel model, double tolerance, String what) {
        LoraAdapter first = trainedAdapter(model, 3);
        LoraAdapter second = trainedAdapter(model, 4);
        int vocab = model.config().vocabSize();
        Random random = new Random(17);
        long[][] ids = {random.longs(23, 0, vocab).toArray(), random.longs(31, 0, vocab).toArray(),
                random.longs(9, 0, vocab).toArray()};
        ids[0][2] = 407; // a replaced embedding and head row of the adapters
        Adapter[] adapters = {first, second, null};
        try (BatchDecoder decoder = batchDecoder(model)) {
            float[][][] mixed = new float[3][][];
            BatchDecoder.Sequence[] sequences = new BatchDecoder.Sequence[3];
            for (int s = 0; s < 3; s++) {
                sequences[s] = decoder.open(adapters[s], ids[s].length);
                mixed[s] = new float[ids[s].length][];
            }
            int[] done = new int[3];
            int[] prompt = {11, 20, 4};
            while (done[0] < ids[0].length || done[1] < ids[1].length || done[2] < ids[2].length) {
                List<BatchDecoder.Row> rows = new ArrayList<>();
                List<int[]> at = new ArrayList<>();
                int start = random.nextInt(3);
                for (int k = 0; k < 3; k++) {
                    int s = (start + k) % 3;
                    int left = ids[s].length - done[s];
                    if (left == 0 || random.nextInt(5) == 0) {
                        continue; // sometimes a sequence sits a step out
                    }
                    int count = done[s] < prompt[s] ? 1 + random.nextInt(Math.min(7, prompt[s] - done[s])) : 1;
                    for (int i = 0; i < count; i++) {
                        rows.add(new BatchDecoder.Row(sequences[s], (int) ids[s][done[s] + i], true));
                        at.add(new int[]{s, done[s] + i});
                    }
                    done[s] += count;
                }
                float[][] out = decoder.step(rows);
                for (int r = 0; r < out.length; r++) {
                    mixed[at.get(r)[0]][at.get(r)[1]] = out[r];
                }
            }
            for (int s = 0; s < 3; s++) {
                assertEquals(ids[s].length, sequences[s].length());
                sequences[s].close();
                for (int chunk : new int[]{ids[s].length, 1}) {
                    float[][] alone = decode(decoder, adapters[s], ids[s], chunk);
                    for (int p = 0; p < ids[s].length; p++) {
                        assertArrayEquals(alone[p], mixed[s][p], what + ": sequence " + s + " position " + p
                                + " among others, against alone in chunks of " + chunk);
                    }
                }
                float[] want = libtorchLogits(model, (LoraAdapter) adapters[s], ids[s]);
                double worst = 0;
                double largest = 0;
                for (int p = 0; p < ids[s].length; p++) {
                    for (int v = 0; v < vocab; v++) {
                        worst = Math.max(worst, Math.abs(want[p * vocab + v] - mixed[s][p][v]));
                        largest = Math.max(largest, Math.abs(want[p * vocab + v]));
                    }
                }
                assertTrue(largest > 0.1, what + ": logits large enough for the comparison to mean something");
                assertTrue(worst < tolerance, what + ": sequence " + s + " against libtorch: " + worst);
            }
            assertEquals(0, decoder.kvBytesInUse(), "every page given back");
        }
    }

    /** Logits of every position of {@code ids}, decoded alone in steps of {@code chunk} rows. */
    static float[][] decode(BatchDecoder decoder, Adapter adapter, long[] ids, int chunk) {
        float[][] out = new float[ids.length][];
        try (BatchDecoder.Sequence sequence = decoder.open(adapter, ids.length)) {
            for (int from = 0; from < ids.length; from += chunk) {
                long[] part = Arrays.copyOfRange(ids, from, Math.min(ids.length, from + chunk));
                float[][] logits = step(decoder, sequence, part, true);
                System.arraycopy(logits, 0, out, from, part.length);
            }
        }
        return out;
    }

    /** One step of {@code tokens} of one sequence; every row's logits where {@code all}, else only the last's. */
    static float[][] step(BatchDecoder decoder, BatchDecoder.Sequence sequence, long[] tokens, boolean all) {
        List<BatchDecoder.Row> rows = new ArrayList<>();
        for (int i = 0; i < tokens.length; i++) {
            rows.add(new BatchDecoder.Row(sequence, (int) tokens[i], all || i == tokens.length - 1));
        }
        float[][] out = decoder.step(rows);
        for (int i = 0; i < tokens.length - 1; i++) {
            if (!all) {
                assertNull(out[i], "no logits where none are wanted");
            }
        }
        return out;
    }

    private static float[] libtorchLogits(LlamaModel model, LoraAdapter adapter, long[] ids) {
        try (NoGradGuard g = new NoGradGuard()) {
            return Tensors.toFloats(model.logits(model.forward(Tensors.longs(ids, 1, ids.length), 0, null, adapter),
                    adapter));
        }
    }

    /** An adapter with non-zero LoRA weights and a replaced embedding and head row for token 407. */
    static LoraAdapter trainedAdapter(LlamaModel model, long seed) {
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(407), seed);
        // a generator of its own: seeding libtorch's global one would change what later tests draw from it
        var generator = torch.createCPUGenerator(seed);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.namedParameters().values().forEach(t -> t.add_(torch.randn(Tensors.shape(t),
                    new GeneratorOptional(generator), new TensorOptions(ScalarType.Float)).mul_(new Scalar(0.1))));
        }
        adapter.parametersChanged();
        return adapter;
    }

    /** A two-layer configuration of {@code type} (qwen2: q/k/v biases), untied head, vocabulary 515. */
    static ModelConfig config(String type, int hidden, int intermediate, int heads, int kvHeads, int window) {
        ObjectNode c = new ObjectMapper().createObjectNode();
        c.put("model_type", type);
        c.put("hidden_size", hidden);
        c.put("intermediate_size", intermediate);
        c.put("num_hidden_layers", 2);
        c.put("num_attention_heads", heads);
        c.put("num_key_value_heads", kvHeads);
        c.put("vocab_size", 515);
        c.put("max_position_embeddings", 128);
        c.put("rms_norm_eps", 1e-6);
        c.put("tie_word_embeddings", false);
        c.put("eos_token_id", 2);
        if (window > 0) {
            c.put("sliding_window", window);
        }
        return ModelConfig.parse(c);
    }
}
