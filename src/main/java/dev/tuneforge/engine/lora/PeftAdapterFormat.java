package dev.tuneforge.engine.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.model.Projection;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Saves and loads adapters in Hugging Face PEFT's format: {@code adapter_config.json} and
 * {@code adapter_model.safetensors} with PEFT's tensor names, including {@code trainable_token_indices} rows.
 */
public final class PeftAdapterFormat {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private PeftAdapterFormat() {
    }

    public static void save(LoraAdapter adapter, Path dir, String baseModelName) {
        LoraConfig c = adapter.config();
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("peft_type", "LORA");
        cfg.put("task_type", "CAUSAL_LM");
        cfg.put("base_model_name_or_path", baseModelName);
        cfg.put("r", c.rank());
        cfg.put("lora_alpha", c.alpha());
        cfg.put("lora_dropout", c.dropout());
        ArrayNode targets = cfg.putArray("target_modules");
        for (Projection p : Projection.values()) {
            if (c.targetModules().contains(p)) {
                targets.add(p.moduleName());
            }
        }
        cfg.put("bias", "none");
        cfg.put("fan_in_fan_out", false);
        cfg.put("inference_mode", true);
        cfg.put("use_rslora", false);
        cfg.put("use_dora", false);
        cfg.putNull("modules_to_save");
        long[] tokens = c.trainableTokenIndices();
        if (tokens.length == 0) {
            cfg.putNull("trainable_token_indices");
        } else if (adapter.modelConfig().tieWordEmbeddings()) {
            ArrayNode arr = cfg.putArray("trainable_token_indices");
            for (long t : tokens) {
                arr.add(t);
            }
        } else {
            ObjectNode byModule = cfg.putObject("trainable_token_indices");
            for (String module : List.of("embed_tokens", "lm_head")) {
                ArrayNode arr = byModule.putArray(module);
                for (long t : tokens) {
                    arr.add(t);
                }
            }
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        boolean multimodal = adapter.modelConfig().languageModelOfMultimodal();
        adapter.namedParameters().forEach((k, v) -> tensors.put(multimodal ? multimodalName(k) : k,
                v.detach().to(ScalarType.Float)));
        try {
            Files.createDirectories(dir);
            Safetensors.write(dir.resolve(WEIGHTS_FILE), tensors, Map.of("format", "pt"));
            Path tmp = Files.createTempFile(dir, CONFIG_FILE, ".tmp");
            JSON.writeValue(tmp.toFile(), cfg);
            Files.move(tmp, dir.resolve(CONFIG_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save adapter to " + dir, e);
        }
    }

    /**
     * PEFT's name of a parameter in a multimodal Gemma 3 ({@code Gemma3ForConditionalGeneration}, transformers 4.52+,
     * whose language model's layers are {@code model.language_model.*}) for the text model's name.
     */
    static String multimodalName(String name) {
        String text = LoraAdapter.PREFIX + "model.";
        return name.startsWith(text) ? LoraAdapter.PREFIX + "model.language_model." + name.substring(text.length()) : name;
    }

    /** A multimodal Gemma 3 adapter's tensors under the text model's names (either transformers layout). */
    private static Map<String, Tensor> textModelNames(Map<String, Tensor> tensors) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            String rest = name.startsWith(LoraAdapter.PREFIX) ? name.substring(LoraAdapter.PREFIX.length()) : null;
            String text = rest == null ? null : LlamaModel.languageModelName(rest);
            out.put(text == null ? name : LoraAdapter.PREFIX + text, t);
        });
        return out;
    }

    /** Loads a PEFT LoRA adapter for {@code model}; the tensors must match the model's shapes. */
    public static LoraAdapter load(Path dir, LlamaModel model) {
        JsonNode cfg;
        try {
            cfg = JSON.readTree(dir.resolve(CONFIG_FILE).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir.resolve(CONFIG_FILE), e);
        }
        if (!cfg.path("peft_type").asText().equals("LORA")) {
            throw new IllegalArgumentException(dir + ": peft_type " + cfg.path("peft_type") + " is not LORA");
        }
        if (cfg.path("use_dora").asBoolean(false)) {
            throw new IllegalArgumentException(dir + ": DoRA adapters are not supported");
        }
        ModelConfig mc = model.config();
        Map<String, Tensor> tensors = Safetensors.read(dir.resolve(WEIGHTS_FILE), t -> t.to(ScalarType.Float));
        if (mc.languageModelOfMultimodal()) {
            tensors = textModelNames(tensors);
        }
        int rank = cfg.path("r").asInt(8);
        double alpha = cfg.path("lora_alpha").asDouble(rank);
        boolean rslora = cfg.path("use_rslora").asBoolean(false);
        Set<Projection> targets = EnumSet.noneOf(Projection.class);
        Map<String, Tensor[]> pairs = new LinkedHashMap<>();
        Map<String, Double> scales = new LinkedHashMap<>();
        for (int l = 0; l < mc.numLayers(); l++) {
            for (Projection p : Projection.values()) {
                Tensor a = find(tensors, LoraAdapter.PREFIX + p.path(l) + ".lora_A");
                Tensor b = find(tensors, LoraAdapter.PREFIX + p.path(l) + ".lora_B");
                if (a == null && b == null) {
                    continue;
                }
                if (a == null || b == null) {
                    throw new IllegalArgumentException(dir + ": " + p.path(l) + " has only one of lora_A / lora_B");
                }
                long[] io = LoraAdapter.inOut(mc, p);
                long r = a.size(0);
                if (a.size(1) != io[0] || b.size(0) != io[1] || b.size(1) != r) {
                    throw new IllegalArgumentException(dir + ": " + p.path(l) + " LoRA shapes " + List.of(
                            java.util.Arrays.toString(Tensors.shape(a)), java.util.Arrays.toString(Tensors.shape(b)))
                            + " do not fit the base model");
                }
                targets.add(p);
                pairs.put(LoraAdapter.key(l, p), new Tensor[]{a, b});
                scales.put(LoraAdapter.key(l, p), rslora ? alpha / Math.sqrt(r) : alpha / r);
            }
        }
        if (pairs.isEmpty()) {
            throw new IllegalArgumentException(dir + ": no LoRA tensors for this model's layers");
        }
        TrainableTokens embed = tokens(tensors, LoraAdapter.EMBED_TOKENS_KEY, cfg, "embed_tokens", mc, dir);
        TrainableTokens head = mc.tieWordEmbeddings() ? null
                : tokens(tensors, LoraAdapter.LM_HEAD_TOKENS_KEY, cfg, "lm_head", mc, dir);
        long[] tokenIndices = embed != null ? embed.indices() : new long[0];
        LoraConfig config = new LoraConfig(rank, alpha, cfg.path("lora_dropout").asDouble(0), targets, tokenIndices);
        return new LoraAdapter(config, mc, model.dtype(), pairs, scales, embed, head);
    }

    /**
     * Loads a PEFT LoRA adapter for serving {@code model}: read, checked as {@link #load}, then copied into its one
     * native block, held as {@code dtype} says for the model's dtype; the tensors read from the file are freed before
     * this returns.
     */
    public static ServedAdapter loadForServing(Path dir, LlamaModel model, AdapterDtype dtype) {
        try (var scope = new org.bytedeco.javacpp.PointerScope()) {
            return ServedAdapter.of(load(dir, model), dtype.bf16On(model.dtype()));
        }
    }

    private static TrainableTokens tokens(Map<String, Tensor> tensors, String key, JsonNode cfg, String module,
                                          ModelConfig mc, Path dir) {
        Tensor values = find(tensors, key);
        if (values == null) {
            return null;
        }
        JsonNode spec = cfg.path("trainable_token_indices");
        JsonNode list = spec.isArray() ? (module.equals("embed_tokens") ? spec : null) : spec.get(module);
        if (list == null || !list.isArray()) {
            throw new IllegalArgumentException(dir + ": " + key + " present but trainable_token_indices has no "
                    + module + " entry");
        }
        List<Long> ids = new ArrayList<>();
        list.forEach(n -> ids.add(n.asLong()));
        if (values.size(0) != ids.size() || values.size(1) != mc.hiddenSize()) {
            throw new IllegalArgumentException(dir + ": " + key + " has shape "
                    + java.util.Arrays.toString(Tensors.shape(values)) + " for " + ids.size() + " tokens");
        }
        return new TrainableTokens(ids.stream().mapToLong(Long::longValue).toArray(), values, mc.vocabSize());
    }

    private static Tensor find(Map<String, Tensor> tensors, String stem) {
        for (String suffix : List.of(".weight", ".default.weight", "", ".default")) {
            Tensor t = tensors.get(stem + suffix);
            if (t != null) {
                return t;
            }
        }
        return null;
    }
}
