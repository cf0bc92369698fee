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
 * {@link LlamaDecoder}'s model, adapters and caches described for {@link NativeTeam} (the layouts are in
 * {@code src/main/c/team_decoder.c}): the weights stay where they are, the norms and biases are copied to native
 * memory once, an adapter's low-rank matrices once per adapter.
 */
final class LlamaTeam {
    private static final int MODEL_HEADER = 12;
    private static final int LAYER_WORDS = 10;
    private static final int ADAPTER_LAYER_WORDS = 2 * 4 + 2 * 7;
    private static final int CACHE_HEADER = 2;

    private final ModelConfig config;
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment model;
    /** Adapters described so far: each description lives as long as its adapter's weights. */
    private final Map<AdapterWeights, Described> adapters = new WeakHashMap<>();

    LlamaTeam(DecoderWeights w) {
        this.config = w.config();
        int layers = w.layers().length;
        model = arena.allocate(ValueLayout.JAVA_LONG, MODEL_HEADER + (long) layers * LAYER_WORDS);
        long[] header = {config.hiddenSize(), config.numHeads(), config.numKvHeads(), config.headDim(),
                config.intermediateSize(), layers, config.vocabSize(), w.bfloat16() ? 1 : 0,
                Double.doubleToRawLongBits(config.rmsNormEps()), w.lmHead(), floats(w.finalNorm()),
                ComputeThreads.count()};
        MemorySegment.copy(header, 0, model, ValueLayout.JAVA_LONG, 0, MODEL_HEADER);
        for (int l = 0; l < layers; l++) {
            DecoderWeights.Layer d = w.layers()[l];
            long[] words = {d.qkv(), d.o(), d.gateUp(), d.down(), floats(d.inputNorm()), floats(d.postAttentionNorm()),
                    floats(d.qkvBias()), floats(d.oBias()), floats(d.gateUpBias()), floats(d.downBias())};
            MemorySegment.copy(words, 0, model, ValueLayout.JAVA_LONG, (MODEL_HEADER + (long) l * LAYER_WORDS) * 8,
                    LAYER_WORDS);
        }
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
        MemorySegment words = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, (long) layers * ADAPTER_LAYER_WORDS);
        long next = 0;
        for (int l = 0; l < layers; l++) {
            long at = (long) l * ADAPTER_LAYER_WORDS;
            for (int g = 0; g < Projection.GROUPS.size(); g++) {
                List<Projection> group = Projection.GROUPS.get(g);
                float[] stacked = adapter.stackedDown(l, group);
                words.setAtIndex(ValueLayout.JAVA_LONG, at + 2L * g, stacked == null ? 0 : memory.address() + next * 4);
                words.setAtIndex(ValueLayout.JAVA_LONG, at + 2L * g + 1, stacked == null ? 0 : stacked.length / inputs[g]);
                next = put(stacked, memory, next);
                for (Projection p : group) {
                    AdapterWeights.LowRank lowRank = adapter.lowRank(l, p);
                    long word = at + 2L * Projection.GROUPS.size() + 2L * p.ordinal();
                    words.setAtIndex(ValueLayout.JAVA_LONG, word, lowRank == null ? 0 : memory.address() + next * 4);
                    words.setAtIndex(ValueLayout.JAVA_LONG, word + 1, lowRank == null ? 0 : lowRank.rank());
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
            cos = lineAligned(own, config.headDim() / 2);
            sin = lineAligned(own, config.headDim() / 2);
            logits = lineAligned(own, config.vocabSize());
        }

        /** On whole cache lines: the cores write the logits in shares that meet at a line boundary (team_decoder.c). */
        private static MemorySegment lineAligned(Arena arena, int n) {
            return arena.allocate((long) n * Float.BYTES, 64);
        }

        MemorySegment cache(KvCache cache) {
            if (cache != described) {
                int layers = config.numLayers();
                MemorySegment words = Arena.ofAuto().allocate(ValueLayout.JAVA_LONG, CACHE_HEADER + 2L * layers);
                words.setAtIndex(ValueLayout.JAVA_LONG, 0, cache.capacity());
                words.setAtIndex(ValueLayout.JAVA_LONG, 1, cache.bfloat16() ? 1 : 0);
                for (int l = 0; l < layers; l++) {
                    words.setAtIndex(ValueLayout.JAVA_LONG, CACHE_HEADER + 2L * l, cache.keyAddress(l));
                    words.setAtIndex(ValueLayout.JAVA_LONG, CACHE_HEADER + 2L * l + 1, cache.valueAddress(l));
                }
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
