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
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
    /** Per layer and projection group {stacked A, block-diagonal scale·B}, detached, in the compute dtype. */
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

    /** PEFT's name of a LoRA matrix: {@code which} is "A" or "B". */
    private static String loraName(int layer, Projection p, String which) {
        return PREFIX + p.path(layer) + ".lora_" + which + ".weight";
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

    ScalarType computeDtype() {
        return computeDtype;
    }

    /**
     * This adapter for one forward and backward pass of training: the same parameters, as detached aliases of their
     * storage whose gradients are preset to {@code gradients} (by {@link #namedParameters} name, e.g. an
     * optimizer's, or a microbatch's own), so that gradients accumulate there; LoRA dropout with {@code masks} (null:
     * none). Passes hold no shared state: several may run at once on different threads, each with its own
     * gradients. Forgets the inference copies, as training is about to change the parameters.
     */
    public Adapter trainingPass(DropoutMasks masks, Map<String, Tensor> gradients) {
        parametersChanged();
        Map<String, Tensor[]> aliases = new LinkedHashMap<>();
        for (int l = 0; l < modelConfig.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                Tensor[] ab = pairs.get(key(l, p));
                if (ab != null) {
                    aliases.put(key(l, p), new Tensor[]{alias(ab[0], gradients, loraName(l, p, "A")),
                            alias(ab[1], gradients, loraName(l, p, "B"))});
                }
            }
        }
        TrainableTokens embed = embedTokens == null ? null
                : embedTokens.withValues(alias(embedTokens.values(), gradients, EMBED_TOKENS_KEY));
        TrainableTokens head = headTokens == null ? null
                : headTokens.withValues(alias(headTokens.values(), gradients, LM_HEAD_TOKENS_KEY));
        return new TrainingPass(aliases, embed, head, masks);
    }

    private static Tensor alias(Tensor parameter, Map<String, Tensor> gradients, String name) {
        Tensor grad = gradients.get(name);
        if (grad == null) {
            throw new IllegalArgumentException("no gradient given for " + name);
        }
        Tensor alias = parameter.detach();
        alias.set_requires_grad(true);
        alias.mutable_grad().put(grad);
        return alias;
    }

    /** One training pass's view: see {@link #trainingPass}. */
    private final class TrainingPass implements Adapter {
        private final Map<String, Tensor[]> pairs;
        private final TrainableTokens embedTokens;
        private final TrainableTokens headTokens;
        private final DropoutMasks masks;

        TrainingPass(Map<String, Tensor[]> pairs, TrainableTokens embedTokens, TrainableTokens headTokens,
                     DropoutMasks masks) {
            this.pairs = pairs;
            this.embedTokens = embedTokens;
            this.headTokens = headTokens;
            this.masks = masks;
        }

        @Override
        public Tensor addProjectionsDelta(int layer, List<Projection> group, Tensor x, Tensor y) {
            return addTrainingDeltas(pairs, masks, layer, group, x, y);
        }

        @Override
        public Tensor embed(Tensor ids, Tensor baseEmbeddings) {
            return LoraAdapter.embed(embedTokens, ids, baseEmbeddings);
        }

        @Override
        public Tensor head(Tensor hidden, Tensor baseLogits) {
            return LoraAdapter.head(modelConfig.tieWordEmbeddings() ? embedTokens : headTokens, hidden, baseLogits);
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
                    w = buildDecodeWeights(false);
                    decodeWeights = w;
                }
            }
        }
        return w;
    }

    /**
     * A new copy of the parameters as the decoders read them, in one native block: A as it is, B transposed with the
     * scale folded in (each value B·scale rounded once to float32, then where {@code bf16} both rounded to bf16), the
     * token rows as arrays.
     */
    AdapterWeights buildDecodeWeights(boolean bf16) {
        try (var scope = new org.bytedeco.javacpp.PointerScope(); var g = new org.bytedeco.pytorch.NoGradGuard()) {
            AdapterWeights.Source source = new AdapterWeights.Source() {
                @Override
                public int rank(int layer, Projection p) {
                    Tensor[] ab = pairs.get(key(layer, p));
                    return ab == null ? 0 : (int) ab[0].size(0);
                }

                @Override
                public void writeDown(int layer, Projection p, MemorySegment into) {
                    try (var matrix = new org.bytedeco.javacpp.PointerScope()) {
                        MemorySegment.copy(floats(pairs.get(key(layer, p))[0].detach()), 0, into, 0, into.byteSize());
                    }
                }

                @Override
                public void writeUp(int layer, Projection p, MemorySegment into) {
                    try (var matrix = new org.bytedeco.javacpp.PointerScope()) {
                        // B transposed, [rank, out]: the decoder adds up[j] · t[j] over contiguous output rows
                        MemorySegment up = floats(pairs.get(key(layer, p))[1].detach().t());
                        float scale = (float) (double) scales.get(key(layer, p));
                        long n = into.byteSize() / Float.BYTES;
                        for (long i = 0; i < n; i++) {
                            into.setAtIndex(ValueLayout.JAVA_FLOAT, i, up.getAtIndex(ValueLayout.JAVA_FLOAT, i) * scale);
                        }
                    }
                }
            };
            TrainableTokens head = modelConfig.tieWordEmbeddings() ? embedTokens : headTokens;
            Map<Integer, float[]> headRows = rows(head);
            int[] headIds = headRows.keySet().stream().mapToInt(Integer::intValue).toArray();
            float[][] headValues = java.util.Arrays.stream(headIds).mapToObj(headRows::get).toArray(float[][]::new);
            return new AdapterWeights(modelConfig, source, bf16, rows(embedTokens), headIds, headValues);
        }
    }

    /** A float32 contiguous copy's memory (or the tensor's own, where it is one already), as a segment. */
    private static MemorySegment floats(Tensor t) {
        Tensor f = t.to(ScalarType.Float).contiguous();
        return MemorySegment.ofAddress(f.data_ptr().address()).reinterpret(f.nbytes());
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

    private Tensor[] inferenceWeights(int layer, List<Projection> group) {
        String groupKey = layer + "." + group;
        Map<String, Tensor[]> all = inferenceWeights;
        if (all == null) {
            synchronized (this) {
                all = inferenceWeights;
                if (all == null) {
                    all = new java.util.concurrent.ConcurrentHashMap<>();
                    inferenceWeights = all;
                }
            }
        }
        return all.computeIfAbsent(groupKey, k -> groupedInferenceWeights(layer, group));
    }

    /**
     * {A of every member stacked, the scaled Bs block-diagonal} detached and in the compute dtype, so a group costs
     * two matmuls; a member without an adapter gets zero columns.
     */
    private Tensor[] groupedInferenceWeights(int layer, List<Projection> group) {
        try (var g = new org.bytedeco.pytorch.NoGradGuard()) {
            long rank = 0;
            long out = 0;
            for (Projection p : group) {
                Tensor[] ab = pairs.get(key(layer, p));
                rank += ab == null ? 0 : ab[0].size(0);
                out += p.weightShape(modelConfig)[0];
            }
            long in = group.get(0).weightShape(modelConfig)[1];
            Tensor a = torch.zeros(new long[]{rank, in}, new TensorOptions(ScalarType.Float));
            Tensor b = torch.zeros(new long[]{out, rank}, new TensorOptions(ScalarType.Float));
            long r0 = 0;
            long o0 = 0;
            for (Projection p : group) {
                Tensor[] ab = pairs.get(key(layer, p));
                long pOut = p.weightShape(modelConfig)[0];
                if (ab != null) {
                    long r = ab[0].size(0);
                    a.narrow(0, r0, r).copy_(ab[0].detach());
                    b.narrow(0, o0, pOut).narrow(1, r0, r).copy_(ab[1].detach().mul(new Scalar(scales.get(key(layer, p)))));
                    r0 += r;
                }
                o0 += pOut;
            }
            Tensor ac = a.to(computeDtype).contiguous();
            Tensor bc = b.to(computeDtype).contiguous();
            // built lazily, possibly inside a caller's PointerScope: keep them alive past it
            ac.retainReference();
            bc.retainReference();
            return new Tensor[]{ac, bc};
        }
    }

    @Override
    public Tensor addProjectionsDelta(int layer, List<Projection> group, Tensor x, Tensor y) {
        if (!org.bytedeco.pytorch.GradMode.is_enabled()) {
            if (!adaptsAny(pairs, layer, group)) {
                return y;
            }
            // no autograd (serving): pre-stacked, pre-scaled, pre-cast copies
            Tensor[] w = inferenceWeights(layer, group);
            long in = x.size(-1);
            Tensor down = torch.linear(x.reshape(-1, in), w[0]);
            return torch.addmm(y.reshape(-1, y.size(-1)), down, w[1].t()).view(Tensors.shape(y));
        }
        return addTrainingDeltas(pairs, null, layer, group, x, y);
    }

    private static boolean adaptsAny(Map<String, Tensor[]> pairs, int layer, List<Projection> group) {
        return group.stream().anyMatch(p -> pairs.containsKey(key(layer, p)));
    }

    /** {@code y} plus the deltas of {@code pairs} for {@code group}, with autograd into them; dropout with {@code masks}. */
    private Tensor addTrainingDeltas(Map<String, Tensor[]> pairs, DropoutMasks masks, int layer,
                                     List<Projection> group, Tensor x, Tensor y) {
        if (!adaptsAny(pairs, layer, group)) {
            return y;
        }
        List<Tensor[]> members = new ArrayList<>(group.size());
        for (Projection p : group) {
            members.add(pairs.get(key(layer, p)));
        }
        if (members.contains(null) || members.stream().mapToLong(ab -> ab[0].size(0)).distinct().count() > 1) {
            // some members not adapted, or ranks that differ: one projection at a time
            List<Tensor> parts = new ArrayList<>();
            long offset = 0;
            for (int i = 0; i < group.size(); i++) {
                Tensor[] ab = members.get(i);
                Projection p = group.get(i);
                long width = p.weightShape(modelConfig)[0];
                Tensor part = y.narrow(-1, offset, width);
                offset += width;
                parts.add(ab == null ? part : addTrainingDelta(x, part, List.<Tensor[]>of(ab), List.of(p), layer, masks));
            }
            return torch.cat(new TensorVector(parts.toArray(new Tensor[0])), -1);
        }
        return addTrainingDelta(x, y, members, group, layer, masks);
    }

    /**
     * {@code y} plus the concatenated deltas of projections that share input {@code x} and rank, with autograd into
     * the float32 masters. Each member sees its own dropout mask (as PEFT's per-module dropout), all drawn at once as
     * one [members, tokens, in] tensor; the B products are one GEMM against the block-diagonal of the Bs that adds
     * to {@code y} (beta = 1) and applies the scale (alpha) where the members share it.
     * <p>
     * Each member's dropped input is its own mask row times {@code x}, not one broadcast product: libtorch's bf16
     * multiply is 3–5× slower with {@code x} broadcast over the members (290 against 64 µs for 3 × 256 × 576 here),
     * and the backward of a broadcast is a slow bf16 reduction over the members, where separate products give
     * plain adds. A group of q, k, v at 256 tokens alone: forward + backward 1.5 ms against 1.8 ms; whole SmolLM2
     * steps with this, the broadcast and a stacked-copy variant, interleaved in one process: 632–647 ms each, the
     * same within noise.
     */
    private Tensor addTrainingDelta(Tensor x, Tensor y, List<Tensor[]> members, List<Projection> group, int layer,
                                    DropoutMasks masks) {
        int n = members.size();
        long in = x.size(-1);
        long tokens = x.numel() / in;
        long rank = members.get(0)[0].size(0);
        Tensor[] as = new Tensor[n];
        Tensor[] bs = new Tensor[n];
        double[] memberScales = new double[n];
        for (int i = 0; i < n; i++) {
            as[i] = members.get(i)[0];
            bs[i] = members.get(i)[1];
            memberScales[i] = scales.get(key(layer, group.get(i)));
        }
        Tensor flatX = x.reshape(tokens, in);
        Tensor down;
        if (masks != null && config.dropout() > 0) {
            Tensor mask = masks.next(new long[]{n, tokens, in}, config.dropout(), x.scalar_type());
            Tensor[] parts = new Tensor[n];
            for (int i = 0; i < n; i++) {
                parts[i] = torch.linear(mask.select(0, i).mul(flatX), as[i].to(computeDtype));
            }
            // [tokens, n·r]: member i's columns i·r .. (i+1)·r
            down = n == 1 ? parts[0] : torch.cat(new TensorVector(parts), 1);
        } else {
            down = torch.linear(flatX, (n == 1 ? as[0] : torch.cat(new TensorVector(as))).to(computeDtype));
        }
        boolean sharedScale = java.util.Arrays.stream(memberScales).distinct().count() == 1;
        if (!sharedScale) {
            down = down.mul(scaleColumns(memberScales, rank).to(down.scalar_type()));
        }
        Tensor b = n == 1 ? bs[0] : torch.block_diag(new TensorVector(bs));
        // y + scale · down·Bᵀ as one GEMM
        return torch.addmm(y.reshape(tokens, b.size(0)), down, b.to(computeDtype).t(), new Scalar(1.0),
                new Scalar(sharedScale ? memberScales[0] : 1.0)).view(Tensors.shape(y));
    }

    private static Tensor scaleColumns(double[] memberScales, long rank) {
        float[] columns = new float[(int) (memberScales.length * rank)];
        for (int i = 0; i < columns.length; i++) {
            columns[i] = (float) memberScales[(int) (i / rank)];
        }
        return Tensors.floats(columns, columns.length);
    }

    @Override
    public Tensor embed(Tensor ids, Tensor baseEmbeddings) {
        return embed(embedTokens, ids, baseEmbeddings);
    }

    @Override
    public Tensor head(Tensor hidden, Tensor baseLogits) {
        return head(modelConfig.tieWordEmbeddings() ? embedTokens : headTokens, hidden, baseLogits);
    }

    private static Tensor embed(TrainableTokens tokens, Tensor ids, Tensor baseEmbeddings) {
        return tokens == null ? baseEmbeddings : tokens.embed(ids, baseEmbeddings);
    }

    private static Tensor head(TrainableTokens tokens, Tensor hidden, Tensor baseLogits) {
        return tokens == null ? baseLogits : tokens.head(hidden, baseLogits);
    }

    /** Every trainable tensor under its PEFT name, in a stable order. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int l = 0; l < modelConfig.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                Tensor[] ab = pairs.get(key(l, p));
                if (ab != null) {
                    out.put(loraName(l, p, "A"), ab[0]);
                    out.put(loraName(l, p, "B"), ab[1]);
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
