package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.model.Projection;
import dev.tuneforge.engine.tensor.Safetensors;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes tiny random Llama-family checkpoints (config.json + safetensors + the stories tokenizer) for tests. */
public final class TinyModels {
    public static final int VOCAB = 512;
    public static final int HIDDEN = 32;
    public static final int INTERMEDIATE = 48;
    public static final int LAYERS = 2;
    public static final int HEADS = 4;
    public static final int HEAD_DIM = 8;

    private TinyModels() {
    }

    /** Options of the architecture written. */
    public record Spec(String modelType, boolean tied, int kvHeads, boolean llama3Rope, ScalarType dtype, int shards) {
        public static Spec llama() {
            return new Spec("llama", true, 2, false, ScalarType.Float, 1);
        }
    }

    /** Sizes of the architecture written: head_dim = hidden / heads. */
    public record Shape(int hidden, int intermediate, int heads) {
        public static final Shape TINY = new Shape(HIDDEN, INTERMEDIATE, HEADS);
    }

    public static Path write(Path dir, Spec spec, long seed) throws IOException {
        return write(dir, spec, seed, Shape.TINY);
    }

    public static Path write(Path dir, Spec spec, long seed, Shape sizes) throws IOException {
        Files.createDirectories(dir);
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = json.createObjectNode();
        c.put("model_type", spec.modelType());
        c.put("hidden_size", sizes.hidden());
        c.put("intermediate_size", sizes.intermediate());
        c.put("num_hidden_layers", LAYERS);
        c.put("num_attention_heads", sizes.heads());
        c.put("num_key_value_heads", spec.kvHeads());
        c.put("vocab_size", VOCAB);
        c.put("max_position_embeddings", 128);
        c.put("rms_norm_eps", 1e-5);
        c.put("rope_theta", 10000.0);
        c.put("tie_word_embeddings", spec.tied());
        c.put("hidden_act", "silu");
        c.put("bos_token_id", 1);
        c.put("eos_token_id", 2);
        if (spec.llama3Rope()) {
            ObjectNode rs = c.putObject("rope_scaling");
            rs.put("rope_type", "llama3");
            rs.put("factor", 8.0);
            rs.put("low_freq_factor", 1.0);
            rs.put("high_freq_factor", 4.0);
            rs.put("original_max_position_embeddings", 32);
        }
        json.writeValue(dir.resolve("config.json").toFile(), c);
        for (String f : new String[]{"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
            Files.copy(Stories.DIR.resolve(f), dir.resolve(f), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        var gen = torch.createCPUGenerator(seed);
        Map<String, Tensor> w = new LinkedHashMap<>();
        java.util.function.BiConsumer<String, long[]> normal = (name, shape) -> w.put(name, torch.randn(shape,
                new GeneratorOptional(gen), new TensorOptions(ScalarType.Float)).mul_(new Scalar(0.2)).to(spec.dtype()));
        normal.accept("model.embed_tokens.weight", new long[]{VOCAB, sizes.hidden()});
        if (!spec.tied()) {
            normal.accept("lm_head.weight", new long[]{VOCAB, sizes.hidden()});
        }
        normal.accept("model.norm.weight", new long[]{sizes.hidden()});
        for (int l = 0; l < LAYERS; l++) {
            normal.accept("model.layers." + l + ".input_layernorm.weight", new long[]{sizes.hidden()});
            normal.accept("model.layers." + l + ".post_attention_layernorm.weight", new long[]{sizes.hidden()});
            for (Projection p : Projection.values()) {
                long[] shape = p.weightShape(dev.tuneforge.engine.model.ModelConfig.parse(c));
                normal.accept(p.path(l) + ".weight", shape);
                if (spec.modelType().equals("qwen2") && (p == Projection.Q || p == Projection.K || p == Projection.V)) {
                    normal.accept(p.path(l) + ".bias", new long[]{shape[0]});
                }
            }
        }
        if (spec.shards() <= 1) {
            Safetensors.write(dir.resolve("model.safetensors"), w, Map.of("format", "pt"));
        } else {
            ObjectNode index = json.createObjectNode();
            ObjectNode map = index.putObject("weight_map");
            int i = 0;
            @SuppressWarnings("unchecked")
            Map<String, Tensor>[] parts = new Map[spec.shards()];
            for (var e : w.entrySet()) {
                int shard = i++ % spec.shards();
                if (parts[shard] == null) {
                    parts[shard] = new LinkedHashMap<>();
                }
                parts[shard].put(e.getKey(), e.getValue());
                map.put(e.getKey(), String.format("model-%05d-of-%05d.safetensors", shard + 1, spec.shards()));
            }
            for (int s = 0; s < spec.shards(); s++) {
                Safetensors.write(dir.resolve(String.format("model-%05d-of-%05d.safetensors", s + 1, spec.shards())),
                        parts[s], Map.of());
            }
            json.writeValue(dir.resolve("model.safetensors.index.json").toFile(), index);
        }
        return dir;
    }
}
