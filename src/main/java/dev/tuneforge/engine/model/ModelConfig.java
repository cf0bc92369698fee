package dev.tuneforge.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.model.Architecture.Activation;
import dev.tuneforge.engine.model.Architecture.LayerAttention;
import dev.tuneforge.engine.model.Architecture.Norm;
import dev.tuneforge.engine.model.Architecture.Rope;
import dev.tuneforge.engine.model.Architecture.RopeScaling;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The model definition read from a Hugging Face {@code config.json}: sizes, and the {@link Architecture} that every
 * compute path reads. One case per {@code model_type} below.
 *
 * @param ropeTheta               RoPE base of the full-attention layers
 * @param ropeScaling             their frequency scaling, or null
 * @param languageModelOfMultimodal the text model of a multimodal checkpoint (Gemma3ForConditionalGeneration):
 *                                its tensors are named {@code language_model.model.*} or {@code model.language_model.*}
 */
public record ModelConfig(
        String modelType,
        int hiddenSize,
        int intermediateSize,
        int numLayers,
        int numHeads,
        int numKvHeads,
        int headDim,
        int vocabSize,
        int maxPositionEmbeddings,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        Integer bosTokenId,
        List<Integer> eosTokenIds,
        boolean languageModelOfMultimodal,
        Architecture architecture) {

    private static final Set<String> SUPPORTED_TYPES = Set.of("llama", "mistral", "qwen2", "qwen3", "gemma3_text",
            "gemma3");

    public static ModelConfig read(Path configJson) {
        try {
            return parse(new ObjectMapper().readTree(configJson.toFile()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + configJson, e);
        }
    }

    public static ModelConfig parse(JsonNode c) {
        String type = text(c, "model_type", "llama");
        if (!SUPPORTED_TYPES.contains(type)) {
            throw new IllegalArgumentException("unsupported model_type '" + type + "' (supported: " + SUPPORTED_TYPES + ")");
        }
        boolean multimodal = type.equals("gemma3");
        if (multimodal) {
            // Gemma3ForConditionalGeneration: the language model's settings are text_config; ids may be outside it
            if (!c.path("text_config").isObject()) {
                throw new IllegalArgumentException("config.json of model_type gemma3 lacks text_config");
            }
            ObjectNode text = ((ObjectNode) c.get("text_config")).deepCopy();
            for (String key : new String[]{"eos_token_id", "bos_token_id", "tie_word_embeddings"}) {
                if (!text.has(key) && c.has(key)) {
                    text.set(key, c.get(key));
                }
            }
            text.put("model_type", "gemma3_text");
            c = text;
            type = "gemma3_text";
        }
        boolean gemma = type.equals("gemma3_text");
        String act = gemma ? text(c, "hidden_activation", text(c, "hidden_act", "gelu_pytorch_tanh"))
                : text(c, "hidden_act", "silu");
        Activation activation = switch (act) {
            case "silu" -> Activation.SILU;
            case "gelu_pytorch_tanh" -> Activation.GELU_TANH;
            default -> throw new IllegalArgumentException("unsupported hidden_act '" + act
                    + "' (supported: silu, gelu_pytorch_tanh)");
        };
        int hidden = required(c, "hidden_size");
        int heads = required(c, "num_attention_heads");
        int layers = required(c, "num_hidden_layers");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? c.get("num_key_value_heads").asInt() : heads;
        int defaultHeadDim = gemma ? 256 : type.equals("qwen3") ? 128 : hidden / heads;
        int headDim = c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : defaultHeadDim;
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim " + headDim + " is odd: RoPE rotates pairs");
        }
        if (c.hasNonNull("attn_logit_softcapping")) {
            throw new IllegalArgumentException("attn_logit_softcapping is not supported (Gemma 2's; Gemma 3 has none)");
        }
        double ropeTheta = c.path("rope_theta").asDouble(gemma ? 1_000_000.0 : 10000.0);
        RopeScaling scaling = ropeScaling(c.get("rope_scaling"));
        Rope fullRope = new Rope(ropeTheta, scaling);
        List<LayerAttention> layerAttention = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            layerAttention.add(new LayerAttention(0, fullRope));
        }
        double attentionScale = 1.0 / Math.sqrt(headDim);
        boolean qkvBias;
        boolean outputBias;
        switch (type) {
            case "gemma3_text" -> {
                int window = c.path("sliding_window").asInt(4096);
                List<String> kinds = layerTypes(c, layers);
                Rope local = new Rope(c.path("rope_local_base_freq").asDouble(10000.0), null);
                for (int l = 0; l < layers; l++) {
                    if (kinds.get(l).equals("sliding_attention")) {
                        layerAttention.set(l, new LayerAttention(window, local));
                    }
                }
                attentionScale = Math.pow(c.path("query_pre_attn_scalar").asDouble(256), -0.5);
                qkvBias = c.path("attention_bias").asBoolean(false);
                outputBias = qkvBias;
            }
            case "qwen2", "qwen3" -> {
                // transformers: sliding_window only with use_sliding_window, on the layers from max_window_layers on
                if (c.path("use_sliding_window").asBoolean(false) && c.hasNonNull("sliding_window")) {
                    int window = c.get("sliding_window").asInt();
                    int from = c.path("max_window_layers").asInt(layers);
                    for (int l = from; l < layers; l++) {
                        layerAttention.set(l, new LayerAttention(window, fullRope));
                    }
                }
                // Qwen2 always has q/k/v biases (never on o); Qwen3 has them only with attention_bias
                qkvBias = type.equals("qwen2") || c.path("attention_bias").asBoolean(false);
                outputBias = type.equals("qwen3") && c.path("attention_bias").asBoolean(false);
            }
            case "mistral" -> {
                if (c.hasNonNull("sliding_window")) {
                    int window = c.get("sliding_window").asInt();
                    layerAttention.replaceAll(a -> new LayerAttention(window, fullRope));
                }
                qkvBias = false;
                outputBias = false;
            }
            default -> {
                qkvBias = c.path("attention_bias").asBoolean(false);
                outputBias = qkvBias;
            }
        }
        double softcap = c.path("final_logit_softcapping").asDouble(0);
        Architecture arch = new Architecture(gemma ? Norm.ONE_PLUS_WEIGHT : Norm.WEIGHT, gemma,
                gemma || type.equals("qwen3"), gemma, attentionScale, activation, softcap, qkvBias, outputBias,
                c.path("mlp_bias").asBoolean(false), layerAttention);
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.get("eos_token_id");
        if (e != null && e.isArray()) {
            e.forEach(n -> eos.add(n.asInt()));
        } else if (e != null && !e.isNull()) {
            eos.add(e.asInt());
        }
        return new ModelConfig(type, hidden, required(c, "intermediate_size"), layers,
                heads, kvHeads, headDim, required(c, "vocab_size"),
                c.path("max_position_embeddings").asInt(gemma ? 131072 : 4096),
                c.path("rms_norm_eps").asDouble(1e-6),
                ropeTheta,
                scaling,
                // Gemma3TextConfig defaults to tied embeddings, the others to untied
                c.path("tie_word_embeddings").asBoolean(gemma),
                c.hasNonNull("bos_token_id") ? c.get("bos_token_id").asInt() : null,
                List.copyOf(eos),
                multimodal,
                arch);
    }

    private static RopeScaling ropeScaling(JsonNode rs) {
        if (rs == null || rs.isNull()) {
            return null;
        }
        String ropeType = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : text(rs, "type", "default");
        return switch (ropeType) {
            case "llama3" -> new RopeScaling("llama3", rs.get("factor").asDouble(), rs.get("low_freq_factor").asDouble(),
                    rs.get("high_freq_factor").asDouble(), rs.get("original_max_position_embeddings").asInt());
            case "linear" -> RopeScaling.linear(rs.get("factor").asDouble());
            case "default" -> null;
            default -> throw new IllegalArgumentException("unsupported rope_scaling type '" + ropeType
                    + "' (supported: linear, llama3)");
        };
    }

    /** Gemma 3's per-layer attention kinds: {@code layer_types}, or the older {@code sliding_window_pattern}. */
    private static List<String> layerTypes(JsonNode c, int layers) {
        JsonNode types = c.get("layer_types");
        if (types != null && types.isArray()) {
            if (types.size() != layers) {
                throw new IllegalArgumentException("layer_types has " + types.size() + " entries for " + layers + " layers");
            }
            List<String> out = new ArrayList<>();
            for (JsonNode t : types) {
                String kind = t.asText();
                if (!kind.equals("sliding_attention") && !kind.equals("full_attention")) {
                    throw new IllegalArgumentException("layer_types: unknown kind '" + kind
                            + "' (known: sliding_attention, full_attention)");
                }
                out.add(kind);
            }
            return out;
        }
        int pattern = c.hasNonNull("sliding_window_pattern") ? c.get("sliding_window_pattern").asInt()
                : c.path("_sliding_window_pattern").asInt(6);
        List<String> out = new ArrayList<>();
        for (int l = 0; l < layers; l++) {
            out.add((l + 1) % pattern == 0 ? "full_attention" : "sliding_attention");
        }
        return out;
    }

    /** Whether q, k and v have biases. */
    public boolean attentionBias() {
        return architecture.qkvBias();
    }

    public boolean mlpBias() {
        return architecture.mlpBias();
    }

    /** Whether o_proj has a bias: Llama's attention_bias covers it, Qwen2's q/k/v bias does not. */
    public boolean outputProjectionBias() {
        return architecture.outputBias();
    }

    /** Parameters of the base model (weights only), for FLOP and bandwidth accounting. */
    public long parameterCount() {
        long attn = (long) hiddenSize * numHeads * headDim * 2 + (long) hiddenSize * numKvHeads * headDim * 2;
        long mlp = 3L * hiddenSize * intermediateSize;
        long perLayer = attn + mlp + normsPerLayer() * hiddenSize + (architecture.qkNorm() ? 2L * headDim : 0);
        long embed = (long) vocabSize * hiddenSize;
        return embed * (tieWordEmbeddings ? 1 : 2) + numLayers * perLayer + hiddenSize;
    }

    /** Parameters touched per token: everything except the embedding lookup table (the head is a matmul). */
    public long matmulParameterCount() {
        return parameterCount() - (tieWordEmbeddings ? 0 : (long) vocabSize * hiddenSize)
                - numLayers * (normsPerLayer() * hiddenSize + (architecture.qkNorm() ? 2L * headDim : 0)) - hiddenSize;
    }

    private long normsPerLayer() {
        return architecture.sandwichNorms() ? 4 : 2;
    }

    private static int required(JsonNode c, String field) {
        if (!c.hasNonNull(field)) {
            throw new IllegalArgumentException("config.json lacks " + field);
        }
        return c.get(field).asInt();
    }

    private static String text(JsonNode c, String field, String fallback) {
        return c.hasNonNull(field) ? c.get(field).asText() : fallback;
    }
}
