package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.kernel.NativeMatrix;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.AdapterWeights;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.Projection;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A tuned model's adapter as a serving process holds it: only its {@link AdapterWeights} (one native block that the
 * decoders read in place), no float32 parameters. libtorch tensors are made from that block only if a libtorch
 * forward pass runs with it (the fallback decoder's prompt chunks, where the native batched decoder is not built),
 * and freed with the block. It cannot be trained: training loads the adapter's file as a {@link LoraAdapter}.
 * <p>
 * Counted: its loader holds it once; {@link #retain} and {@link #release} as {@link AdapterWeights}'s, whose
 * decoders' sequences hold it while they run. The last release frees its memory at once.
 */
public final class ServedAdapter implements Adapter {
    private final LoraConfig config;
    private final ModelConfig modelConfig;
    private final ScalarType computeDtype;
    private final AdapterWeights weights;
    /** libtorch's copies for a forward pass, built on first use: per "layer.group" {stacked A, block-diagonal scale·B}. */
    private final Map<String, Tensor[]> inferenceWeights = new ConcurrentHashMap<>();
    private volatile TrainableTokens[] tokens;

    private ServedAdapter(LoraConfig config, ModelConfig modelConfig, ScalarType computeDtype, AdapterWeights weights) {
        this.config = config;
        this.modelConfig = modelConfig;
        this.computeDtype = computeDtype;
        this.weights = weights;
    }

    /**
     * {@code adapter}'s current weights, copied once into their native block (its low-rank matrices in bf16 where
     * {@code bf16}, else float32: {@link AdapterDtype}); nothing else of it is kept.
     */
    public static ServedAdapter of(LoraAdapter adapter, boolean bf16) {
        return new ServedAdapter(adapter.config(), adapter.modelConfig(), adapter.computeDtype(),
                adapter.buildDecodeWeights(bf16));
    }

    public LoraConfig config() {
        return config;
    }

    public ModelConfig modelConfig() {
        return modelConfig;
    }

    @Override
    public AdapterWeights decodeWeights() {
        return weights;
    }

    /** Bytes it holds: its weights' block and token rows (and nothing in libtorch unless a libtorch forward ran). */
    public long servingBytes() {
        return weights.bytes();
    }

    /** One more hold; false where its memory was already freed. */
    public boolean retain() {
        return weights.retain();
    }

    /** Gives back one hold; the last frees its memory (the block and any libtorch copies). */
    public void release() {
        if (weights.release()) {
            inferenceWeights.values().forEach(pair -> {
                pair[0].releaseReference();
                pair[1].releaseReference();
            });
            inferenceWeights.clear();
            TrainableTokens[] made = tokens;
            tokens = null;
            if (made != null) {
                for (TrainableTokens t : made) {
                    if (t != null) {
                        t.releaseTensors();
                    }
                }
            }
        }
    }

    /** Whether its memory was freed (every hold released). */
    public boolean released() {
        return weights.released();
    }

    @Override
    public Tensor addProjectionsDelta(int layer, List<Projection> group, Tensor x, Tensor y) {
        if (group.stream().allMatch(p -> weights.lowRank(layer, p) == null)) {
            return y;
        }
        Tensor[] w = inferenceWeights.computeIfAbsent(layer + "." + group, k -> groupedInferenceWeights(layer, group));
        long in = x.size(-1);
        Tensor down = torch.linear(x.reshape(-1, in), w[0]);
        return torch.addmm(y.reshape(-1, y.size(-1)), down, w[1].t()).view(dev.tuneforge.engine.tensor.Tensors.shape(y));
    }

    /**
     * {A of every member stacked, the scaled Bs block-diagonal} in the compute dtype, from the block: the same values
     * as {@link LoraAdapter}'s copies for the same parameters (the block's Bᵀ holds B·scale rounded to float32, and
     * both to bf16 where the block is bf16).
     */
    private Tensor[] groupedInferenceWeights(int layer, List<Projection> group) {
        try (var scope = new PointerScope(); var g = new NoGradGuard()) {
            long rank = 0;
            long out = 0;
            for (Projection p : group) {
                AdapterWeights.LowRank lowRank = weights.lowRank(layer, p);
                rank += lowRank == null ? 0 : lowRank.rank();
                out += p.weightShape(modelConfig)[0];
            }
            long in = group.getFirst().weightShape(modelConfig)[1];
            Tensor a = tensor(weights.stackedDown(layer, group), rank, in);
            Tensor b = torch.zeros(new long[]{out, rank}, new TensorOptions(ScalarType.Float));
            long r0 = 0;
            long o0 = 0;
            for (Projection p : group) {
                AdapterWeights.LowRank lowRank = weights.lowRank(layer, p);
                long pOut = p.weightShape(modelConfig)[0];
                if (lowRank != null) {
                    b.narrow(0, o0, pOut).narrow(1, r0, lowRank.rank())
                            .copy_(tensor(lowRank.up(), lowRank.rank(), pOut).t());
                    r0 += lowRank.rank();
                }
                o0 += pOut;
            }
            Tensor ac = a.to(computeDtype).contiguous();
            Tensor bc = b.to(computeDtype).contiguous();
            // kept past this scope until released
            ac.retainReference();
            bc.retainReference();
            return new Tensor[]{ac, bc};
        }
    }

    /** A float32 tensor [rows, cols] holding a copy of {@code values} (bf16 ones widened). */
    private static Tensor tensor(NativeMatrix values, long rows, long cols) {
        Tensor t = torch.empty(new long[]{rows, cols},
                new TensorOptions(values.bf16() ? ScalarType.BFloat16 : ScalarType.Float), new MemoryFormatOptional());
        MemorySegment.copy(values.data(), 0, MemorySegment.ofAddress(t.data_ptr().address()).reinterpret(t.nbytes()),
                0, t.nbytes());
        return values.bf16() ? t.to(ScalarType.Float) : t;
    }

    @Override
    public Tensor embed(Tensor ids, Tensor baseEmbeddings) {
        TrainableTokens embed = tokens()[0];
        return embed == null ? baseEmbeddings : embed.embed(ids, baseEmbeddings);
    }

    @Override
    public Tensor head(Tensor hidden, Tensor baseLogits) {
        TrainableTokens head = tokens()[1];
        return head == null ? baseLogits : head.head(hidden, baseLogits);
    }

    /** The token rows as libtorch's {@link TrainableTokens} {embedding, head}, made on first use. */
    private TrainableTokens[] tokens() {
        TrainableTokens[] t = tokens;
        if (t == null) {
            synchronized (this) {
                t = tokens;
                if (t == null) {
                    long[] embedIds = config.trainableTokenIndices();
                    float[][] embedRows = new float[embedIds.length][];
                    for (int j = 0; j < embedIds.length; j++) {
                        embedRows[j] = weights.embeddingRow((int) embedIds[j]);
                    }
                    int[] headIds = weights.headTokens();
                    float[][] headRows = new float[headIds.length][];
                    for (int j = 0; j < headIds.length; j++) {
                        headRows[j] = weights.headRow(j);
                    }
                    t = new TrainableTokens[]{trainableTokens(embedIds, embedRows),
                            trainableTokens(java.util.Arrays.stream(headIds).asLongStream().toArray(), headRows)};
                    tokens = t;
                }
            }
        }
        return t;
    }

    private TrainableTokens trainableTokens(long[] ids, float[][] rows) {
        if (ids.length == 0 || java.util.Arrays.stream(rows).anyMatch(java.util.Objects::isNull)) {
            return null;
        }
        int width = modelConfig.hiddenSize();
        float[] values = new float[ids.length * width];
        for (int j = 0; j < ids.length; j++) {
            System.arraycopy(rows[j], 0, values, j * width, width);
        }
        // made lazily, possibly inside a caller's PointerScope: kept past it until released
        return new TrainableTokens(ids, dev.tuneforge.engine.tensor.Tensors.floats(values, ids.length, width),
                modelConfig.vocabSize()).retainTensors();
    }
}
