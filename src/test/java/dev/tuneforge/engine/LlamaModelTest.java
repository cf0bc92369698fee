package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.kernel.FreedMemory;
import dev.tuneforge.engine.kernel.ProcessMemory;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.RotaryEmbedding;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LlamaModelTest {
    @TempDir
    Path tmp;

    private static final long[] IDS = {1, 403, 407, 261, 378, 432, 383};

    private static float[] logits(LlamaModel model, long[] ids) {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor hidden = model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null);
            assertArrayEquals(new long[]{1, ids.length, model.config().hiddenSize()}, Tensors.shape(hidden));
            return Tensors.toFloats(model.logits(hidden, null));
        }
    }

    private static double maxDiff(float[] a, float[] b) {
        assertEquals(a.length, b.length);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
        }
        return d;
    }

    @Test
    void shardedCheckpointLoadsTheSameWeightsAsASingleFile() throws Exception {
        var single = TinyModels.write(tmp.resolve("single"), TinyModels.Spec.llama(), 7);
        var sharded = TinyModels.write(tmp.resolve("sharded"),
                new TinyModels.Spec("llama", true, 2, false, ScalarType.Float, 3), 7);
        LlamaModel a = LlamaModel.load(new HfModelDirectory(single), ScalarType.Float);
        LlamaModel b = LlamaModel.load(new HfModelDirectory(sharded), ScalarType.Float);
        assertEquals(0.0, maxDiff(logits(a, IDS), logits(b, IDS)));
    }

    @Test
    void kvCacheDecodingEqualsFullSequenceForward() throws Exception {
        for (TinyModels.Spec spec : new TinyModels.Spec[]{TinyModels.Spec.llama(),
                new TinyModels.Spec("qwen2", false, 1, false, ScalarType.Float, 1),
                new TinyModels.Spec("llama", false, 4, true, ScalarType.Float, 1)}) {
            Path dir = TinyModels.write(tmp.resolve(spec.modelType() + spec.kvHeads()), spec, 3);
            LlamaModel model = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
            float[] full = logits(model, IDS);
            int vocab = model.config().vocabSize();
            try (NoGradGuard g = new NoGradGuard()) {
                KvCache cache = model.newCache(IDS.length);
                // prefill 3 tokens, then 2 at once (masked chunk), then one at a time
                int[] chunks = {3, 2, 1, 1};
                int pos = 0;
                for (int n : chunks) {
                    long[] part = java.util.Arrays.copyOfRange(IDS, pos, pos + n);
                    float[] got = Tensors.toFloats(model.logits(model.forward(Tensors.longs(part, 1, n), pos, cache, null), null));
                    float[] want = java.util.Arrays.copyOfRange(full, pos * vocab, (pos + n) * vocab);
                    assertTrue(maxDiff(want, got) < 1e-4, spec + " positions " + pos + ".." + (pos + n));
                    pos += n;
                }
                assertEquals(IDS.length, cache.length());
            }
        }
    }

    @Test
    void rightPaddingDoesNotChangeRealPositions() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), TinyModels.Spec.llama(), 5)),
                ScalarType.Float);
        long[] shortIds = {1, 403, 407};
        long[] batch = new long[2 * IDS.length];
        System.arraycopy(IDS, 0, batch, 0, IDS.length);
        java.util.Arrays.fill(batch, IDS.length, batch.length, 2);
        System.arraycopy(shortIds, 0, batch, IDS.length, shortIds.length);
        int vocab = model.config().vocabSize();
        try (NoGradGuard g = new NoGradGuard()) {
            float[] both = Tensors.toFloats(model.logits(model.forward(Tensors.longs(batch, 2, IDS.length), 0, null, null), null));
            float[] alone = logits(model, shortIds);
            float[] second = java.util.Arrays.copyOfRange(both, IDS.length * vocab, (IDS.length + shortIds.length) * vocab);
            assertTrue(maxDiff(alone, second) < 1e-5);
            assertTrue(maxDiff(logits(model, IDS), java.util.Arrays.copyOfRange(both, 0, IDS.length * vocab)) < 1e-5);
        }
    }

    @Test
    void bfloat16WeightsGiveCloseLogits() {
        LlamaModel f32 = Stories.model();
        LlamaModel bf16 = LlamaModel.load(Stories.directory(), ScalarType.BFloat16);
        assertEquals(ScalarType.BFloat16, bf16.dtype());
        assertTrue(bf16.weightBytes() * 2 == f32.weightBytes());
        float[] a = logits(f32, IDS);
        float[] b = logits(bf16, IDS);
        assertTrue(maxDiff(a, b) < 0.5, "bf16 deviates by " + maxDiff(a, b));
        int vocab = f32.config().vocabSize();
        // the argmax at the last position survives bf16 rounding
        int last = IDS.length - 1;
        assertEquals(argmax(a, last * vocab, vocab), argmax(b, last * vocab, vocab));
    }

    @Test
    void llama3RopeScalingFollowsTheReferenceFormula() {
        var c = ModelConfig.parse(new ObjectMapper().createObjectNode()
                .put("hidden_size", 32).put("intermediate_size", 8).put("num_hidden_layers", 1)
                .put("num_attention_heads", 4).put("vocab_size", 8).put("head_dim", 8)
                .set("rope_scaling", new ObjectMapper().createObjectNode().put("rope_type", "llama3")
                        .put("factor", 8.0).put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
                        .put("original_max_position_embeddings", 128)));
        float[] inv = RotaryEmbedding.inverseFrequencies(c, 4);
        // high frequency kept, medium smoothed, low frequencies divided by the factor (values from the HF formula)
        assertArrayEquals(new float[]{1.0f, 0.042751178f, 0.00125f, 0.000125f}, inv, 1e-7f);
    }

    /**
     * A KV cache holds float32 or bf16; another dtype is refused by name. A dtype constant that comes back from
     * native code (a fresh instance, as JavaCPP hands out enums) is recognised by its value.
     */
    @Test
    void aKvCacheHoldsFloat32OrBfloat16() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("cache-dtype"), TinyModels.Spec.llama(), 3);
        ModelConfig config = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float).config();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new KvCache(config, 4, ScalarType.Half));
        assertEquals("a KV cache holds float32 or bfloat16, not Half", e.getMessage());
        ScalarType nativeBf16 = org.bytedeco.pytorch.global.torch.ones(2).to(ScalarType.BFloat16).scalar_type();
        LlamaModel bf16 = LlamaModel.load(new HfModelDirectory(dir), nativeBf16);
        KvCache cache = bf16.newCache(4);
        assertEquals(ScalarType.BFloat16.value, cache.dtype().value);
        assertEquals(ScalarType.Float.value,
                LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float).newCache(4).dtype().value);
        try (NoGradGuard g = new NoGradGuard()) {
            bf16.forward(Tensors.longs(new long[]{1, 5}, 1, 2), 0, cache, null);
        }
        assertEquals(2, cache.length());
    }

    /** The cache is not cleared, so a position after a gap is refused rather than attending to stale memory. */
    @Test
    void aPositionAfterAGapInTheCacheIsRefused() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("gap"), TinyModels.Spec.llama(), 3);
        LlamaModel model = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
        try (NoGradGuard g = new NoGradGuard()) {
            KvCache cache = model.newCache(16);
            model.forward(Tensors.longs(new long[]{1, 5, 9}, 1, 3), 0, cache, null);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> model.forward(Tensors.longs(new long[]{4}, 1, 1), 5, cache, null));
            assertEquals("position 5 would leave a gap: 3 positions stored", e.getMessage());
            assertEquals(3, cache.length());
            var decoder = model.decoder();
            if (decoder != null) {
                var state = decoder.newState(cache);
                IllegalStateException d = assertThrows(IllegalStateException.class,
                        () -> decoder.next(state, 4, 4, cache, null));
                assertEquals("position 4 would leave a gap: 3 positions stored", d.getMessage());
                decoder.next(state, 4, 3, cache, null);
                assertEquals(4, cache.length());
            }
        }
    }

    /**
     * Without autograd a forward pass frees each layer's intermediates when the layer is done, not when the caller's
     * scope closes: 16 layers of [8, 1024, 1024] float32 attention scores (32 MB a tensor, a few per layer) would
     * otherwise all be held at once, ~1.5 GB.
     */
    @Test
    void inferenceFreesEachLayersIntermediatesAsItGoes() {
        var c = new ObjectMapper().createObjectNode();
        c.put("model_type", "llama");
        c.put("hidden_size", 64);
        c.put("intermediate_size", 128);
        c.put("num_hidden_layers", 16);
        c.put("num_attention_heads", 8);
        c.put("num_key_value_heads", 8);
        c.put("vocab_size", 128);
        c.put("max_position_embeddings", 1024);
        c.put("rms_norm_eps", 1e-5);
        LlamaModel model = LlamaModel.random(ModelConfig.parse(c), ScalarType.Float, 3);
        long[] ids = new java.util.Random(3).longs(1024, 0, 128).toArray();
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            FreedMemory.release();
            long before = ProcessMemory.resident();
            Tensor h = model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null);
            long grown = ProcessMemory.resident() - before;
            assertEquals(1024, h.size(1));
            assertTrue(grown < 500L << 20, "resident memory grew by " + (grown >> 20) + " MB in a 1024-token pass");
        }
    }

    @Test
    void configErrorsNameTheProblem() {
        var om = new ObjectMapper();
        var e = assertThrows(IllegalArgumentException.class, () -> ModelConfig.parse(om.createObjectNode()
                .put("model_type", "gpt2")));
        assertTrue(e.getMessage().contains("gpt2"));
        var missing = assertThrows(IllegalArgumentException.class, () -> ModelConfig.parse(om.createObjectNode()
                .put("hidden_size", 8)));
        assertTrue(missing.getMessage().contains("num_attention_heads"), missing.getMessage());
    }

    private static int argmax(float[] a, int from, int n) {
        int best = from;
        for (int i = from; i < from + n; i++) {
            if (a[i] > a[best]) {
                best = i;
            }
        }
        return best - from;
    }
}
