package dev.tuneforge.engine.model;

import java.util.List;

/**
 * What sets one decoder architecture apart from another, declared once per model and read by every compute path
 * (the libtorch forward pass, the Java single-token decoder and the native team decoder). {@link ModelConfig#parse}
 * builds it from a Hugging Face {@code config.json}; adding an architecture means adding a case there, and a new
 * field here only where it differs from every declared convention.
 *
 * @param norm              how a norm's weight scales the normalised vector
 * @param sandwichNorms     Gemma's four norms per layer: the attention's and the MLP's outputs are normalised again
 *                          before the residual addition ({@code post_attention_layernorm},
 *                          {@code post_feedforward_layernorm}); the MLP's input norm is
 *                          {@code pre_feedforward_layernorm}. Without: Llama's two, the MLP's input norm being
 *                          {@code post_attention_layernorm}.
 * @param qkNorm            RMSNorm over each head's query and key ({@code q_norm}, {@code k_norm}) before RoPE
 * @param embeddingScaled   embeddings multiplied by √hidden, rounded to the weights' dtype (Gemma)
 * @param attentionScale    the factor of q·k (head_dim^-0.5, or Gemma's query_pre_attn_scalar^-0.5)
 * @param activation        of the gated MLP: down(act(gate(x)) · up(x))
 * @param finalLogitSoftcap logits become cap · tanh(logits / cap); 0 for none
 * @param qkvBias           q, k and v projections have biases
 * @param outputBias        o_proj has a bias
 * @param mlpBias           gate, up and down have biases
 * @param layers            per layer: its attention window and RoPE
 */
public record Architecture(Norm norm, boolean sandwichNorms, boolean qkNorm, boolean embeddingScaled,
                           double attentionScale, Activation activation, double finalLogitSoftcap, boolean qkvBias,
                           boolean outputBias, boolean mlpBias, List<LayerAttention> layers) {

    public Architecture {
        layers = List.copyOf(layers);
    }

    public enum Norm {
        /** {@code w · x / rms(x)} (Llama, Qwen, Mistral). */
        WEIGHT,
        /** {@code (1 + w) · x / rms(x)}, computed in float32 (Gemma): the weights are stored as 1 + w. */
        ONE_PLUS_WEIGHT
    }

    public enum Activation {
        /** silu(x) = x · sigmoid(x) */
        SILU,
        /** GELU with the tanh approximation ({@code gelu_pytorch_tanh}) */
        GELU_TANH
    }

    /** Rotary embedding of a layer: base and optional frequency scaling. */
    public record Rope(double theta, RopeScaling scaling) {
    }

    /**
     * {@code rope_scaling}: {@code linear} divides every inverse frequency by the factor; {@code llama3} divides the
     * low frequencies and smooths the middle ones.
     */
    public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {
        public static RopeScaling linear(double factor) {
            return new RopeScaling("linear", factor, 0, 0, 0);
        }
    }

    /**
     * One layer's attention: {@code window} 0 attends to every earlier position; otherwise query i sees keys
     * i - window + 1 .. i (transformers' sliding window).
     */
    public record LayerAttention(int window, Rope rope) {
        public boolean sliding() {
            return window > 0;
        }
    }

    public LayerAttention layer(int l) {
        return layers.get(l);
    }

    /** Whether any layer attends through a window. */
    public boolean slidingWindow() {
        return layers.stream().anyMatch(LayerAttention::sliding);
    }

    /** The distinct RoPE settings, in the order layers first use them. */
    public List<Rope> ropes() {
        return layers.stream().map(LayerAttention::rope).distinct().toList();
    }
}
