package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.ComputeThreads;
import dev.tuneforge.engine.tensor.Safetensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.GradMode;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The decoder of every declared architecture (Llama, Mistral, Qwen2, Qwen3, Gemma 3; the name is historical) on
 * libtorch, as in transformers' modeling code: embedding (scaled where declared), N × (norm, GQA attention with
 * q/k norm, per-layer RoPE and window, optional output norm, norm, gated MLP, optional output norm), final norm,
 * tied or untied head, optional logit soft-cap — each difference read from {@link ModelConfig#architecture()}. The
 * weights are frozen and shared; adapters are passed per call.
 */
public final class LlamaModel {
    /** Largest batch × heads × seq² for which causal attention is done with plain matmuls (see below). */
    private static final long MATMUL_ATTENTION_MAX_SCORES = 16L << 20;

    static {
        ComputeThreads.applyToLibtorch();
    }

    private final ModelConfig config;
    /** What activations, norms, biases and the cache compute in (float32 for a Q8_0 base). */
    private final ScalarType dtype;
    /** Whether the projection, embedding and head matrices are Q8_0 blocks ({@link Q8Blocks}), dequantized at use. */
    private final boolean q8;
    private final Tensor embedTokens;
    private final Tensor lmHead;
    private final Tensor finalNorm;
    private final Layer[] layers;
    /** Per layer (layers with the same RoPE share one). */
    private final RotaryEmbedding[] ropes;
    private final Architecture arch;
    /** √hidden rounded to the weights' dtype, as Gemma scales its embeddings; 1 where the architecture does not. */
    private final double embeddingScale;
    /** The file the matrices (layers, embedding, head) are mapped from, or null where they are in this process's memory. */
    private final PreparedWeights prepared;
    private volatile SingleTokenDecoder decoder;
    private volatile boolean decoderUnavailable;

    /**
     * One decoder layer. q/k/v and gate/up are stored concatenated (one matmul each instead of three and two:
     * fewer, larger libtorch calls, which is what decoding one token at a time is bound by); biases may be null.
     */
    private record Layer(Tensor inputNorm, Tensor mlpNorm, Tensor attentionOutputNorm, Tensor mlpOutputNorm,
                         Tensor qNorm, Tensor kNorm, Tensor qkv, Tensor qkvBias, Tensor o, Tensor oBias,
                         Tensor gateUp, Tensor gateUpBias, Tensor down, Tensor downBias) {
        java.util.stream.Stream<Tensor> tensors() {
            return java.util.stream.Stream.of(inputNorm, mlpNorm, attentionOutputNorm, mlpOutputNorm, qNorm, kNorm, qkv,
                    qkvBias, o, oBias, gateUp, gateUpBias, down, downBias).filter(java.util.Objects::nonNull);
        }
    }

    /** The checkpoint names of a layer's norms under {@code arch} (null where it has none). */
    private record NormNames(String input, String mlp, String attentionOutput, String mlpOutput, String q, String k) {
        static NormNames of(Architecture arch, int l) {
            String p = "model.layers." + l + ".";
            return arch.sandwichNorms()
                    ? new NormNames(p + "input_layernorm.weight", p + "pre_feedforward_layernorm.weight",
                    p + "post_attention_layernorm.weight", p + "post_feedforward_layernorm.weight",
                    arch.qkNorm() ? p + "self_attn.q_norm.weight" : null, arch.qkNorm() ? p + "self_attn.k_norm.weight" : null)
                    : new NormNames(p + "input_layernorm.weight", p + "post_attention_layernorm.weight", null, null,
                    arch.qkNorm() ? p + "self_attn.q_norm.weight" : null, arch.qkNorm() ? p + "self_attn.k_norm.weight" : null);
        }

        java.util.stream.Stream<String> all() {
            return java.util.stream.Stream.of(input, mlp, attentionOutput, mlpOutput, q, k).filter(java.util.Objects::nonNull);
        }
    }

    /** Builds the model from tensors named as in a Hugging Face checkpoint, converted to {@code dtype}. */
    public LlamaModel(ModelConfig config, Map<String, Tensor> weights, ScalarType dtype) {
        this(config, weights, dtype, false);
    }

    /**
     * {@code consume}: {@code weights} belongs to this constructor, which frees each layer's projection matrices
     * once they are copied into the arena and hands the memory back to the system, so that loading peaks near one
     * copy of the layers instead of two.
     */
    private LlamaModel(ModelConfig config, Map<String, Tensor> weights, ScalarType storage, boolean consume) {
        this(config, weights, storage, consume, null);
    }

    /** {@code prepared}: the matrices' file (to fill, or filled: then {@code weights} need not hold them), or null. */
    private LlamaModel(ModelConfig config, Map<String, Tensor> weights, ScalarType storage, boolean consume,
                       PreparedWeights prepared) {
        this.config = config;
        this.q8 = WeightDtype.isInt8(storage);
        ScalarType dtype = WeightDtype.compute(storage);
        this.dtype = dtype;
        this.arch = config.architecture();
        this.embeddingScale = embeddingScale(config, dtype);
        Function<String, Tensor> required = name -> {
            Tensor t = weights.get(name);
            if (t == null) {
                throw new IllegalArgumentException("checkpoint lacks tensor " + name);
            }
            return t;
        };
        Function<String, Tensor> get = required.andThen(this::frozen);
        WeightArena arena = new WeightArena(config, storage, prepared);
        embedTokens = table("model.embed_tokens.weight", 0, arena, required, weights, consume);
        lmHead = config.tieWordEmbeddings() ? embedTokens : table("lm_head.weight", 1, arena, required, weights, consume);
        Function<String, Tensor> norm = name -> name == null ? null : normWeight(required.apply(name));
        finalNorm = norm.apply("model.norm.weight");
        layers = new Layer[config.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            Map<Projection, Tensor> w = new HashMap<>();
            Map<Projection, Tensor> b = new HashMap<>();
            for (Projection p : Projection.values()) {
                String name = p.path(l) + ".weight";
                if (!arena.ready()) {
                    // copied into the arena, so not frozen on their own
                    w.put(p, checkMatrixShape(required.apply(name), name, p.weightShape(config)));
                }
                if (hasBias(config, p)) {
                    b.put(p, get.apply(p.path(l) + ".bias"));
                }
            }
            NormNames norms = NormNames.of(arch, l);
            layers[l] = new Layer(norm.apply(norms.input()), norm.apply(norms.mlp()),
                    norm.apply(norms.attentionOutput()), norm.apply(norms.mlpOutput()), norm.apply(norms.q()),
                    norm.apply(norms.k()),
                    arena.stack(w, Projection.Q, Projection.K, Projection.V),
                    b.isEmpty() || !b.containsKey(Projection.Q) ? null : concat(b.get(Projection.Q), b.get(Projection.K), b.get(Projection.V)),
                    arena.stack(w, Projection.O), b.get(Projection.O),
                    arena.stack(w, Projection.GATE, Projection.UP),
                    b.containsKey(Projection.GATE) ? concat(b.get(Projection.GATE), b.get(Projection.UP)) : null,
                    arena.stack(w, Projection.DOWN), b.get(Projection.DOWN));
            if (consume && !w.isEmpty()) {
                for (Projection p : Projection.values()) {
                    // a lazily read checkpoint (loading a Q8_0 base) holds none of them: each was read for this layer
                    weights.remove(p.path(l) + ".weight");
                    w.get(p).close();
                }
                dev.tuneforge.engine.kernel.FreedMemory.release();
            }
        }
        if (prepared != null) {
            prepared.complete();
        }
        this.prepared = prepared;
        Map<Architecture.Rope, RotaryEmbedding> byRope = new HashMap<>();
        ropes = new RotaryEmbedding[layers.length];
        for (int l = 0; l < layers.length; l++) {
            ropes[l] = byRope.computeIfAbsent(arch.layer(l).rope(),
                    r -> new RotaryEmbedding(r, config.headDim(), config.maxPositionEmbeddings(), dtype));
        }
    }

    /**
     * The embedding ({@code which} 0) or head (1) matrix {@code name}, in the arena after the layers: in the model's
     * dtype, or for a Q8_0 base quantized (a base that decodes reads its head for every token); read from the
     * checkpoint only where the arena does not hold it already, the checkpoint's copy freed at once when consuming.
     */
    private Tensor table(String name, int which, WeightArena arena, Function<String, Tensor> required,
                         Map<String, Tensor> weights, boolean consume) {
        if (arena.ready()) {
            return arena.table(which, null);
        }
        Tensor raw = checkMatrixShape(required.apply(name), name, config.vocabSize(), config.hiddenSize());
        Tensor t = arena.table(which, raw);
        if (consume) {
            weights.remove(name);
            raw.close();
        }
        return t;
    }

    /**
     * A matrix of {@code cols} columns as the libtorch forward multiplies by it: a Q8_0 one dequantized (to the
     * compute dtype) here, a copy that lives as long as the caller keeps it (a layer's scope without autograd).
     */
    private Tensor matrix(Tensor w, long cols) {
        return q8 ? Q8Blocks.dequantize(w, cols, dtype) : w;
    }

    /** √hidden as Gemma's embedding normaliser: a tensor of the weights' dtype (so rounded to bf16 in bf16). */
    private static double embeddingScale(ModelConfig config, ScalarType dtype) {
        if (!config.architecture().embeddingScaled()) {
            return 1.0;
        }
        float scale = (float) Math.sqrt(config.hiddenSize());
        return dtype.value == ScalarType.BFloat16.value
                ? dev.tuneforge.engine.tensor.BFloat16.toFloat(dev.tuneforge.engine.tensor.BFloat16.round(scale)) : scale;
    }

    /**
     * A norm's weight as the forward passes use it: the model's dtype for Llama's convention; for Gemma's
     * {@code (1 + w)}, 1 + w in float32 (Gemma computes its norms in float32), so that every path multiplies by
     * the stored weight alone.
     */
    private Tensor normWeight(Tensor w) {
        if (arch.norm() == Architecture.Norm.WEIGHT) {
            return frozen(w);
        }
        Tensor t = w.to(ScalarType.Float).add(new org.bytedeco.pytorch.Scalar(1.0)).contiguous();
        t.set_requires_grad(false);
        return t;
    }

    /**
     * Loads a Hugging Face model directory's weights ({@code model.safetensors} or sharded), or for {@code int8} a
     * llama.cpp GGUF file in it instead ({@link HfModelDirectory#ggufFile}).
     */
    public static LlamaModel load(HfModelDirectory dir, ScalarType dtype) {
        return load(dir, dtype, null);
    }

    /**
     * As {@link #load(HfModelDirectory, ScalarType)}, the matrices mapped from a file of {@code preparedWeights}
     * (see {@link PreparedWeights}; written on the first load) where that directory is given and usable.
     */
    public static LlamaModel load(HfModelDirectory dir, ScalarType dtype, java.nio.file.Path preparedWeights) {
        java.nio.file.Path gguf = dir.ggufFile();
        if (gguf != null && !WeightDtype.isInt8(dtype)) {
            throw new IllegalArgumentException(dir.path() + " holds its weights as a GGUF file ("
                    + gguf.getFileName() + "), which loads with dtype int8, not " + WeightDtype.name(dtype));
        }
        PreparedWeights prepared = preparedWeights == null ? null : PreparedWeights.open(preparedWeights,
                checkpointFiles(dir, gguf), WeightDtype.name(dtype), WeightArena.bytes(dir.config(), dtype));
        try {
            Map<String, Tensor> weights;
            if (gguf != null) {
                weights = new GgufCheckpoint(dir.config(), gguf, WeightDtype.compute(dtype));
            } else if (prepared != null || WeightDtype.isInt8(dtype)) {
                // each matrix read when it is needed (not at all from a prepared file); for Q8_0 quantized then: one
                // layer's matrices in full precision at once
                weights = new CheckpointTensors(dir, WeightDtype.compute(dtype));
            } else {
                weights = new HashMap<>();
                boolean multimodal = dir.config().languageModelOfMultimodal();
                for (var file : dir.weightFiles()) {
                    Map<String, Tensor> read = Safetensors.read(file,
                            name -> !multimodal || languageModelName(name) != null,
                            t -> t.is_floating_point() ? t.to(dtype) : t);
                    read.forEach((name, t) -> weights.put(multimodal ? languageModelName(name) : name, t));
                }
            }
            return ownedCopy(new LlamaModel(dir.config(), weights, dtype, true, prepared), weights);
        } catch (RuntimeException | Error e) {
            if (prepared != null) {
                prepared.abandon();
            }
            throw e;
        }
    }

    /** The files a checkpoint is made of: config.json and the GGUF file or the safetensors files. */
    private static java.util.List<java.nio.file.Path> checkpointFiles(HfModelDirectory dir, java.nio.file.Path gguf) {
        java.util.List<java.nio.file.Path> files = new java.util.ArrayList<>();
        files.add(dir.path().resolve("config.json"));
        if (gguf != null) {
            files.add(gguf);
        } else {
            files.addAll(dir.weightFiles());
        }
        return files;
    }

    /**
     * The name a multimodal Gemma 3 checkpoint's language-model tensor has in a text-only one: transformers wrote
     * {@code language_model.model.*} and {@code language_model.lm_head.*} before 4.52, {@code model.language_model.*}
     * since; null for the vision tower and the projector, which are not loaded.
     */
    public static String languageModelName(String name) {
        if (name.startsWith("language_model.")) {
            return name.substring("language_model.".length());
        }
        if (name.startsWith("model.language_model.")) {
            return "model." + name.substring("model.language_model.".length());
        }
        return name.startsWith("lm_head.") ? name : null;
    }

    /** A model with random weights (normal, std 0.02; norms neutral), for benchmarks and tests. */
    public static LlamaModel random(ModelConfig config, ScalarType storage, long seed) {
        // an int8 base is drawn in bf16 (half the transient memory) and quantized
        ScalarType dtype = WeightDtype.isInt8(storage) ? ScalarType.BFloat16 : storage;
        Map<String, Tensor> w = randomCheckpoint(config, dtype, seed);
        return ownedCopy(new LlamaModel(config, w, storage, true), w);
    }

    /**
     * The tensors of {@link #random}'s model under a Hugging Face checkpoint's names, in {@code dtype} (float32 or
     * bfloat16): what a {@code model.safetensors} of a random-weight base holds (the caller closes them).
     */
    public static Map<String, Tensor> randomCheckpoint(ModelConfig config, ScalarType dtype, long seed) {
        var gen = torch.createCPUGenerator(seed);
        Map<String, Tensor> w = new HashMap<>();
        var opts = new TensorOptions(ScalarType.Float);
        java.util.function.BiConsumer<String, long[]> normal = (name, shape) -> {
            // the float32 draws are freed at once (scope), not when the garbage collector gets to them
            try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
                Tensor t = torch.randn(shape, new org.bytedeco.pytorch.GeneratorOptional(gen), opts)
                        .mul_(new org.bytedeco.pytorch.Scalar(0.02)).to(dtype);
                t.retainReference();
                w.put(name, t);
            }
        };
        normal.accept("model.embed_tokens.weight", new long[]{config.vocabSize(), config.hiddenSize()});
        if (!config.tieWordEmbeddings()) {
            normal.accept("lm_head.weight", new long[]{config.vocabSize(), config.hiddenSize()});
        }
        // neutral norms: w = 1, or w = 0 where the norm multiplies by 1 + w
        java.util.function.BiConsumer<String, Long> neutral = (name, size) -> w.put(name,
                (config.architecture().norm() == Architecture.Norm.WEIGHT ? torch.ones(new long[]{size}, opts)
                        : torch.zeros(new long[]{size}, opts)).to(dtype));
        neutral.accept("model.norm.weight", (long) config.hiddenSize());
        for (int l = 0; l < config.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                long[] shape = p.weightShape(config);
                normal.accept(p.path(l) + ".weight", shape);
                if (hasBias(config, p)) {
                    normal.accept(p.path(l) + ".bias", new long[]{shape[0]});
                }
            }
            NormNames norms = NormNames.of(config.architecture(), l);
            norms.all().forEach(name -> neutral.accept(name, name.endsWith("q_norm.weight") || name.endsWith("k_norm.weight")
                    ? (long) config.headDim() : (long) config.hiddenSize()));
        }
        return w;
    }

    /**
     * Frees the tensors {@code model} was built from, which it holds its own references to or copies of: now, not
     * whenever the garbage collector gets to their wrappers (native memory the JVM heap does not feel), and hands
     * the memory back to the system (the launcher's glibc settings would keep it).
     */
    private static LlamaModel ownedCopy(LlamaModel model, Map<String, Tensor> sources) {
        sources.values().forEach(Tensor::close);
        sources.clear();
        dev.tuneforge.engine.kernel.FreedMemory.release();
        return model;
    }

    public ModelConfig config() {
        return config;
    }

    /** The file the matrices are mapped from, or null where they are held in this process's memory. */
    public java.nio.file.Path preparedWeightsFile() {
        return prepared == null ? null : prepared.file();
    }

    public ScalarType dtype() {
        return dtype;
    }

    /** An empty KV cache for {@code capacity} positions: bfloat16 for a bf16 model, else float32 (see {@link KvCache}). */
    public KvCache newCache(int capacity) {
        return new KvCache(config, capacity, dtype.value == ScalarType.BFloat16.value ? ScalarType.BFloat16 : ScalarType.Float);
    }

    /** The embedding table in the compute dtype (for a Q8_0 base a dequantized copy, made on each call). */
    public Tensor embedTokens() {
        return matrix(embedTokens, config.hiddenSize());
    }

    /** The head in the compute dtype (for a Q8_0 base a dequantized copy, made on each call). */
    public Tensor lmHead() {
        return matrix(lmHead, config.hiddenSize());
    }

    /** Bytes of the embedding table as held (Q8_0 blocks for an int8 base). */
    public long embeddingBytes() {
        return embedTokens.nbytes();
    }

    /** Whether the matrices are held as Q8_0 blocks ({@code dtype: int8}). */
    public boolean int8() {
        return q8;
    }

    /** The token embeddings of {@code ids} [...]: [..., hidden] in the compute dtype. */
    private Tensor embed(Tensor ids) {
        if (!q8) {
            return torch.embedding(embedTokens, ids);
        }
        long[] shape = dev.tuneforge.engine.tensor.Tensors.shape(ids);
        long[] out = java.util.Arrays.copyOf(shape, shape.length + 1);
        out[shape.length] = config.hiddenSize();
        return Q8Blocks.dequantize(embedTokens.index_select(0, ids.reshape(-1)), config.hiddenSize(), dtype).view(out);
    }

    /** Bytes of weights held (the shared, frozen base). */
    public long weightBytes() {
        long total = embedTokens.nbytes() + finalNorm.nbytes() + (lmHead == embedTokens ? 0 : lmHead.nbytes());
        for (Layer l : layers) {
            total += l.tensors().mapToLong(Tensor::nbytes).sum();
        }
        return total;
    }

    /**
     * Runs the decoder over {@code ids} [batch, seq] placed at positions start..start+seq-1 and returns the final
     * normalised hidden states [batch, seq, hidden]. With a cache (batch 1) keys and values are stored and earlier
     * ones attended to. Right padding needs no mask: causal attention never lets a real token see a later pad.
     */
    public Tensor forward(Tensor ids, long start, KvCache cache, Adapter adapter) {
        long batch = ids.size(0);
        long seq = ids.size(1);
        Tensor h = embed(ids);
        if (adapter != null) {
            h = adapter.embed(ids, h);
        }
        if (embeddingScale != 1.0) {
            h = h.mul(new org.bytedeco.pytorch.Scalar(embeddingScale));
        }
        boolean matmulAttention = usesMatmulAttention(batch, start, seq);
        // made before the layers' scopes, which would free them after the first layer
        Map<Integer, Tensor> causalBiases = new HashMap<>();
        if (matmulAttention) {
            for (Architecture.LayerAttention a : arch.layers()) {
                causalBiases.computeIfAbsent(a.window(), w -> causalBias(seq, w));
            }
        }
        // Without autograd nothing needs a layer's intermediates once it is done: freed layer by layer, a 1024-token
        // SmolLM2 prompt took 3.1 GB more at its peak when they were all kept until the caller's scope closed.
        boolean freeEachLayer = !GradMode.is_enabled();
        for (int l = 0; l < layers.length; l++) {
            Tensor layerInput = h;
            try (PointerScope layerScope = freeEachLayer ? new PointerScope() : null) {
                Layer layer = layers[l];
                Tensor x = rmsNorm(h, layer.inputNorm);
                Tensor qkv = withDelta(linear(x, matrix(layer.qkv, config.hiddenSize()), layer.qkvBias), x, l, Projection.ATTENTION_INPUTS, adapter);
                long qDim = (long) config.numHeads() * config.headDim();
                long kvDim = (long) config.numKvHeads() * config.headDim();
                Tensor heads = qkv.narrow(2, 0, qDim + kvDim)
                        .reshape(batch, seq, config.numHeads() + config.numKvHeads(), config.headDim());
                if (layer.qNorm != null) {
                    heads = torch.cat(new org.bytedeco.pytorch.TensorVector(
                            rmsNorm(heads.narrow(2, 0, config.numHeads()), layer.qNorm),
                            rmsNorm(heads.narrow(2, config.numHeads(), config.numKvHeads()), layer.kNorm)), 2);
                }
                // queries and keys rotated together: one set of RoPE ops per layer instead of two
                Tensor qk = ropes[l].apply(heads.transpose(1, 2), start);
                Tensor q = qk.narrow(1, 0, config.numHeads());
                Tensor k = qk.narrow(1, config.numHeads(), config.numKvHeads());
                Tensor v = qkv.narrow(2, qDim + kvDim, kvDim).reshape(batch, seq, config.numKvHeads(), config.headDim())
                        .transpose(1, 2);
                if (cache != null) {
                    Tensor[] kv = cache.append(l, start, k, v);
                    k = kv[0];
                    v = kv[1];
                }
                int window = arch.layer(l).window();
                Tensor attn = matmulAttention
                        ? causalMatmulAttention(q, k, v, causalBiases.get(window),
                        arch.attentionScale())
                        : sdpa(q, k, v, start, seq, window);
                Tensor o = attn.transpose(1, 2).reshape(batch, seq, (long) config.numHeads() * config.headDim());
                h = residualAdd(h, o, matrix(layer.o, qDim), layer.oBias, layer.attentionOutputNorm, l, Projection.ATTENTION_OUTPUT,
                        adapter);
                x = rmsNorm(h, layer.mlpNorm);
                Tensor gateUp = withDelta(linear(x, matrix(layer.gateUp, config.hiddenSize()), layer.gateUpBias), x, l, Projection.MLP_INPUTS,
                        adapter);
                long inter = config.intermediateSize();
                Tensor act = activation(gateUp.narrow(2, 0, inter)).mul(gateUp.narrow(2, inter, inter));
                h = residualAdd(h, act, matrix(layer.down, inter), layer.downBias, layer.mlpOutputNorm, l, Projection.MLP_OUTPUT,
                        adapter);
                if (layerScope != null) {
                    // the layer's output outlives its scope (detaching releases the scope's reference)
                    h.retainReference();
                    layerScope.detach(h);
                }
            }
            if (freeEachLayer && l > 0) {
                layerInput.deallocate();
            }
        }
        if (cache != null) {
            cache.advanceTo((int) (start + seq));
        }
        Tensor normed = rmsNorm(h, finalNorm);
        if (freeEachLayer && layers.length > 0) {
            h.deallocate();
        }
        return normed;
    }

    /** Logits in float32 for hidden states [..., hidden], soft-capped where the architecture says so. */
    public Tensor logits(Tensor hidden, Adapter adapter) {
        Tensor logits = torch.linear(hidden, matrix(lmHead, config.hiddenSize()));
        if (adapter != null) {
            logits = adapter.head(hidden, logits);
        }
        logits = logits.to(ScalarType.Float);
        double cap = arch.finalLogitSoftcap();
        if (cap > 0) {
            logits = torch.tanh(logits.div(new org.bytedeco.pytorch.Scalar(cap))).mul(new org.bytedeco.pytorch.Scalar(cap));
        }
        return logits;
    }

    /**
     * {@code h} plus a projection's output (its adapter update included), normalised first where the architecture
     * normalises the attention's and the MLP's outputs (Gemma's sandwich norms).
     */
    private Tensor residualAdd(Tensor h, Tensor x, Tensor weight, Tensor bias, Tensor outputNorm, int layer,
                               List<Projection> group, Adapter adapter) {
        if (outputNorm == null) {
            return withDelta(residualLinear(h, x, weight, bias), x, layer, group, adapter);
        }
        return h.add(rmsNorm(withDelta(linear(x, weight, bias), x, layer, group, adapter), outputNorm));
    }

    private Tensor activation(Tensor gate) {
        return switch (arch.activation()) {
            case SILU -> torch.silu(gate);
            case GELU_TANH -> torch.gelu(gate, "tanh");
        };
    }

    /**
     * The single-token decoder over these weights, or null where it cannot run: it needs the Vector
     * API module ({@code --add-modules jdk.incubator.vector}, which the launcher and the tests pass) and float32 or
     * bfloat16 weights. Without it generation goes through {@link #forward} for every token.
     */
    public SingleTokenDecoder decoder() {
        SingleTokenDecoder d = decoder;
        if (d != null || decoderUnavailable) {
            return d;
        }
        synchronized (this) {
            if (decoder == null && !decoderUnavailable) {
                boolean runtime = dev.tuneforge.engine.kernel.NativeOrNull.vectorApi();
                boolean bf16 = dtype.value == ScalarType.BFloat16.value;
                if (q8 && runtime && !dev.tuneforge.engine.kernel.WeightMatrix.q8Available()) {
                    org.slf4j.LoggerFactory.getLogger(LlamaModel.class).warn("int8 base: no single-token decoder ({}); "
                            + "every token decodes through libtorch, its matrices dequantized layer by layer",
                            dev.tuneforge.engine.kernel.WeightMatrix.loopStatus());
                } else if (runtime && (q8 || bf16 || dtype.value == ScalarType.Float.value)) {
                    decoder = newDecoder(decoderWeights(q8 ? TeamLayouts.DTYPE_Q8_0
                            : bf16 ? TeamLayouts.DTYPE_BF16 : TeamLayouts.DTYPE_F32));
                }
                decoderUnavailable = decoder == null;
            }
            return decoder;
        }
    }

    /**
     * A new native batched decoder over these weights ({@link TeamBatchDecoder}), or null where it cannot run: the
     * native team is unavailable ({@link TeamBatchDecoder#unavailableReason()}) or the weights are none of float32,
     * bfloat16 and Q8_0.
     */
    public BatchDecoder batchDecoder() {
        boolean bf16 = dtype.value == ScalarType.BFloat16.value;
        if (!q8 && !bf16 && dtype.value != ScalarType.Float.value) {
            return null;
        }
        return TeamBatchDecoder.create(decoderWeights(q8 ? TeamLayouts.DTYPE_Q8_0
                : bf16 ? TeamLayouts.DTYPE_BF16 : TeamLayouts.DTYPE_F32));
    }

    private static SingleTokenDecoder newDecoder(DecoderWeights weights) {
        return new LlamaDecoder(weights);
    }

    private DecoderWeights decoderWeights(int matrixDtype) {
        DecoderWeights.Layer[] decoderLayers = new DecoderWeights.Layer[layers.length];
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            decoderLayers[l] = new DecoderWeights.Layer(floats(w.inputNorm), floats(w.mlpNorm),
                    floats(w.attentionOutputNorm), floats(w.mlpOutputNorm), floats(w.qNorm), floats(w.kNorm),
                    address(w.qkv), floats(w.qkvBias), address(w.o), floats(w.oBias), address(w.gateUp),
                    floats(w.gateUpBias), address(w.down), floats(w.downBias));
        }
        return new DecoderWeights(this, config, matrixDtype, address(embedTokens), address(lmHead), floats(finalNorm),
                (float) embeddingScale, decoderLayers);
    }

    private static long address(Tensor t) {
        return t.data_ptr().address();
    }

    private static float[] floats(Tensor t) {
        return t == null ? null : dev.tuneforge.engine.tensor.Tensors.toFloats(t);
    }

    /**
     * Causal attention over a fresh sequence is done as two batched matmuls and a softmax (Hugging Face's "eager"
     * attention) up to {@link #MATMUL_ATTENTION_MAX_SCORES} scores per layer: on CPU libtorch's fused kernel is the
     * slower one there — forward + backward of 4 × 9 heads × 256 tokens took 58–74 ms fused in fp32 against
     * ~22 ms this way on an AVX2 machine, and 237 ms fused in bf16 against 10 ms this way on an AVX512-BF16 one.
     * The [heads, seq, seq] scores are kept for the backward pass, hence the limit (64 MB of fp32 scores), beyond
     * which the fused kernel also wins on time (4 × 9 × 1024: 530 ms against 620 ms).
     */
    private boolean usesMatmulAttention(long batch, long start, long seq) {
        return start == 0 && seq > 1 && batch * config.numHeads() * seq * seq <= MATMUL_ATTENTION_MAX_SCORES;
    }

    /**
     * The additive causal mask for the query heads of one key head stacked along the sequence: [group × seq, seq],
     * 0 on and below the diagonal, -inf above, in the model's dtype.
     */
    private Tensor causalBias(long seq, int window) {
        long group = config.numHeads() / config.numKvHeads();
        Tensor mask = torch.ones(new long[]{seq, seq}, new TensorOptions(ScalarType.Bool)).triu(1);
        if (window > 0 && window < seq) {
            // sliding window: key j is hidden from query i once i - j >= window
            mask = mask.logical_or(torch.ones(new long[]{seq, seq}, new TensorOptions(ScalarType.Bool)).tril(-window));
        }
        mask = mask.repeat(group, 1);
        return torch.zeros(new long[]{group * seq, seq}, new TensorOptions(dtype))
                .masked_fill(mask, new org.bytedeco.pytorch.Scalar(Float.NEGATIVE_INFINITY));
    }

    /**
     * libtorch's fused attention, for a single new token, for tokens after cached ones and for sequences too long
     * for {@link #causalMatmulAttention}. It runs in fp32: its CPU kernels are several times slower in bf16/fp16.
     */
    private Tensor sdpa(Tensor q, Tensor k, Tensor v, long start, long seq, int window) {
        ScalarType in = q.scalar_type();
        q = q.to(ScalarType.Float);
        k = k.to(ScalarType.Float);
        v = v.to(ScalarType.Float);
        boolean enableGqa = config.numKvHeads() != config.numHeads();
        // the default scale is head_dim^-0.5: passed only where the architecture's differs
        DoubleOptional scale = arch.attentionScale() == 1.0 / Math.sqrt(config.headDim()) ? new DoubleOptional()
                : new DoubleOptional(arch.attentionScale());
        boolean windowed = window > 0 && start + seq > window;
        Tensor out;
        if (!windowed && (start == 0 || seq == 1)) {
            // a fresh sequence is plainly causal; a single new token sees every cached position
            out = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(), 0.0, start == 0 && seq > 1,
                    scale, enableGqa);
        } else {
            // causal mask aligned to the end of the key sequence, and the window's lower edge
            Tensor mask = torch.ones(new long[]{seq, start + seq}, new TensorOptions(ScalarType.Bool)).tril(start);
            if (windowed) {
                mask = mask.logical_and(torch.ones(new long[]{seq, start + seq}, new TensorOptions(ScalarType.Bool))
                        .tril(start - window).logical_not());
            }
            out = torch.scaled_dot_product_attention(q, k, v, new TensorOptional(mask), 0.0, false,
                    scale, enableGqa);
        }
        return out.to(in);
    }

    /**
     * Causal attention as two batched matmuls in the model's dtype and a softmax in fp32, as Hugging Face's eager
     * attention does for bf16 models. The query heads that share a key head are stacked along the sequence, so
     * grouped-query attention copies nothing; {@code bias} is {@link #causalBias}.
     */
    private static Tensor causalMatmulAttention(Tensor q, Tensor k, Tensor v, Tensor bias, double scale) {
        long batch = q.size(0);
        long heads = q.size(1);
        long seq = q.size(2);
        long headDim = q.size(3);
        long kvHeads = k.size(1);
        long group = heads / kvHeads;
        ScalarType dtype = q.scalar_type();
        Tensor stackedQ = q.reshape(batch * kvHeads, group * seq, headDim);
        // k and v come from the KV cache when filling one (float32 for a float32 model)
        Tensor keysT = k.to(dtype).reshape(batch * kvHeads, seq, headDim).transpose(1, 2);
        Tensor scores = torch.baddbmm(bias, stackedQ, keysT, new org.bytedeco.pytorch.Scalar(1.0),
                new org.bytedeco.pytorch.Scalar(scale));
        Tensor probabilities = torch.softmax(scores, -1, new org.bytedeco.pytorch.ScalarTypeOptional(ScalarType.Float))
                .to(dtype);
        return torch.bmm(probabilities, v.to(dtype).reshape(batch * kvHeads, seq, headDim))
                .reshape(batch, heads, seq, headDim);
    }

    /** {@code residual + x·Wᵀ (+ bias)}; without a bias one GEMM with beta = 1 instead of a product and an add. */
    private static Tensor residualLinear(Tensor residual, Tensor x, Tensor weight, Tensor bias) {
        if (bias != null) {
            return residual.add(linear(x, weight, bias));
        }
        long out = weight.size(0);
        return torch.addmm(residual.reshape(-1, out), x.reshape(-1, x.size(-1)), weight.t())
                .view(dev.tuneforge.engine.tensor.Tensors.shape(residual));
    }

    private static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        return bias == null ? torch.linear(x, weight) : torch.linear(x, weight, new TensorOptional(bias));
    }

    /**
     * The base output {@code y} of the projections {@code group} (concatenated) for input {@code x}, plus the
     * adapter's contribution if it has one.
     */
    private static Tensor withDelta(Tensor y, Tensor x, int layer, List<Projection> group, Adapter adapter) {
        if (adapter == null) {
            return y;
        }
        return adapter.addProjectionsDelta(layer, group, x, y);
    }

    /**
     * One block holding every layer's projection matrices in the order a forward pass reads them (q/k/v,
     * o, gate/up, down, layer after layer), each a contiguous view, then the embedding and an untied head: a libtorch
     * allocation of this process, or the mapping of a {@link PreparedWeights} file. Decoding a token streams the
     * layers front to back: one long sequential read, on huge pages where it is an allocation (far above the 2 MB
     * where libtorch asks for them), instead of a few hundred separate blocks of 0.5–2 MB on 4 KB pages. SmolLM2's
     * 120 layer matrices streamed at 34–35.5 GB/s this way against 30–33 GB/s as separate tensors (bf16, two
     * threads, Zen 4).
     */
    private static final class WeightArena {
        private final ModelConfig config;
        private final Tensor storage;
        private final boolean ready;
        private long offset;
        /** Where the embedding (then an untied head) starts, and its row's width, in storage elements. */
        private final long tablesAt;
        private final long tableWidth;

        /** Whether the matrices are held as Q8_0 blocks (quantized as they are stacked), bytes of storage. */
        private final boolean q8;

        WeightArena(ModelConfig config, ScalarType dtype, PreparedWeights prepared) {
            this.config = config;
            this.q8 = WeightDtype.isInt8(dtype);
            this.tablesAt = layerElements(config, q8);
            this.tableWidth = width(config.hiddenSize(), q8);
            long[] shape = {elements(config, q8)};
            TensorOptions options = new TensorOptions(q8 ? ScalarType.Byte : dtype);
            if (prepared == null) {
                storage = torch.empty(shape, options, new org.bytedeco.pytorch.MemoryFormatOptional());
                ready = false;
            } else {
                long mappedAt = prepared.matrices().address();
                storage = torch.from_blob(new org.bytedeco.javacpp.Pointer() {
                    {
                        address = mappedAt;
                    }
                }, shape, options);
                ready = prepared.ready();
            }
        }

        /** Bytes of the block in {@code storage} dtype: every layer's matrices, the embedding and an untied head. */
        static long bytes(ModelConfig config, ScalarType storage) {
            return elements(config, WeightDtype.isInt8(storage)) * elementBytes(storage);
        }

        /** The block's storage elements (bytes of Q8_0 blocks where {@code q8}). */
        private static long elements(ModelConfig config, boolean q8) {
            return layerElements(config, q8) + tables(config) * config.vocabSize() * width(config.hiddenSize(), q8);
        }

        private static long layerElements(ModelConfig config, boolean q8) {
            long perLayer = 0;
            for (Projection p : Projection.values()) {
                long[] shape = p.weightShape(config);
                perLayer += shape[0] * width(shape[1], q8);
            }
            return perLayer * config.numLayers();
        }

        /** Storage elements of a row of {@code cols} columns: its Q8_0 blocks' bytes, else the columns. */
        private static long width(long cols, boolean q8) {
            return q8 ? Q8Blocks.rowBytes(cols) : cols;
        }

        /** The embedding, and the head where it is not the embedding's. */
        private static int tables(ModelConfig config) {
            return config.tieWordEmbeddings() ? 1 : 2;
        }

        /**
         * The embedding ({@code which} 0) or head (1) [vocab, hidden]: copied from {@code raw} (converted; quantized
         * for Q8_0, or copied as they are where they are Q8_0 blocks already) unless the block holds it already.
         */
        Tensor table(int which, Tensor raw) {
            long rows = config.vocabSize();
            Tensor slice = storage.narrow(0, tablesAt + which * rows * tableWidth, rows * tableWidth).view(rows, tableWidth);
            if (ready) {
                return slice;
            }
            if (q8) {
                fillQuantized(slice, slice.data_ptr().address(), tableWidth, raw);
            } else {
                try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
                    slice.copy_(raw);
                }
            }
            return slice;
        }

        private static long elementBytes(ScalarType dtype) {
            return WeightDtype.isInt8(dtype) ? 1 : dtype.value == ScalarType.BFloat16.value ? 2 : 4;
        }

        /** Whether the matrices are in the block already (a prepared file's): nothing is read or copied. */
        boolean ready() {
            return ready;
        }

        /**
         * The next slice: the projections {@code ps} of one layer (same column count) one after another as rows,
         * copied from {@code w} (converted; quantized for Q8_0) unless the block holds them already.
         */
        Tensor stack(Map<Projection, Tensor> w, Projection... ps) {
            long cols = ps[0].weightShape(config)[1];
            long rows = 0;
            for (Projection p : ps) {
                rows += p.weightShape(config)[0];
            }
            long width = width(cols, q8);
            Tensor slice = storage.narrow(0, offset, rows * width).view(rows, width);
            long at = offset;
            offset += rows * width;
            if (ready) {
                return slice;
            }
            Tensor[] parts = new Tensor[ps.length];
            for (int i = 0; i < ps.length; i++) {
                parts[i] = w.get(ps[i]);
            }
            if (q8) {
                fillQuantized(slice, storage.data_ptr().address() + at, width, parts);
                return slice;
            }
            long row = 0;
            try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
                for (Tensor p : parts) {
                    slice.narrow(0, row, p.size(0)).copy_(p);
                    row += p.size(0);
                }
            }
            return slice;
        }

        /** Fills {@code slice} (at {@code at}) with each part quantized (one at a time in float32) into Q8_0 rows. */
        private static void fillQuantized(Tensor slice, long at, long rowBytes, Tensor... parts) {
            long row = 0;
            for (Tensor p : parts) {
                long bytes = p.size(0) * rowBytes;
                if (isQ8Blocks(p)) {
                    // already Q8_0 (a GGUF file's): copied as they are
                    try (org.bytedeco.pytorch.NoGradGuard g = new org.bytedeco.pytorch.NoGradGuard()) {
                        slice.narrow(0, row, p.size(0)).copy_(p);
                    }
                } else {
                    try (PointerScope scope = new PointerScope()) {
                        Q8Blocks.quantize(p.to(ScalarType.Float).contiguous(),
                                java.lang.foreign.MemorySegment.ofAddress(at).reinterpret(bytes));
                    }
                }
                at += bytes;
                row += p.size(0);
            }
        }
    }

    private static Tensor concat(Tensor... parts) {
        Tensor t = torch.cat(new org.bytedeco.pytorch.TensorVector(parts), 0);
        t.set_requires_grad(false);
        return t;
    }

    /** RMSNorm over the last dimension; Gemma's convention in float32 with 1 + w stored ({@link #normWeight}). */
    private Tensor rmsNorm(Tensor x, Tensor weight) {
        if (arch.norm() == Architecture.Norm.ONE_PLUS_WEIGHT) {
            return torch.rms_norm(x.to(ScalarType.Float), new long[]{weight.size(0)}, new TensorOptional(weight),
                    new DoubleOptional(config.rmsNormEps())).to(x.scalar_type());
        }
        return torch.rms_norm(x, new long[]{weight.size(0)}, new TensorOptional(weight),
                new DoubleOptional(config.rmsNormEps()));
    }

    private static boolean hasBias(ModelConfig config, Projection p) {
        return switch (p) {
            case Q, K, V -> config.attentionBias();
            case O -> config.outputProjectionBias();
            case GATE, UP, DOWN -> config.mlpBias();
        };
    }

    private Tensor frozen(Tensor t) {
        // contiguous: the single-token decoder reads the storage in place, row-major
        Tensor c = (t.is_floating_point() ? t.to(dtype) : t).contiguous();
        c.set_requires_grad(false);
        return c;
    }

    /** Whether {@code t} is a matrix already in Q8_0 blocks (uint8 [rows, rowBytes]) rather than of floats. */
    private static boolean isQ8Blocks(Tensor t) {
        return t.scalar_type().value == ScalarType.Byte.value;
    }

    /** As {@link #checkShape} for a matrix of {@code expected} [rows, cols], given as floats or as Q8_0 blocks. */
    private Tensor checkMatrixShape(Tensor t, String name, long... expected) {
        if (!isQ8Blocks(t)) {
            return checkShape(t, name, expected);
        }
        if (!q8) {
            throw new IllegalArgumentException("tensor " + name + " is Q8_0 blocks, which a base loads with dtype int8");
        }
        return checkShape(t, name, expected[0], Q8Blocks.rowBytes(expected[1]));
    }

    private static Tensor checkShape(Tensor t, String name, long... expected) {
        long[] actual = dev.tuneforge.engine.tensor.Tensors.shape(t);
        if (!java.util.Arrays.equals(actual, expected)) {
            throw new IllegalArgumentException("tensor " + name + " has shape " + java.util.Arrays.toString(actual)
                    + ", config.json implies " + java.util.Arrays.toString(expected));
        }
        return t;
    }
}
