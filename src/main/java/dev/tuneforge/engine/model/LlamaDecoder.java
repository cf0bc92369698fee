package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.NativeMatrix;
import dev.tuneforge.engine.kernel.NativeTeam;
import dev.tuneforge.engine.kernel.RowParallel;
import dev.tuneforge.engine.kernel.VectorMath;
import dev.tuneforge.engine.kernel.WeightMatrix;
import dev.tuneforge.engine.tensor.BFloat16;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * {@link LlamaModel}'s forward pass (any declared {@link Architecture}) for one new token of one sequence, on the shared base
 * weights in place (no copies) with the
 * Vector API. Producing a token reads every weight once and does little else, so it is bound by memory bandwidth
 * — but through libtorch it is bound by the cost of calling ~50 ops per layer (each one a JNI call, a dispatch
 * and an OpenMP fork/join, about as long as the op's own work at this size). Here a layer is five parallel
 * matrix-vector products plus a few loops over vectors of the hidden size. The arithmetic is float32 throughout
 * (weights widened on load), as in {@link LlamaModel#forward}; prompts still go through libtorch, which fills the
 * same {@link KvCache}. Where the native team decoder is built ({@link NativeTeam}) each token goes to it instead,
 * and this class decodes only what it cannot take.
 */
final class LlamaDecoder implements SingleTokenDecoder {
    /** The fewest positions attention is split into a part of, across the cores. */
    private static final int MIN_PART_POSITIONS = 16;
    /** Holds the memory the weight matrices view (the model). */
    private final Object owner;
    private final ModelConfig config;
    private final WeightMatrix embedTokens;
    private final WeightMatrix lmHead;
    private final float[] finalNorm;
    private final Layer[] layers;
    /** Per distinct RoPE of the layers ({@link Architecture#ropes()}); ropeOf[l] is layer l's. */
    private final float[][] inverseFrequencies;
    private final int[] ropeOf;
    private final Architecture arch;
    /** √hidden in the weights' dtype (Gemma), else 1. */
    private final float embeddingScale;
    /** The native team decoder's view of this model, where it runs ({@link NativeTeam}); else null. */
    private final LlamaTeam team;

    private record Layer(float[] inputNorm, float[] mlpNorm, float[] attentionOutputNorm, float[] mlpOutputNorm,
                         float[] qNorm, float[] kNorm, WeightMatrix qkv, float[] qkvBias,
                         WeightMatrix o, float[] oBias, WeightMatrix gateUp, float[] gateUpBias, WeightMatrix down,
                         float[] downBias) {
    }

    LlamaDecoder(DecoderWeights w) {
        this.owner = w.owner();
        this.config = w.config();
        int hidden = config.hiddenSize();
        int inter = config.intermediateSize();
        int qkvRows = (config.numHeads() + 2 * config.numKvHeads()) * config.headDim();
        int attentionWidth = config.numHeads() * config.headDim();
        java.util.function.BiFunction<Long, int[], WeightMatrix> matrix = (address, shape) -> switch (w.dtype()) {
            case TeamLayouts.DTYPE_Q8_0 -> WeightMatrix.q8(address, shape[0], shape[1]);
            case TeamLayouts.DTYPE_BF16 -> WeightMatrix.bfloat16(address, shape[0], shape[1]);
            default -> WeightMatrix.float32(address, shape[0], shape[1]);
        };
        this.embedTokens = matrix.apply(w.embedTokens(), new int[]{config.vocabSize(), hidden});
        this.lmHead = matrix.apply(w.lmHead(), new int[]{config.vocabSize(), hidden});
        this.finalNorm = w.finalNorm();
        this.layers = new Layer[w.layers().length];
        for (int l = 0; l < layers.length; l++) {
            DecoderWeights.Layer d = w.layers()[l];
            layers[l] = new Layer(d.inputNorm(), d.mlpNorm(), d.attentionOutputNorm(), d.mlpOutputNorm(), d.qNorm(),
                    d.kNorm(),
                    matrix.apply(d.qkv(), new int[]{qkvRows, hidden}), d.qkvBias(),
                    matrix.apply(d.o(), new int[]{hidden, attentionWidth}), d.oBias(),
                    matrix.apply(d.gateUp(), new int[]{2 * inter, hidden}), d.gateUpBias(),
                    matrix.apply(d.down(), new int[]{hidden, inter}), d.downBias());
        }
        this.arch = config.architecture();
        List<Architecture.Rope> ropes = arch.ropes();
        this.inverseFrequencies = new float[ropes.size()][];
        for (int r = 0; r < ropes.size(); r++) {
            inverseFrequencies[r] = RotaryEmbedding.inverseFrequencies(ropes.get(r), config.headDim());
        }
        this.ropeOf = new int[layers.length];
        for (int l = 0; l < layers.length; l++) {
            ropeOf[l] = ropes.indexOf(arch.layer(l).rope());
        }
        this.embeddingScale = w.embeddingScale();
        this.team = NativeTeam.available() ? new LlamaTeam(w) : null;
    }

    private LlamaDecoder(LlamaDecoder java) {
        this.owner = java.owner;
        this.config = java.config;
        this.embedTokens = java.embedTokens;
        this.lmHead = java.lmHead;
        this.finalNorm = java.finalNorm;
        this.layers = java.layers;
        this.inverseFrequencies = java.inverseFrequencies;
        this.ropeOf = java.ropeOf;
        this.arch = java.arch;
        this.embeddingScale = java.embeddingScale;
        this.team = null;
    }

    /** Scratch buffers for one sequence: allocated once, reused for every token. */
    private final class Buffers implements State {
        private final float[] hidden = new float[config.hiddenSize()];
        private final float[] normed = new float[config.hiddenSize()];
        private final float[] qkv = new float[(config.numHeads() + 2 * config.numKvHeads()) * config.headDim()];
        private final float[] attention = new float[config.numHeads() * config.headDim()];
        private final float[] projected = new float[config.hiddenSize()];
        private final float[] gateUp = new float[2 * config.intermediateSize()];
        private final float[] activation = new float[config.intermediateSize()];
        private final float[] scores;
        /** cos and sin of every RoPE of the layers, one row of head_dim / 2 after another. */
        private final float[] cos = new float[inverseFrequencies.length * config.headDim() / 2];
        private final float[] sin = new float[inverseFrequencies.length * config.headDim() / 2];
        private final float[] logits = new float[config.vocabSize()];
        /** Attention split by positions ({@link #attendPart}): per part and head. */
        private final float[] partMax = new float[RowParallel.threads() * config.numHeads()];
        private final float[] partSum = new float[RowParallel.threads() * config.numHeads()];
        private final float[] partWeight = new float[RowParallel.threads()];
        private final float[][] partOut = new float[RowParallel.threads()][config.numHeads() * config.headDim()];
        /** An adapter's intermediates A · x of one projection group, members one after another; grown as needed. */
        private float[] lowRank = new float[0];
        /** x's columns regrouped for the native bf16 loop, for every product ({@link WeightMatrix#multiply}). */
        private final float[] regrouped = new float[Math.max(config.hiddenSize(),
                Math.max(config.intermediateSize(), config.numHeads() * config.headDim()))];
        /** The team decoder's buffers, where it runs. */
        private final LlamaTeam.Buffers teamBuffers = team == null ? null : team.new Buffers();

        private Buffers(int capacity) {
            scores = new float[config.numHeads() * capacity];
        }
    }

    @Override
    public String loop() {
        return (team != null ? NativeTeam.status() : WeightMatrix.loopStatus())
                + (lmHead.isQ8() ? "; " + WeightMatrix.q8LoopStatus() : "");
    }

    @Override
    public SingleTokenDecoder withoutTeam() {
        return team == null ? this : new LlamaDecoder(this);
    }

    @Override
    public State newState(KvCache cache) {
        return new Buffers(cache.capacity());
    }

    @Override
    public float[] next(State state, int token, int position, KvCache cache, AdapterWeights adapter) {
        Buffers s = (Buffers) state;
        cache.checkContinues(position);
        cache.checkRoom(position + 1L);
        int hiddenSize = config.hiddenSize();
        int headDim = config.headDim();
        int qDim = config.numHeads() * headDim;
        int kvDim = config.numKvHeads() * headDim;
        int inter = config.intermediateSize();
        float[] row = adapter == null ? null : adapter.embeddingRow(token);
        if (row != null) {
            System.arraycopy(row, 0, s.hidden, 0, hiddenSize);
        } else {
            embedTokens.row(token, s.hidden);
        }
        if (embeddingScale != 1f) {
            for (int i = 0; i < hiddenSize; i++) {
                s.hidden[i] *= embeddingScale;
            }
        }
        RotaryEmbedding.angles(inverseFrequencies, position, s.cos, s.sin);
        if (team != null && nextByTeam(s, position, cache, adapter)) {
            return s.logits;
        }
        for (int l = 0; l < layers.length; l++) {
            Layer layer = layers[l];
            VectorMath.rmsNorm(s.hidden, layer.inputNorm, config.rmsNormEps(), s.normed);
            multiply(layer.qkv, s.normed, s.qkv, adapter, l, Projection.ATTENTION_INPUTS, s);
            addBias(s.qkv, layer.qkvBias);
            addUps(adapter, l, Projection.ATTENTION_INPUTS, s, s.qkv, 0, qDim, qDim + kvDim);
            for (int h = 0; h < config.numHeads(); h++) {
                headNorm(s.qkv, h * headDim, layer.qNorm);
                rotate(s.qkv, h * headDim, ropeOf[l], s);
            }
            for (int h = 0; h < config.numKvHeads(); h++) {
                headNorm(s.qkv, qDim + h * headDim, layer.kNorm);
                rotate(s.qkv, qDim + h * headDim, ropeOf[l], s);
            }
            store(cache, l, position, s.qkv, qDim, kvDim);
            attend(cache, l, position, s);
            multiply(layer.o, s.attention, s.projected, adapter, l, Projection.ATTENTION_OUTPUT, s);
            addBias(s.projected, layer.oBias);
            addUps(adapter, l, Projection.ATTENTION_OUTPUT, s, s.projected, 0);
            if (layer.attentionOutputNorm != null) {
                VectorMath.rmsNorm(s.projected, layer.attentionOutputNorm, config.rmsNormEps(), s.projected);
            }
            VectorMath.add(s.hidden, s.projected, hiddenSize);

            VectorMath.rmsNorm(s.hidden, layer.mlpNorm, config.rmsNormEps(), s.normed);
            multiply(layer.gateUp, s.normed, s.gateUp, adapter, l, Projection.MLP_INPUTS, s);
            addBias(s.gateUp, layer.gateUpBias);
            addUps(adapter, l, Projection.MLP_INPUTS, s, s.gateUp, 0, inter);
            if (arch.activation() == Architecture.Activation.GELU_TANH) {
                VectorMath.geglu(s.gateUp, inter, s.activation);
            } else {
                VectorMath.swiglu(s.gateUp, inter, s.activation);
            }
            multiply(layer.down, s.activation, s.projected, adapter, l, Projection.MLP_OUTPUT, s);
            addBias(s.projected, layer.downBias);
            addUps(adapter, l, Projection.MLP_OUTPUT, s, s.projected, 0);
            if (layer.mlpOutputNorm != null) {
                VectorMath.rmsNorm(s.projected, layer.mlpOutputNorm, config.rmsNormEps(), s.projected);
            }
            VectorMath.add(s.hidden, s.projected, hiddenSize);
        }
        VectorMath.rmsNorm(s.hidden, finalNorm, config.rmsNormEps(), s.normed);
        lmHead.multiply(s.normed, s.logits, null, null, s.regrouped);
        finish(s, position, cache, adapter);
        return s.logits;
    }

    /** The adapter's replacement head rows, and the cache one position longer. */
    private void finish(Buffers s, int position, KvCache cache, AdapterWeights adapter) {
        if (adapter != null) {
            int[] tokens = adapter.headTokens();
            for (int j = 0; j < tokens.length; j++) {
                s.logits[tokens[j]] = VectorMath.dot(adapter.headRow(j), 0, s.normed, 0, config.hiddenSize());
            }
        }
        double cap = arch.finalLogitSoftcap();
        if (cap > 0) {
            for (int i = 0; i < s.logits.length; i++) {
                s.logits[i] = (float) (cap * Math.tanh(s.logits[i] / cap));
            }
        }
        cache.advanceTo(position + 1);
        // the weights read before are the owner's memory: it must not be collected (and freed) before now
        java.lang.ref.Reference.reachabilityFence(owner);
    }

    /**
     * The token from s.hidden on by the native team; false where it did not run (the team busy with another
     * sequence's token), and the caller decodes it itself.
     */
    private boolean nextByTeam(Buffers s, int position, KvCache cache, AdapterWeights adapter) {
        MemorySegment adapterWords = LlamaTeam.adapter(adapter);
        LlamaTeam.Buffers n = s.teamBuffers;
        MemorySegment.copy(s.hidden, 0, n.hidden, ValueLayout.JAVA_FLOAT, 0, s.hidden.length);
        MemorySegment.copy(s.cos, 0, n.cos, ValueLayout.JAVA_FLOAT, 0, s.cos.length);
        MemorySegment.copy(s.sin, 0, n.sin, ValueLayout.JAVA_FLOAT, 0, s.sin.length);
        int result = NativeTeam.decode(team.model(), adapterWords, n.cache(cache), position, n.cos, n.sin, n.hidden,
                n.normed, n.logits);
        if (result == NativeTeam.BUSY) {
            return false;
        }
        MemorySegment.copy(n.logits, ValueLayout.JAVA_FLOAT, 0, s.logits, 0, s.logits.length);
        MemorySegment.copy(n.normed, ValueLayout.JAVA_FLOAT, 0, s.normed, 0, s.normed.length);
        finish(s, position, cache, adapter);
        java.lang.ref.Reference.reachabilityFence(team);
        return true;
    }


    /** Rotate-half RoPE of one head at {@code off} with RoPE {@code rope}, as {@link RotaryEmbedding#apply}. */
    private void rotate(float[] x, int off, int rope, Buffers s) {
        int half = config.headDim() / 2;
        int at = rope * half;
        for (int i = 0; i < half; i++) {
            float x1 = x[off + i];
            float x2 = x[off + half + i];
            x[off + i] = x1 * s.cos[at + i] - x2 * s.sin[at + i];
            x[off + half + i] = x2 * s.cos[at + i] + x1 * s.sin[at + i];
        }
    }

    /** RMSNorm of one head's query or key at {@code off} in place (q/k norm); nothing where weight is null. */
    private void headNorm(float[] x, int off, float[] weight) {
        if (weight == null) {
            return;
        }
        int n = weight.length;
        float meanSquare = VectorMath.dot(x, off, x, off, n) / n;
        float inv = (float) (1.0 / Math.sqrt(meanSquare + config.rmsNormEps()));
        for (int i = 0; i < n; i++) {
            x[off + i] = x[off + i] * inv * weight[i];
        }
    }

    private static MemorySegment cacheSegment(KvCache cache, long address) {
        return MemorySegment.ofAddress(address)
                .reinterpret((long) cache.capacity() * cache.headDim() * cache.kvHeads() * cache.elementBytes());
    }

    /** This position's keys and values into the cache: as they are, or rounded to bf16 for a bf16 cache. */
    private void store(KvCache cache, int layer, int position, float[] qkv, int qDim, int kvDim) {
        MemorySegment keys = cacheSegment(cache, cache.keyAddress(layer));
        MemorySegment values = cacheSegment(cache, cache.valueAddress(layer));
        int headDim = config.headDim();
        for (int h = 0; h < config.numKvHeads(); h++) {
            long index = ((long) h * cache.capacity() + position) * headDim;
            if (cache.bfloat16()) {
                for (int d = 0; d < headDim; d++) {
                    keys.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index + d, BFloat16.round(qkv[qDim + h * headDim + d]));
                    values.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, index + d,
                            BFloat16.round(qkv[qDim + kvDim + h * headDim + d]));
                }
            } else {
                MemorySegment.copy(qkv, qDim + h * headDim, keys, ValueLayout.JAVA_FLOAT_UNALIGNED, index * Float.BYTES, headDim);
                MemorySegment.copy(qkv, qDim + kvDim + h * headDim, values, ValueLayout.JAVA_FLOAT_UNALIGNED,
                        index * Float.BYTES, headDim);
            }
        }
    }

    /**
     * Softmax attention of every query head over positions 0..position of its key/value head, split across the
     * cores by key/value head where those divide evenly among them (Qwen2.5-0.5B's 2), else by positions
     * (SmolLM2's 3 on two cores: split by query head, one core read two of the three heads' keys and values and the
     * other core the other two, 5 heads against 4; by positions at positions 1000–1064: +5.9% tokens/s in the
     * fast-memory phase, +3.4% in the slow one, no difference at 32–96; Qwen2.5-0.5B by positions: −0.7% at 32–96,
     * −2.5% at 1000).
     */
    private void attend(KvCache cache, int layer, int position, Buffers s) {
        MemorySegment keys = cacheSegment(cache, cache.keyAddress(layer));
        MemorySegment values = cacheSegment(cache, cache.valueAddress(layer));
        int window = arch.layer(layer).window();
        // a sliding-window layer sees the last `window` positions
        int first = window > 0 && position + 1 > window ? position + 1 - window : 0;
        int positions = position + 1 - first;
        int parts = Math.min(RowParallel.threads(), positions / MIN_PART_POSITIONS);
        if (config.numKvHeads() % RowParallel.threads() == 0 || parts < 2) {
            RowParallel.forRows(config.numHeads(), 1, (from, to) -> {
                for (int h = from; h < to; h++) {
                    attendHead(cache, keys, values, h, first, position, s);
                }
            });
            return;
        }
        RowParallel.forRows(parts, 1, (from, to) -> {
            for (int part = from; part < to; part++) {
                attendPart(cache, keys, values, first + (int) ((long) positions * part / parts),
                        first + (int) ((long) positions * (part + 1) / parts), part, s);
            }
        });
        combineParts(parts, s);
    }

    /**
     * Every head's attention over positions [from, to) only, unnormalised: each head's largest score, the sum of
     * its exponentials and their weighted sum of values, as part {@code part} for {@link #combineParts}. Parts
     * split the positions rather than the heads, so that the cores read disjoint halves of every head's keys and
     * values (SmolLM2's 3 key/value heads do not split evenly in two) and do equal work.
     */
    private void attendPart(KvCache cache, MemorySegment keys, MemorySegment values, int from, int to, int part,
                            Buffers s) {
        int headDim = config.headDim();
        int group = config.numHeads() / config.numKvHeads();
        float scale = (float) arch.attentionScale();
        float[] scores = s.scores;
        int heads = config.numHeads();
        for (int h = 0; h < heads; h++) {
            long headBase = ((long) (h / group) * cache.capacity() + from) * headDim;
            int scoresBase = h * cache.capacity() + from;
            scaledDots(cache, s.qkv, h * headDim, keys, headBase, to - from, scale, scores, scoresBase);
            float max = VectorMath.max(scores, scoresBase, to - from);
            s.partMax[part * heads + h] = max;
            s.partSum[part * heads + h] = VectorMath.exponentiate(scores, scoresBase, to - from, max);
            weightedSum(cache, scores, scoresBase, to - from, values, headBase, s.partOut[part], h * headDim);
        }
    }

    /** s.attention from the parts' unnormalised results: each rescaled to the overall largest score, then divided. */
    private void combineParts(int parts, Buffers s) {
        int heads = config.numHeads();
        int headDim = config.headDim();
        for (int h = 0; h < heads; h++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int p = 0; p < parts; p++) {
                max = Math.max(max, s.partMax[p * heads + h]);
            }
            float sum = 0;
            for (int p = 0; p < parts; p++) {
                float weight = (float) Math.exp(s.partMax[p * heads + h] - max);
                s.partWeight[p] = weight;
                sum += weight * s.partSum[p * heads + h];
            }
            int at = h * headDim;
            float first = s.partWeight[0] / sum;
            for (int d = 0; d < headDim; d++) {
                s.attention[at + d] = first * s.partOut[0][at + d];
            }
            for (int p = 1; p < parts; p++) {
                float w = s.partWeight[p] / sum;
                for (int d = 0; d < headDim; d++) {
                    s.attention[at + d] += w * s.partOut[p][at + d];
                }
            }
        }
    }

    /** Head h's attention over positions first..position. */
    private void attendHead(KvCache cache, MemorySegment keys, MemorySegment values, int h, int first, int position,
                            Buffers s) {
        int headDim = config.headDim();
        int group = config.numHeads() / config.numKvHeads();
        float scale = (float) arch.attentionScale();
        long headBase = ((long) (h / group) * cache.capacity() + first) * headDim;
        int scoresBase = h * cache.capacity();
        int n = position + 1 - first;
        float[] scores = s.scores;
        scaledDots(cache, s.qkv, h * headDim, keys, headBase, n, scale, scores, scoresBase);
        VectorMath.softmax(scores, scoresBase, n);
        weightedSum(cache, scores, scoresBase, n, values, headBase, s.attention, h * headDim);
    }

    /** Attention scores of one query head against n cached keys from element {@code keysIndex}, in the cache's dtype. */
    private void scaledDots(KvCache cache, float[] q, int qOff, MemorySegment keys, long keysIndex, int n, float scale,
                            float[] out, int outOff) {
        if (cache.bfloat16()) {
            VectorMath.scaledDotsBf16(q, qOff, keys, keysIndex, config.headDim(), n, scale, out, outOff);
        } else {
            VectorMath.scaledDots(q, qOff, keys, keysIndex, config.headDim(), n, scale, out, outOff);
        }
    }

    /** The weighted sum of n cached values from element {@code valuesIndex}, in the cache's dtype. */
    private void weightedSum(KvCache cache, float[] weights, int weightsOff, int n, MemorySegment values,
                             long valuesIndex, float[] out, int outOff) {
        if (cache.bfloat16()) {
            VectorMath.weightedSumBf16(weights, weightsOff, n, values, valuesIndex, config.headDim(), out, outOff);
        } else {
            VectorMath.weightedSum(weights, weightsOff, n, values, valuesIndex, config.headDim(), out, outOff);
        }
    }

    private static void addBias(float[] y, float[] bias) {
        if (bias != null) {
            VectorMath.add(y, bias, bias.length);
        }
    }

    /**
     * {@code y = matrix · x}, and with an adapter that updates any of {@code group} also each member's intermediate
     * {@code t = A · x} (into {@code s.lowRank}, the members one after another) in the same parallel job.
     */
    private static void multiply(WeightMatrix matrix, float[] x, float[] y, AdapterWeights adapter, int layer,
                                 List<Projection> group, Buffers s) {
        NativeMatrix stacked = adapter == null ? null : adapter.stackedDown(layer, group);
        int rows = stacked == null ? 0 : (int) (stacked.elements() / matrix.cols());
        if (s.lowRank.length < rows) {
            s.lowRank = new float[rows];
        }
        matrix.multiply(x, y, stacked, s.lowRank, s.regrouped);
    }

    /**
     * After {@link #multiply}: y[offsets[k], +out) += upᵀ · t for each member k of {@code group} that has an update,
     * t its rank values in {@code s.lowRank} (where the members with an update lie one after another).
     */
    private static void addUps(AdapterWeights adapter, int layer, List<Projection> group, Buffers s,
                               float[] y, int... offsets) {
        if (adapter == null) {
            return;
        }
        int t = 0;
        for (int k = 0; k < group.size(); k++) {
            AdapterWeights.LowRank d = adapter.lowRank(layer, group.get(k));
            if (d != null) {
                d.up().addScaledRows(y, offsets[k], s.lowRank, t, d.rank(), d.out());
                t += d.rank();
            }
        }
    }
}
