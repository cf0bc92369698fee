package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.ComputeThreads;
import dev.tuneforge.engine.kernel.NativeTeam;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * {@link LlamaDecoder}'s model, adapters and caches described for {@link NativeTeam} as the structs of
 * {@code src/main/c/team_decoder.h} ({@link TeamLayouts}): the weights stay where they are, the norms and biases are
 * copied to native memory once; an adapter describes itself ({@link AdapterWeights#teamWords}).
 */
final class LlamaTeam {
    private final ModelConfig config;
    private final Arena arena = Arena.ofAuto();
    private final MemorySegment model;

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

    /** The description of {@code adapter} (NULL for none): its own, over its weights in place. */
    static MemorySegment adapter(AdapterWeights adapter) {
        return adapter == null ? MemorySegment.NULL : adapter.teamWords();
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
