package dev.tuneforge.engine.model;

import java.util.Arrays;
import java.util.List;

/** The linear projections of a Llama decoder layer, named as in Hugging Face checkpoints and PEFT. */
public enum Projection {
    Q("self_attn", "q_proj"),
    K("self_attn", "k_proj"),
    V("self_attn", "v_proj"),
    O("self_attn", "o_proj"),
    GATE("mlp", "gate_proj"),
    UP("mlp", "up_proj"),
    DOWN("mlp", "down_proj");

    /** The projections that read the same input, in the order the model concatenates their weights. */
    public static final List<Projection> ATTENTION_INPUTS = List.of(Q, K, V);
    public static final List<Projection> ATTENTION_OUTPUT = List.of(O);
    public static final List<Projection> MLP_INPUTS = List.of(GATE, UP);
    public static final List<Projection> MLP_OUTPUT = List.of(DOWN);
    /** Every group, in the order a layer runs them. */
    public static final List<List<Projection>> GROUPS = List.of(ATTENTION_INPUTS, ATTENTION_OUTPUT, MLP_INPUTS,
            MLP_OUTPUT);

    private final String block;
    private final String moduleName;

    Projection(String block, String moduleName) {
        this.block = block;
        this.moduleName = moduleName;
    }

    /** PEFT's target module name, e.g. {@code q_proj}. */
    public String moduleName() {
        return moduleName;
    }

    /** The module path inside layer {@code layer}, e.g. {@code model.layers.3.self_attn.q_proj}. */
    public String path(int layer) {
        return "model.layers." + layer + "." + block + "." + moduleName;
    }

    /** Shape [out, in] of this projection's weight in a model of {@code c}. */
    public long[] weightShape(ModelConfig c) {
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        return switch (this) {
            case Q -> new long[]{q, c.hiddenSize()};
            case K, V -> new long[]{kv, c.hiddenSize()};
            case O -> new long[]{c.hiddenSize(), q};
            case GATE, UP -> new long[]{c.intermediateSize(), c.hiddenSize()};
            case DOWN -> new long[]{c.hiddenSize(), c.intermediateSize()};
        };
    }

    public static Projection fromModuleName(String name) {
        String n = name.endsWith("_proj") ? name : name + "_proj";
        return Arrays.stream(values()).filter(p -> p.moduleName.equals(n)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown target module '" + name
                        + "' (known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"));
    }
}
