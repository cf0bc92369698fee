package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.GgmlType;
import dev.tuneforge.engine.tensor.GgufFile;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A llama.cpp GGUF file's tensors under a Hugging Face checkpoint's names, for a base held as Q8_0 blocks: what
 * {@link CheckpointTensors} is for safetensors. The file is checked against {@code config.json} first (architecture,
 * sizes, every tensor's presence, shape and type), so a wrong file fails before anything is loaded, with the file and
 * the tensor named. Then, as llama.cpp's {@code convert_hf_to_gguf.py} wrote them, undone:
 * <ul>
 * <li>names: {@code token_embd.weight} is {@code model.embed_tokens.weight}, {@code blk.N.attn_q.weight}
 * {@code model.layers.N.self_attn.q_proj.weight}, and so on ({@link #ggufNames});</li>
 * <li>the {@code llama} architecture's q/k rows (and biases): the converter permutes each head's rows from Hugging
 * Face's rotary halves to llama.cpp's interleaved pairs; a row permutation, so Q8_0 rows are put back byte for byte;</li>
 * <li>Gemma 3's norms: stored as 1 + w (llama.cpp multiplies by the stored weight); w = stored − 1 here, exactly.</li>
 * </ul>
 * Q8_0 matrices are handed over as their blocks (uint8 [rows, cols / 32 × 34], bytes as llama.cpp wrote them);
 * F32/F16/BF16 matrices (llama-quantize keeps a matrix whose rows are not a multiple of 32 in F16) as floats, which
 * the model quantizes at load as from safetensors. Norms and biases are read at once in the compute dtype; each matrix
 * when asked for, so that loading holds one layer's matrices at a time.
 */
final class GgufCheckpoint extends AbstractMap<String, Tensor> {
    private static final Set<GgmlType> MATRIX_TYPES = Set.of(GgmlType.Q8_0, GgmlType.F32, GgmlType.F16, GgmlType.BF16);
    private static final Set<GgmlType> VECTOR_TYPES = Set.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16);
    /** Tensors llama.cpp writes that the model computes from config.json instead (Llama 3's RoPE frequencies). */
    private static final Set<String> IGNORED = Set.of("rope_freqs.weight");

    private final GgufFile gguf;
    private final ModelConfig config;
    private final String arch;
    /** Hugging Face name → GGUF name, for the matrices read when asked for. */
    private final Map<String, String> matrices = new HashMap<>();
    private final Map<String, Tensor> small = new HashMap<>();

    GgufCheckpoint(ModelConfig config, Path file, ScalarType compute) {
        this.gguf = GgufFile.open(file);
        this.config = config;
        this.arch = ggufArchitecture(config);
        checkArchitecture();
        Map<String, String> names = ggufNames(config);
        Map<String, long[]> shapes = shapes(config);
        checkTensors(names, shapes);
        for (var e : names.entrySet()) {
            String hf = e.getKey();
            if (shapes.get(hf).length == 2) {
                matrices.put(hf, e.getValue());
            } else {
                small.put(hf, vector(hf, e.getValue(), compute));
            }
        }
    }

    /** The {@code general.architecture} llama.cpp's converter writes for a model of {@code config}. */
    static String ggufArchitecture(ModelConfig config) {
        return switch (config.modelType()) {
            case "llama", "mistral" -> "llama";
            case "gemma3_text", "gemma3" -> "gemma3";
            default -> config.modelType();
        };
    }

    /** Every tensor a model of {@code config} has: Hugging Face name → the GGUF name llama.cpp gives it. */
    static Map<String, String> ggufNames(ModelConfig config) {
        Architecture a = config.architecture();
        Map<String, String> out = new LinkedHashMap<>();
        out.put("model.embed_tokens.weight", "token_embd.weight");
        if (!config.tieWordEmbeddings()) {
            out.put("lm_head.weight", "output.weight");
        }
        out.put("model.norm.weight", "output_norm.weight");
        Map<Projection, String> projections = Map.of(Projection.Q, "attn_q", Projection.K, "attn_k", Projection.V,
                "attn_v", Projection.O, "attn_output", Projection.GATE, "ffn_gate", Projection.UP, "ffn_up",
                Projection.DOWN, "ffn_down");
        for (int l = 0; l < config.numLayers(); l++) {
            String hf = "model.layers." + l + ".";
            String blk = "blk." + l + ".";
            for (Projection p : Projection.values()) {
                out.put(p.path(l) + ".weight", blk + projections.get(p) + ".weight");
                if (hasBias(config, p)) {
                    out.put(p.path(l) + ".bias", blk + projections.get(p) + ".bias");
                }
            }
            out.put(hf + "input_layernorm.weight", blk + "attn_norm.weight");
            if (a.sandwichNorms()) {
                out.put(hf + "post_attention_layernorm.weight", blk + "post_attention_norm.weight");
                out.put(hf + "pre_feedforward_layernorm.weight", blk + "ffn_norm.weight");
                out.put(hf + "post_feedforward_layernorm.weight", blk + "post_ffw_norm.weight");
            } else {
                out.put(hf + "post_attention_layernorm.weight", blk + "ffn_norm.weight");
            }
            if (a.qkNorm()) {
                out.put(hf + "self_attn.q_norm.weight", blk + "attn_q_norm.weight");
                out.put(hf + "self_attn.k_norm.weight", blk + "attn_k_norm.weight");
            }
        }
        return out;
    }

    private static boolean hasBias(ModelConfig config, Projection p) {
        return switch (p) {
            case Q, K, V -> config.attentionBias();
            case O -> config.outputProjectionBias();
            case GATE, UP, DOWN -> config.mlpBias();
        };
    }

    /** The PyTorch shape config.json implies for each of {@link #ggufNames}'s tensors. */
    private static Map<String, long[]> shapes(ModelConfig config) {
        Map<String, long[]> out = new HashMap<>();
        for (String hf : ggufNames(config).keySet()) {
            long[] shape;
            if (hf.equals("model.embed_tokens.weight") || hf.equals("lm_head.weight")) {
                shape = new long[]{config.vocabSize(), config.hiddenSize()};
            } else if (hf.endsWith("q_norm.weight") || hf.endsWith("k_norm.weight")) {
                shape = new long[]{config.headDim()};
            } else if (hf.endsWith("norm.weight")) {
                shape = new long[]{config.hiddenSize()};
            } else {
                String module = hf.substring(hf.lastIndexOf('.', hf.lastIndexOf('.') - 1) + 1, hf.lastIndexOf('.'));
                long[] w = Projection.fromModuleName(module).weightShape(config);
                shape = hf.endsWith(".bias") ? new long[]{w[0]} : w;
            }
            out.put(hf, shape);
        }
        return out;
    }

    private void checkArchitecture() {
        String declared = gguf.string("general.architecture");
        if (declared == null) {
            throw new IllegalArgumentException(gguf.path() + " has no general.architecture: not a llama.cpp model file");
        }
        if (!declared.equals(arch)) {
            throw new IllegalArgumentException(gguf.path() + " holds a \"" + declared + "\" model, but config.json's "
                    + "model_type \"" + config.modelType() + "\" is llama.cpp's \"" + arch + "\"");
        }
        checkSize("block_count", "num_hidden_layers", config.numLayers());
        checkSize("embedding_length", "hidden_size", config.hiddenSize());
        checkSize("feed_forward_length", "intermediate_size", config.intermediateSize());
        checkSize("attention.head_count", "num_attention_heads", config.numHeads());
        checkSize("attention.head_count_kv", "num_key_value_heads", config.numKvHeads());
        checkSize("attention.key_length", "head_dim", config.headDim());
    }

    /** {@code arch.key}, where the file has it, against config.json's {@code field}. */
    private void checkSize(String key, String field, long expected) {
        Long value = gguf.integer(arch + "." + key);
        if (value != null && value != expected) {
            throw new IllegalArgumentException(gguf.path() + ": " + arch + "." + key + " is " + value
                    + ", but config.json's " + field + " is " + expected);
        }
    }

    private void checkTensors(Map<String, String> names, Map<String, long[]> shapes) {
        Map<String, String> hfByGguf = new HashMap<>();
        names.forEach((hf, g) -> hfByGguf.put(g, hf));
        for (GgufFile.TensorInfo t : gguf.tensors().values()) {
            if (!hfByGguf.containsKey(t.name()) && !IGNORED.contains(t.name())) {
                throw new IllegalArgumentException(gguf.path() + " holds tensor " + t.name() + ", which a \"" + arch
                        + "\" model of config.json does not have" + (t.name().equals("output.weight")
                        ? " (config.json ties the head to the embedding)" : ""));
            }
        }
        for (var e : names.entrySet()) {
            String hf = e.getKey();
            GgufFile.TensorInfo t = gguf.tensors().get(e.getValue());
            if (t == null) {
                throw new IllegalArgumentException(gguf.path() + " lacks tensor " + e.getValue() + " (" + hf + ")");
            }
            long[] expected = shapes.get(hf);
            if (!Arrays.equals(t.shape(), expected)) {
                throw new IllegalArgumentException(gguf.path() + ": tensor " + t.name() + " has shape "
                        + Arrays.toString(t.shape()) + " (rows first), config.json implies " + Arrays.toString(expected));
            }
            Set<GgmlType> allowed = expected.length == 2 ? MATRIX_TYPES : VECTOR_TYPES;
            if (!allowed.contains(t.type())) {
                throw new IllegalArgumentException(gguf.path() + ": tensor " + t.name() + " is " + t.typeName()
                        + "; Tuneforge reads " + (expected.length == 2 ? "Q8_0, F32, F16 or BF16 matrices "
                        + "(llama-quantize IN.gguf OUT.gguf Q8_0 makes such a file)" : "F32, F16 or BF16 norms and biases"));
            }
        }
    }

    /** A norm or bias in the compute dtype, with the converter's changes undone. */
    private Tensor vector(String hf, String name, ScalarType compute) {
        Tensor t = gguf.read(name).to(ScalarType.Float);
        if (config.architecture().norm() == Architecture.Norm.ONE_PLUS_WEIGHT && hf.endsWith("norm.weight")) {
            t = t.sub(new org.bytedeco.pytorch.Scalar(1.0));
        }
        return unpermuted(hf, t).to(compute).contiguous();
    }

    /**
     * {@code t} with the {@code llama} converter's q/k permutation undone. It wrote, per head of d rows, Hugging Face's
     * row i·d/2 + j (half i, pair j) at row 2j + i.
     */
    private Tensor unpermuted(String hf, Tensor t) {
        boolean q = hf.contains(".q_proj."), k = hf.contains(".k_proj.");
        if (!arch.equals("llama") || !(q || k)) {
            return t;
        }
        int d = config.headDim();
        long rows = t.size(0);
        long[] from = new long[(int) rows];
        for (int r = 0; r < rows; r++) {
            int head = r / d, within = r % d;
            int half = within / (d / 2), pair = within % (d / 2);
            from[r] = (long) head * d + 2L * pair + half;
        }
        return t.index_select(0, Tensors.longs(from, from.length));
    }

    @Override
    public Tensor get(Object name) {
        Tensor t = small.get(name);
        if (t != null) {
            return t;
        }
        String at = matrices.get(name);
        if (at == null) {
            return null;
        }
        Tensor read = gguf.read(at);
        Tensor out = unpermuted((String) name, read);
        if (out != read) {
            read.close();
        }
        return out;
    }

    @Override
    public Tensor remove(Object name) {
        return small.remove(name);
    }

    @Override
    public Set<Entry<String, Tensor>> entrySet() {
        return small.entrySet();
    }
}
