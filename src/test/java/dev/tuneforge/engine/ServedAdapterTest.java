package dev.tuneforge.engine;

import dev.tuneforge.engine.lora.AdapterDtype;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.lora.ServedAdapter;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.BatchDecoders;
import dev.tuneforge.engine.model.FallbackBatchDecoder;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.WeightDtype;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A tuned model's adapter as a server holds it: once, in one native block that every decoder reads in place, giving
 * bitwise the logits of the adapter it was saved from; about the size of its file; freed when the last holder lets
 * go, never while a sequence still decodes with it.
 */
class ServedAdapterTest {
    @TempDir
    Path tmp;

    /** Token 407 has a replaced embedding and head row; the ids pass it. */
    private static final long[] IDS = new Random(5).longs(23, 0, 515).toArray();

    static {
        IDS[4] = 407;
        IDS[15] = 407;
    }

    @Test
    void decodesBitwiseAsTheAdapterItWasSavedFromInEveryDecoder() {
        LlamaModel model = LlamaModel.random(TeamBatchDecoderTest.config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 31);
        LoraAdapter trained = TeamBatchDecoderTest.trainedAdapter(model, 8);
        PeftAdapterFormat.save(trained, tmp, "test-base");
        ServedAdapter served = PeftAdapterFormat.loadForServing(tmp, model, AdapterDtype.AUTO);
        assertFalse(served.decodeWeights().bf16(), "float32 on a float32 base");
        assertSameLogitsInEveryDecoder(model, trained, served);
        served.release();
        assertTrue(served.released());
    }

    /**
     * An adapter served on a bf16 or int8 base holds its matrices in bf16 (serving.adapterDtype auto; fp32 and bf16
     * whatever the base): half the bytes, read by every decoder as the float32 values they widen to — bitwise the logits of a float32 block holding the same (bf16-exact) values,
     * in every decoder; on the trained values themselves the logits move by far less than the adapter's update.
     */
    @Test
    void aBf16BlockDecodesAsTheSameValuesInFloat32InEveryDecoder() {
        LlamaModel model = LlamaModel.random(TeamBatchDecoderTest.config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 41);
        LoraAdapter trained = TeamBatchDecoderTest.trainedAdapter(model, 10);
        assertTrue(AdapterDtype.AUTO.bf16On(ScalarType.BFloat16) && AdapterDtype.AUTO.bf16On(WeightDtype.INT8)
                && !AdapterDtype.AUTO.bf16On(ScalarType.Float), "auto: bf16 on a bf16 or int8 base");
        assertTrue(AdapterDtype.BF16.bf16On(ScalarType.Float) && !AdapterDtype.FP32.bf16On(ScalarType.BFloat16));
        PeftAdapterFormat.save(trained, tmp, "test-base");
        ServedAdapter float32 = PeftAdapterFormat.loadForServing(tmp, model, AdapterDtype.FP32);
        ServedAdapter bf16 = PeftAdapterFormat.loadForServing(tmp, model, AdapterDtype.BF16);
        assertTrue(bf16.decodeWeights().bf16() && !float32.decodeWeights().bf16());
        long tokenRows = 2L * model.config().hiddenSize() * Float.BYTES;
        assertTrue(Math.abs(2 * (bf16.servingBytes() - tokenRows) - (float32.servingBytes() - tokenRows)) < 4096,
                bf16.servingBytes() + " bytes in bf16 against " + float32.servingBytes() + " in float32");
        float[] base = libtorchLogits(model, null);
        float[] full = libtorchLogits(model, float32);
        float[] rounded = libtorchLogits(model, bf16);
        double update = 0;
        double moved = 0;
        for (int i = 0; i < full.length; i++) {
            update = Math.max(update, Math.abs(full[i] - base[i]));
            moved = Math.max(moved, Math.abs(rounded[i] - full[i]));
        }
        assertTrue(moved > 0 && moved < update / 50, "bf16 moved the logits by " + moved + ", the update is " + update);
        float32.release();
        bf16.release();

        // A and B·scale bf16-exact (the scale, alpha / rank, is 2): both blocks hold the same values
        try (NoGradGuard g = new NoGradGuard()) {
            trained.namedParameters().values().forEach(t -> t.copy_(t.to(ScalarType.BFloat16).to(ScalarType.Float)));
        }
        trained.parametersChanged();
        assertEquals(2.0, trained.config().scale());
        float32 = ServedAdapter.of(trained, false);
        bf16 = ServedAdapter.of(trained, true);
        assertSameLogitsInEveryDecoder(model, float32, bf16);
        float32.release();
        bf16.release();
    }

    /**
     * 0 (bitwise), except for the Java decoder reading a float32 block and a bf16 one: two Vector API methods, which
     * may run interpreted, C1- or C2-compiled at the time, each summing its lanes in its own order.
     */
    private static float javaLanes(SingleTokenDecoder decoder, Adapter want, Adapter got) {
        boolean java = decoder.withoutTeam() == decoder;
        return java && want.decodeWeights().bf16() != got.decodeWeights().bf16() ? 1e-5f : 0;
    }

    /** Bitwise the same logits with {@code got} as with {@code want} in every decoder, over IDS. */
    private static void assertSameLogitsInEveryDecoder(LlamaModel model, Adapter want, Adapter got) {
        for (int chunk : new int[]{1, 5}) {
            try (BatchDecoder decoder = BatchDecoders.forModel(model)) {
                float[][] wanted = TeamBatchDecoderTest.decode(decoder, want, IDS, chunk);
                float[][] gotten = TeamBatchDecoderTest.decode(decoder, got, IDS, chunk);
                for (int p = 0; p < IDS.length; p++) {
                    assertArrayEquals(wanted[p], gotten[p], decoder.describe() + ", chunks of " + chunk + ", position " + p);
                }
            }
        }
        // the single-token decoder (the native team where it runs, and the Java one)
        for (SingleTokenDecoder decoder : new SingleTokenDecoder[]{model.decoder(), model.decoder().withoutTeam()}) {
            float[][] wanted = singleTokens(model, decoder, want);
            float[][] gotten = singleTokens(model, decoder, got);
            for (int p = 0; p < IDS.length; p++) {
                assertArrayEquals(wanted[p], gotten[p], javaLanes(decoder, want, got),
                        "single-token decoder, position " + p);
            }
        }
        // libtorch's forward pass (the fallback decoder's prompt chunks), from tensors made out of the block
        assertArrayEquals(libtorchLogits(model, want), libtorchLogits(model, got), "libtorch forward");
        try (BatchDecoder fallback = new FallbackBatchDecoder(model, false, "libtorch only, for the test")) {
            float[][] wanted = TeamBatchDecoderTest.decode(fallback, want, IDS, 7);
            float[][] gotten = TeamBatchDecoderTest.decode(fallback, got, IDS, 7);
            for (int p = 0; p < IDS.length; p++) {
                assertArrayEquals(wanted[p], gotten[p], "libtorch fallback, position " + p);
            }
        }
    }

    private static float[][] singleTokens(LlamaModel model, SingleTokenDecoder decoder, Adapter adapter) {
        KvCache cache = model.newCache(IDS.length);
        SingleTokenDecoder.State state = decoder.newState(cache);
        float[][] out = new float[IDS.length][];
        for (int p = 0; p < IDS.length; p++) {
            out[p] = decoder.next(state, (int) IDS[p], p, cache, adapter.decodeWeights()).clone();
        }
        cache.release();
        return out;
    }

    private static float[] libtorchLogits(LlamaModel model, Adapter adapter) {
        try (NoGradGuard g = new NoGradGuard()) {
            return Tensors.toFloats(model.logits(model.forward(Tensors.longs(IDS, 1, IDS.length), 0, null, adapter),
                    adapter));
        }
    }

    /**
     * The bytes a server accounts for a loaded adapter (and holds) are those of its file, give or take the file's
     * header and the block's alignment of each matrix to a cache line: one copy, where four were held before.
     */
    @Test
    void holdsAboutItsFilesBytesOnce() throws Exception {
        LlamaModel model = Stories.model();
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(), 3);
        PeftAdapterFormat.save(adapter, tmp, "stories-260k");
        long parameterBytes = adapter.namedParameters().values().stream().mapToLong(Tensor::nbytes).sum();
        long fileBytes = Files.size(tmp.resolve(PeftAdapterFormat.WEIGHTS_FILE));
        ServedAdapter served = PeftAdapterFormat.loadForServing(tmp, model, AdapterDtype.AUTO);
        long held = served.servingBytes();
        assertTrue(held >= parameterBytes, held + " bytes held for " + parameterBytes + " bytes of parameters");
        assertTrue(held <= fileBytes, held + " bytes held for a file of " + fileBytes + " bytes");
        assertTrue(held < parameterBytes * 1.05, held + " bytes held for " + parameterBytes + " of parameters");
        served.release();
    }

    /** A sequence holds its adapter: the loader's release frees it only when the sequence ends, and then at once. */
    @Test
    void theLastReleaseFreesTheBlockButNeverUnderARunningSequence() {
        LlamaModel model = LlamaModel.random(TeamBatchDecoderTest.config("qwen2", 64, 96, 4, 2, 0), ScalarType.Float, 37);
        ServedAdapter served = ServedAdapter.of(TeamBatchDecoderTest.trainedAdapter(model, 9), false);
        try (BatchDecoder decoder = BatchDecoders.forModel(model)) {
            float[][] before = TeamBatchDecoderTest.decode(decoder, served, IDS, 4);
            BatchDecoder.Sequence sequence = decoder.open(served, IDS.length);
            served.release();
            assertFalse(served.released(), "the open sequence still holds it");
            float[][] meanwhile = new float[IDS.length][];
            for (int from = 0; from < IDS.length; from += 4) {
                long[] part = java.util.Arrays.copyOfRange(IDS, from, Math.min(IDS.length, from + 4));
                System.arraycopy(TeamBatchDecoderTest.step(decoder, sequence, part, true), 0, meanwhile, from,
                        part.length);
            }
            for (int p = 0; p < IDS.length; p++) {
                assertArrayEquals(before[p], meanwhile[p], "position " + p + " after the loader's release");
            }
            sequence.close();
            assertTrue(served.released(), "freed when its last sequence ended");
            assertFalse(served.retain(), "a freed adapter cannot be held again");
            assertThrows(IllegalStateException.class, () -> decoder.open(served, 4));
        }
    }
}
