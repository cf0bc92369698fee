package dev.tuneforge.engine.model;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The structs of {@code src/main/c/team_decoder.h} as FFM layouts, named as there: the one definition of the Java↔C
 * contract on this side. {@code TeamLayoutsTest} checks every member's offset and every struct's size against the
 * compiled C.
 */
final class TeamLayouts {
    /** tf_model_t.dtype values (TF_F32, TF_BF16, TF_Q8_0 in team_decoder.h) */
    static final int DTYPE_F32 = 0;
    static final int DTYPE_BF16 = 1;
    static final int DTYPE_Q8_0 = 2;

    static final StructLayout LAYER = MemoryLayout.structLayout(
            ADDRESS.withName("qkv"), ADDRESS.withName("o"), ADDRESS.withName("gate_up"), ADDRESS.withName("down"),
            ADDRESS.withName("input_norm"), ADDRESS.withName("mlp_norm"), ADDRESS.withName("attention_output_norm"),
            ADDRESS.withName("mlp_output_norm"), ADDRESS.withName("q_norm"), ADDRESS.withName("k_norm"),
            ADDRESS.withName("qkv_bias"), ADDRESS.withName("o_bias"), ADDRESS.withName("gate_up_bias"),
            ADDRESS.withName("down_bias"), JAVA_INT.withName("window"), JAVA_INT.withName("rope"))
            .withName("tf_layer_t");
    static final StructLayout MODEL = MemoryLayout.structLayout(
            JAVA_INT.withName("hidden"), JAVA_INT.withName("heads"), JAVA_INT.withName("kv_heads"),
            JAVA_INT.withName("head_dim"), JAVA_INT.withName("inter"), JAVA_INT.withName("layers"),
            JAVA_INT.withName("vocab"), JAVA_INT.withName("dtype"), JAVA_INT.withName("threads"),
            JAVA_INT.withName("activation"), JAVA_DOUBLE.withName("eps"), JAVA_FLOAT.withName("attention_scale"),
            JAVA_INT.withName("ropes"), ADDRESS.withName("lm_head"), ADDRESS.withName("final_norm"),
            ADDRESS.withName("layer")).withName("tf_model_t");
    private static final StructLayout LOW_RANK_GROUP = MemoryLayout.structLayout(ADDRESS.withName("stacked"),
            JAVA_LONG.withName("rows"));
    private static final StructLayout LOW_RANK_PROJECTION = MemoryLayout.structLayout(ADDRESS.withName("up"),
            JAVA_LONG.withName("rank"));
    static final StructLayout ADAPTER_LAYER = MemoryLayout.structLayout(
            MemoryLayout.sequenceLayout(Projection.GROUPS.size(), LOW_RANK_GROUP).withName("groups"),
            MemoryLayout.sequenceLayout(Projection.values().length, LOW_RANK_PROJECTION).withName("projections"),
            JAVA_LONG.withName("bf16")).withName("tf_adapter_layer_t");
    static final StructLayout CACHE_LAYER = MemoryLayout.structLayout(ADDRESS.withName("keys"),
            ADDRESS.withName("values")).withName("tf_cache_layer_t");
    static final StructLayout CACHE = MemoryLayout.structLayout(JAVA_LONG.withName("capacity"),
            JAVA_LONG.withName("bf16"), ADDRESS.withName("layer")).withName("tf_cache_t");

    static final StructLayout BATCH_ROW = MemoryLayout.structLayout(ADDRESS.withName("adapter"),
            ADDRESS.withName("pages"), ADDRESS.withName("cos"), ADDRESS.withName("sin"), ADDRESS.withName("hidden_in"),
            ADDRESS.withName("normed_out"), ADDRESS.withName("logits"), JAVA_LONG.withName("position"))
            .withName("tf_batch_row_t");

    /** Every struct of the contract. */
    static final List<StructLayout> ALL = List.of(LAYER, MODEL, ADAPTER_LAYER, CACHE_LAYER, CACHE, BATCH_ROW);

    private TeamLayouts() {
    }

    /** Writes {@code value} (an int, long, float, double or an address as a long) into member {@code name}. */
    static void set(MemorySegment struct, StructLayout layout, long index, String name, Object value) {
        MemoryLayout member = layout.select(MemoryLayout.PathElement.groupElement(name));
        long offset = index * layout.byteSize() + layout.byteOffset(MemoryLayout.PathElement.groupElement(name));
        switch (member) {
            case ValueLayout.OfInt i -> struct.set(i, offset, ((Number) value).intValue());
            case ValueLayout.OfLong l -> struct.set(l, offset, ((Number) value).longValue());
            case ValueLayout.OfFloat f -> struct.set(f, offset, ((Number) value).floatValue());
            case ValueLayout.OfDouble d -> struct.set(d, offset, ((Number) value).doubleValue());
            case java.lang.foreign.AddressLayout a -> struct.set(a, offset, value instanceof MemorySegment m ? m
                    : MemorySegment.ofAddress(((Number) value).longValue()));
            default -> throw new IllegalArgumentException("member " + name + " of " + layout.name() + " is not a value");
        }
    }

    /** The offset of {@code tf_adapter_layer_t}'s field {@code name} (one outside its sequences). */
    static long adapterOffset(String name) {
        return ADAPTER_LAYER.byteOffset(MemoryLayout.PathElement.groupElement(name));
    }

    /** Offset of {@code groups[g].name} or {@code projections[p].name} in an adapter layer. */
    static long adapterOffset(String sequence, int index, String name) {
        return ADAPTER_LAYER.byteOffset(MemoryLayout.PathElement.groupElement(sequence),
                MemoryLayout.PathElement.sequenceElement(index), MemoryLayout.PathElement.groupElement(name));
    }

}
