package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.ComputeThreads;
import dev.tuneforge.engine.kernel.NativeTeam;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * {@link LlamaDecoder}'s model, adapters and caches described for {@link NativeTeam} as the structs of
 * {@code src/main/c/team_decoder.h} ({@link TeamLayouts}): the weights stay where they are, the norms and biases are
 * copied to native memory once, an adapter's low-rank matrices once per adapter.
 */
final class LlamaTeam {
    private final ModelConfig config;
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment model;
    /** Adapters described so far: each description lives as long as its adapter's weights. */
    private final Map<AdapterWeights, Described> adapters = new WeakHashMap<>();

    LlamaTeam(DecoderWeights w) {
        this.config = w.config();
        int layers = w.layers().length;
        Architecture arch = config.architecture();
        List<Architecture.Rope> ropes = arch.ropes();
        MemorySegment layerStructs = arena.allocate(TeamLayouts.LAYER, layers);
        for (int l = 0; l < layers; l++) {
            DecoderWeights.Layer d = w.layers()[l];
            var L = TeamLayouts.LAYER;
            TeamLayouts.set(layerStructs, L, l, "qkv", d.qkv());
            TeamLayouts.set(layerStructs, L, l, "o", d.o());
            TeamLayouts.set(layerStructs, L, l, "gate_up", d.gateUp());
            TeamLayouts.set(layerStructs, L, l, "down", d.down());
            TeamLayouts.set(layerStructs, L, l, "input_norm", floats(d.inputNorm()));
            TeamLayouts.set(layerStructs, L, l, "mlp_norm", floats(d.mlpNorm()));
            TeamLayouts.set(layerStructs, L, l, "attention_output_norm", floats(d.attentionOutputNorm()));
            TeamLayouts.set(layerStructs, L, l, "mlp_output_norm", floats(d.mlpOutputNorm()));
            TeamLayouts.set(layerStructs, L, l, "q_norm", floats(d.qNorm()));
            TeamLayouts.set(layerStructs, L, l, "k_norm", floats(d.kNorm()));
            TeamLayouts.set(layerStructs, L, l, "qkv_bias", floats(d.qkvBias()));
            TeamLayouts.set(layerStructs, L, l, "o_bias", floats(d.oBias()));
            TeamLayouts.set(layerStructs, L, l, "gate_up_bias", floats(d.gateUpBias()));
            TeamLayouts.set(layerStructs, L, l, "down_bias", floats(d.downBias()));
            TeamLayouts.set(layerStructs, L, l, "window", arch.layer(l).window());
            TeamLayouts.set(layerStructs, L, l, "rope", ropes.indexOf(arch.layer(l).rope()));
        }
        model = arena.allocate(TeamLayouts.MODEL);
        var M = TeamLayouts.MODEL;
        TeamLayouts.set(model, M, 0, "hidden", config.hiddenSize());
        TeamLayouts.set(model, M, 0, "heads", config.numHeads());
        TeamLayouts.set(model, M, 0, "kv_heads", config.numKvHeads());
        TeamLayouts.set(model, M, 0, "head_dim", config.headDim());
        TeamLayouts.set(model, M, 0, "inter", config.intermediateSize());
        TeamLayouts.set(model, M, 0, "layers", layers);
        TeamLayouts.set(model, M, 0, "vocab", config.vocabSize());
        TeamLayouts.set(model, M, 0, "dtype", w.dtype());
        TeamLayouts.set(model, M, 0, "threads", ComputeThreads.count());
        TeamLayouts.set(model, M, 0, "activation", arch.activation().ordinal());
        TeamLayouts.set(model, M, 0, "eps", config.rmsNormEps());
        TeamLayouts.set(model, M, 0, "attention_scale", (float) arch.attentionScale());
        TeamLayouts.set(model, M, 0, "ropes", ropes.size());
        TeamLayouts.set(model, M, 0, "lm_head", w.lmHead());
        TeamLayouts.set(model, M, 0, "final_norm", floats(w.finalNorm()));
        TeamLayouts.set(model, M, 0, "layer", layerStructs);
    }

    MemorySegment model() {
        return model;
    }

    /** The description of {@code adapter} (NULL for none), built on first use. */
    synchronized MemorySegment adapter(AdapterWeights adapter) {
        if (adapter == null) {
            return MemorySegment.NULL;
        }
        return adapters.computeIfAbsent(adapter, this::describe).words();
    }

    /** An adapter's description and the block holding its matrices, which must live as long as it. */
    private record Described(MemorySegment words, Tensor block) {
    }

    /**
     * Copies the adapter's matrices into one block, layer after layer in the order the team reads them (each group's
     * A rows, then its members' B), on huge pages where libtorch's allocator gives them (THP_MEM_ALLOC_ENABLE, set by
     * the launcher). As separate small allocations on 4 KB pages, SmolLM2's A · x and B · t took ~0.4 and ~0.5 ms a
     * token in the fast-memory phase for their ~10 MB: the hardware prefetcher stops at every 4 KB page boundary.
     */
    private Described describe(AdapterWeights adapter) {
        int layers = config.numLayers();
        int[] inputs = {config.hiddenSize(), config.numHeads() * config.headDim(), config.hiddenSize(),
                config.intermediateSize()};
        long floats = 0;
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < Projection.GROUPS.size(); g++) {
                float[] stacked = adapter.stackedDown(l, Projection.GROUPS.get(g));
                floats += lines(stacked == null ? 0 : stacked.length);
                for (Projection p : Projection.GROUPS.get(g)) {
                    AdapterWeights.LowRank lowRank = adapter.lowRank(l, p);
                    floats += lines(lowRank == null ? 0 : lowRank.up().length);
                }
            }
        }
        Tensor block = torch.empty(new long[]{Math.max(1, floats)}, new TensorOptions(ScalarType.Float),
                new MemoryFormatOptional());
        // built lazily, possibly inside a caller's PointerScope: kept alive past it, as long as the description
        block.retainReference();
        MemorySegment memory = MemorySegment.ofAddress(block.data_ptr().address()).reinterpret(floats * Float.BYTES);
        MemorySegment words = Arena.ofAuto().allocate(TeamLayouts.ADAPTER_LAYER, layers);
        long next = 0;
        for (int l = 0; l < layers; l++) {
            long at = l * TeamLayouts.ADAPTER_LAYER.byteSize();
            for (int g = 0; g < Projection.GROUPS.size(); g++) {
                List<Projection> group = Projection.GROUPS.get(g);
                float[] stacked = adapter.stackedDown(l, group);
                words.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("groups", g, "stacked"),
                        stacked == null ? 0 : memory.address() + next * 4);
                words.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("groups", g, "rows"),
                        stacked == null ? 0 : stacked.length / inputs[g]);
                next = put(stacked, memory, next);
                for (Projection p : group) {
                    AdapterWeights.LowRank lowRank = adapter.lowRank(l, p);
                    words.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("projections", p.ordinal(), "up"),
                            lowRank == null ? 0 : memory.address() + next * 4);
                    words.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("projections", p.ordinal(), "rank"),
                            lowRank == null ? 0 : lowRank.rank());
                    next = put(lowRank == null ? null : lowRank.up(), memory, next);
                }
            }
        }
        return new Described(words, block);
    }

    /** n floats rounded up to whole 64-byte lines. */
    private static long lines(long n) {
        return (n + 15) & ~15L;
    }

    /** Copies values (if any) to memory at float index {@code at}; returns the next line-aligned index. */
    private static long put(float[] values, MemorySegment memory, long at) {
        if (values == null) {
            return at;
        }
        MemorySegment.copy(values, 0, memory, ValueLayout.JAVA_FLOAT, at * Float.BYTES, values.length);
        return at + lines(values.length);
    }

    /** Native buffers of one sequence's decoding, and its cache's description. */
    final class Buffers {
        final MemorySegment hidden;
        final MemorySegment normed;
        final MemorySegment cos;
        final MemorySegment sin;
        final MemorySegment logits;
        private KvCache described;
        private MemorySegment cacheWords;

        Buffers() {
            Arena own = Arena.ofAuto();
            hidden = lineAligned(own, config.hiddenSize());
            normed = lineAligned(own, config.hiddenSize());
            int ropes = config.architecture().ropes().size();
            cos = lineAligned(own, ropes * config.headDim() / 2);
            sin = lineAligned(own, ropes * config.headDim() / 2);
            logits = lineAligned(own, config.vocabSize());
        }

        /** On whole cache lines: the cores write the logits in shares that meet at a line boundary (team_decoder.c). */
        private static MemorySegment lineAligned(Arena arena, int n) {
            return arena.allocate((long) n * Float.BYTES, 64);
        }

        MemorySegment cache(KvCache cache) {
            if (cache != described) {
                int layers = config.numLayers();
                Arena own = Arena.ofAuto();
                MemorySegment layerStructs = own.allocate(TeamLayouts.CACHE_LAYER, layers);
                for (int l = 0; l < layers; l++) {
                    TeamLayouts.set(layerStructs, TeamLayouts.CACHE_LAYER, l, "keys", cache.keyAddress(l));
                    TeamLayouts.set(layerStructs, TeamLayouts.CACHE_LAYER, l, "values", cache.valueAddress(l));
                }
                MemorySegment words = own.allocate(TeamLayouts.CACHE);
                TeamLayouts.set(words, TeamLayouts.CACHE, 0, "capacity", (long) cache.capacity());
                TeamLayouts.set(words, TeamLayouts.CACHE, 0, "bf16", cache.bfloat16() ? 1L : 0L);
                TeamLayouts.set(words, TeamLayouts.CACHE, 0, "layer", layerStructs);
                cacheWords = words;
                described = cache;
            }
            return cacheWords;
        }
    }

    /** A copy of {@code values} in native memory owned by this team's arena, as an address; 0 for null. */
    private long floats(float[] values) {
        if (values == null) {
            return 0;
        }
        MemorySegment copy = arena.allocate(ValueLayout.JAVA_FLOAT, values.length);
        MemorySegment.copy(values, 0, copy, ValueLayout.JAVA_FLOAT, 0, values.length);
        return copy.address();
    }
}
