package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.AdapterWeights;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.Projection;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * LoRA adapters (W x + (alpha / r) · B A x, A: [r, in], B: [out, r]) on a frozen base plus trainable token rows.
 * Parameters are float32; they are cast to the base's compute dtype in the forward pass so gradients reach the
 * float32 masters. Names follow PEFT so the tensors save and load as {@code adapter_model.safetensors}.
 */
public final class LoraAdapter implements Adapter {
    static final String PREFIX = "base_model.model.";
    static final String EMBED_TOKENS_KEY = PREFIX + "model.embed_tokens.token_adapter.trainable_tokens_delta";
    static final String LM_HEAD_TOKENS_KEY = PREFIX + "lm_head.token_adapter.trainable_tokens_delta";

    private final LoraConfig config;
    private final ModelConfig modelConfig;
    private final ScalarType computeDtype;
    private final Map<String, Tensor[]> pairs;
    private final Map<String, Double> scales;
    private final TrainableTokens embedTokens;
    private final TrainableTokens headTokens;
    private volatile DropoutMasks dropoutMasks;
    /** Per projection {A, scale·B} detached and in the compute dtype: inference needs 2 ops per projection, not 5. */
    private volatile Map<String, Tensor[]> inferenceWeights;
    private volatile AdapterWeights decodeWeights;

    LoraAdapter(LoraConfig config, ModelConfig modelConfig, ScalarType computeDtype, Map<String, Tensor[]> pairs,
                Map<String, Double> scales, TrainableTokens embedTokens, TrainableTokens headTokens) {
        this.config = config;
        this.modelConfig = modelConfig;
        this.computeDtype = computeDtype;
        this.pairs = pairs;
        this.scales = scales;
        this.embedTokens = embedTokens;
        this.headTokens = headTokens;
    }

    /** New adapters for {@code model}: A uniform in ±1/sqrt(in) (PEFT's kaiming init), B zero, token rows from the base. */
    public static LoraAdapter initialize(LlamaModel model, LoraConfig config, long seed) {
        ModelConfig mc = model.config();
        Generator gen = torch.createCPUGenerator(seed);
        Map<String, Tensor[]> pairs = new LinkedHashMap<>();
        Map<String, Double> scales = new LinkedHashMap<>();
        for (int l = 0; l < mc.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                if (!config.targetModules().contains(p)) {
                    continue;
                }
                long[] io = inOut(mc, p);
                double bound = 1.0 / Math.sqrt(io[0]);
                Tensor a = torch.rand(new long[]{config.rank(), io[0]}, new GeneratorOptional(gen),
                        new TensorOptions(ScalarType.Float)).mul_(new Scalar(2 * bound)).sub_(new Scalar(bound));
                Tensor b = torch.zeros(new long[]{io[1], config.rank()}, new TensorOptions(ScalarType.Float));
                a.set_requires_grad(true);
                b.set_requires_grad(true);
                pairs.put(key(l, p), new Tensor[]{a, b});
                scales.put(key(l, p), config.scale());
            }
        }
        TrainableTokens embed = null;
        TrainableTokens head = null;
        if (config.trainableTokenIndices().length > 0) {
            embed = TrainableTokens.fromBase(config.trainableTokenIndices(), model.embedTokens());
            if (!mc.tieWordEmbeddings()) {
                head = TrainableTokens.fromBase(config.trainableTokenIndices(), model.lmHead());
            }
        }
        return new LoraAdapter(config, mc, model.dtype(), pairs, scales, embed, head);
    }

    static String key(int layer, Projection p) {
        return layer + "." + p.moduleName();
    }

    static long[] inOut(ModelConfig mc, Projection p) {
        long[] shape = p.weightShape(mc);
        return new long[]{shape[1], shape[0]};
    }

    public LoraConfig config() {
        return config;
    }

    public ModelConfig modelConfig() {
        return modelConfig;
    }

    /** Turns dropout on (with the step's masks) or off (null). */
    public void setTraining(DropoutMasks dropoutMasks) {
        this.dropoutMasks = dropoutMasks;
        if (dropoutMasks != null) {
            parametersChanged();
        }
    }

    /** Forgets the inference copies after the parameters were changed in place (training, resuming). */
    public void parametersChanged() {
        inferenceWeights = null;
        decodeWeights = null;
    }

    @Override
    public AdapterWeights decodeWeights() {
        AdapterWeights w = decodeWeights;
        if (w == null) {
            synchronized (this) {
                w = decodeWeights;
                if (w == null) {
                    w = buildDecodeWeights();
                    decodeWeights = w;
                }
            }
        }
        return w;
    }

    private AdapterWeights buildDecodeWeights() {
        Map<String, AdapterWeights.LowRank> lowRanks = new java.util.HashMap<>();
        for (var e : pairs.entrySet()) {
            Tensor a = e.getValue()[0];
            Tensor b = e.getValue()[1];
            float[] up = Tensors.toFloats(b.detach());
            float scale = (float) (double) scales.get(e.getKey());
            for (int i = 0; i < up.length; i++) {
                up[i] *= scale;
            }
            lowRanks.put(e.getKey(), new AdapterWeights.LowRank((int) a.size(0), (int) a.size(1), (int) b.size(0),
                    Tensors.toFloats(a.detach()), up));
        }
        Map<Integer, float[]> embeddingRows = rows(embedTokens);
        TrainableTokens head = modelConfig.tieWordEmbeddings() ? embedTokens : headTokens;
        Map<Integer, float[]> headRows = rows(head);
        int[] headIds = headRows.keySet().stream().mapToInt(Integer::intValue).toArray();
        float[][] headValues = java.util.Arrays.stream(headIds).mapToObj(headRows::get).toArray(float[][]::new);
        return new AdapterWeights() {
            @Override
            public LowRank lowRank(int layer, Projection p) {
                return lowRanks.get(key(layer, p));
            }

            @Override
            public float[] embeddingRow(int token) {
                return embeddingRows.get(token);
            }

            @Override
            public int[] headTokens() {
                return headIds;
            }

            @Override
            public float[] headRow(int j) {
                return headValues[j];
            }
        };
    }

    private static Map<Integer, float[]> rows(TrainableTokens tokens) {
        Map<Integer, float[]> rows = new LinkedHashMap<>();
        if (tokens != null) {
            long[] ids = tokens.indices();
            float[] values = Tensors.toFloats(tokens.values().detach());
            int width = values.length / ids.length;
            for (int j = 0; j < ids.length; j++) {
                rows.put((int) ids[j], java.util.Arrays.copyOfRange(values, j * width, (j + 1) * width));
            }
        }
        return rows;
    }

    private Map<String, Tensor[]> inferenceWeights() {
        Map<String, Tensor[]> w = inferenceWeights;
        if (w == null) {
            synchronized (this) {
                w = inferenceWeights;
                if (w == null) {
                    w = new java.util.HashMap<>();
                    try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
                        for (var e : pairs.entrySet()) {
                            Tensor a = e.getValue()[0].detach().to(computeDtype).contiguous();
                            Tensor b = e.getValue()[1].detach().mul(new Scalar(scales.get(e.getKey()))).to(computeDtype)
                                    .contiguous();
                            // built lazily, possibly inside a caller's PointerScope: keep them alive past it
                            a.retainReference();
                            b.retainReference();
                            w.put(e.getKey(), new Tensor[]{a, b});
                        }
                    }
                    inferenceWeights = w;
                }
            }
        }
        return w;
    }

    @Override
    public Tensor projectionDelta(int layer, Projection p, Tensor x) {
        Tensor[] ab = pairs.get(key(layer, p));
        if (ab == null) {
            return null;
        }
        DropoutMasks masks = dropoutMasks;
        if (masks == null && !org.bytedeco.pytorch.GradMode.is_enabled()) {
            // no autograd (serving): use the pre-cast, pre-scaled copies
            Tensor[] w = inferenceWeights().get(key(layer, p));
            return torch.linear(torch.linear(x, w[0]), w[1]);
        }
        Tensor in = x;
        if (masks != null && config.dropout() > 0) {
            in = x.mul(masks.next(Tensors.shape(x), config.dropout()).to(x.scalar_type()));
        }
        // the scale applied to the rank-r intermediate, not to the [tokens, out] result: a much smaller tensor
        Tensor down = torch.linear(in, ab[0].to(computeDtype)).mul(new Scalar(scales.get(key(layer, p))));
        return torch.linear(down, ab[1].to(computeDtype));
    }

    @Override
    public Tensor embed(Tensor ids, Tensor baseEmbeddings) {
        return embedTokens == null ? baseEmbeddings : embedTokens.embed(ids, baseEmbeddings);
    }

    @Override
    public Tensor head(Tensor hidden, Tensor baseLogits) {
        TrainableTokens t = modelConfig.tieWordEmbeddings() ? embedTokens : headTokens;
        return t == null ? baseLogits : t.head(hidden, baseLogits);
    }

    /** Every trainable tensor under its PEFT name, in a stable order. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int l = 0; l < modelConfig.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                Tensor[] ab = pairs.get(key(l, p));
                if (ab != null) {
                    out.put(PREFIX + p.path(l) + ".lora_A.weight", ab[0]);
                    out.put(PREFIX + p.path(l) + ".lora_B.weight", ab[1]);
                }
            }
        }
        if (embedTokens != null) {
            out.put(EMBED_TOKENS_KEY, embedTokens.values());
        }
        if (headTokens != null) {
            out.put(LM_HEAD_TOKENS_KEY, headTokens.values());
        }
        return out;
    }

    public TrainableTokens embedTokens() {
        return embedTokens;
    }

    public TrainableTokens headTokens() {
        return headTokens;
    }

    /** Number of trainable scalars. */
    public long parameterCount() {
        return namedParameters().values().stream().mapToLong(Tensor::numel).sum();
    }
}
