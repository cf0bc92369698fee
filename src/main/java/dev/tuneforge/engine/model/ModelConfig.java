package dev.tuneforge.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The fields of a Hugging Face {@code config.json} that the Llama family's forward pass depends on. */
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
        boolean attentionBias,
        boolean mlpBias,
        Integer bosTokenId,
        List<Integer> eosTokenIds) {

    private static final Set<String> SUPPORTED_TYPES = Set.of("llama", "mistral", "qwen2");

    /** {@code rope_scaling} of type llama3; {@code null} when the config has none. */
    public record RopeScaling(double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {
    }

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
        String act = text(c, "hidden_act", "silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("unsupported hidden_act '" + act + "' (only silu)");
        }
        int hidden = required(c, "hidden_size");
        int heads = required(c, "num_attention_heads");
        int kvHeads = c.hasNonNull("num_key_value_heads") ? c.get("num_key_value_heads").asInt() : heads;
        int headDim = c.hasNonNull("head_dim") ? c.get("head_dim").asInt() : hidden / heads;
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kvHeads);
        }
        RopeScaling scaling = null;
        JsonNode rs = c.get("rope_scaling");
        if (rs != null && !rs.isNull()) {
            String ropeType = rs.hasNonNull("rope_type") ? rs.get("rope_type").asText() : text(rs, "type", "default");
            if (ropeType.equals("llama3")) {
                scaling = new RopeScaling(rs.get("factor").asDouble(), rs.get("low_freq_factor").asDouble(),
                        rs.get("high_freq_factor").asDouble(), rs.get("original_max_position_embeddings").asInt());
            } else if (!ropeType.equals("default")) {
                throw new IllegalArgumentException("unsupported rope_scaling type '" + ropeType + "' (supported: llama3)");
            }
        }
        boolean qwen2 = type.equals("qwen2");
        List<Integer> eos = new ArrayList<>();
        JsonNode e = c.get("eos_token_id");
        if (e != null && e.isArray()) {
            e.forEach(n -> eos.add(n.asInt()));
        } else if (e != null && !e.isNull()) {
            eos.add(e.asInt());
        }
        return new ModelConfig(type, hidden, required(c, "intermediate_size"), required(c, "num_hidden_layers"),
                heads, kvHeads, headDim, required(c, "vocab_size"),
                c.path("max_position_embeddings").asInt(4096),
                c.path("rms_norm_eps").asDouble(1e-6),
                c.path("rope_theta").asDouble(10000.0),
                scaling,
                c.path("tie_word_embeddings").asBoolean(false),
                // Qwen2 always has q/k/v biases; Llama declares them with attention_bias
                qwen2 || c.path("attention_bias").asBoolean(false),
                c.path("mlp_bias").asBoolean(false),
                c.hasNonNull("bos_token_id") ? c.get("bos_token_id").asInt() : null,
                List.copyOf(eos));
    }

    /** Whether o_proj has a bias: Llama's attention_bias covers it, Qwen2's q/k/v bias does not. */
    public boolean outputProjectionBias() {
        return attentionBias && !modelType.equals("qwen2");
    }

    /** Parameters of the base model (weights only), for FLOP and bandwidth accounting. */
    public long parameterCount() {
        long attn = (long) hiddenSize * numHeads * headDim * 2 + (long) hiddenSize * numKvHeads * headDim * 2;
        long mlp = 3L * hiddenSize * intermediateSize;
        long perLayer = attn + mlp + 2L * hiddenSize;
        long embed = (long) vocabSize * hiddenSize;
        return embed * (tieWordEmbeddings ? 1 : 2) + numLayers * perLayer + hiddenSize;
    }

    /** Parameters touched per token: everything except the embedding lookup table (the head is a matmul). */
    public long matmulParameterCount() {
        return parameterCount() - (tieWordEmbeddings ? 0 : (long) vocabSize * hiddenSize) - numLayers * 2L * hiddenSize - hiddenSize;
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
