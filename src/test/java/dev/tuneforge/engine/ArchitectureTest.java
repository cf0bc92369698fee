package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.model.Architecture;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the published configs of Gemma 3, Qwen3 and Mistral declare, and loading Gemma 3 out of a multimodal checkpoint. */
class ArchitectureTest {
    private static final Path CONFIGS = ModelReferenceTest.sharedModels().resolve("configs");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void gemma3With270mLayerTypesAndThe1bSlidingWindowPattern() {
        for (String name : List.of("gemma-3-270m-it.json", "gemma-3-1b-it.json")) {
            ModelConfig c = ModelConfig.read(CONFIGS.resolve(name));
            Architecture a = c.architecture();
            assertEquals("gemma3_text", c.modelType());
            assertTrue(c.tieWordEmbeddings(), "tie_word_embeddings absent: Gemma3TextConfig's default, true");
            assertEquals(256, c.headDim());
            assertEquals(Architecture.Norm.ONE_PLUS_WEIGHT, a.norm());
            assertTrue(a.sandwichNorms() && a.qkNorm() && a.embeddingScaled());
            assertEquals(Architecture.Activation.GELU_TANH, a.activation());
            assertEquals(1.0 / 16, a.attentionScale(), 1e-12);
            for (int l = 0; l < c.numLayers(); l++) {
                boolean full = (l + 1) % 6 == 0;
                assertEquals(full ? 0 : 512, a.layer(l).window(), name + " layer " + l);
                assertEquals(full ? 1_000_000.0 : 10_000.0, a.layer(l).rope().theta(), name + " layer " + l);
            }
        }
    }

    @Test
    void qwen3HasQkNormAndNoWindowUnlessUseSlidingWindow() throws Exception {
        ModelConfig c = ModelConfig.read(CONFIGS.resolve("qwen3-0.6b.json"));
        Architecture a = c.architecture();
        assertEquals(128, c.headDim());
        assertTrue(a.qkNorm());
        assertFalse(a.sandwichNorms() || a.embeddingScaled() || a.qkvBias() || a.slidingWindow());
        assertEquals(Architecture.Norm.WEIGHT, a.norm());
        assertEquals(1.0 / Math.sqrt(128), a.attentionScale(), 1e-12);

        ObjectNode windowed = (ObjectNode) JSON.readTree(CONFIGS.resolve("qwen3-0.6b.json").toFile());
        windowed.put("use_sliding_window", true).put("sliding_window", 4096).put("max_window_layers", 20);
        Architecture w = ModelConfig.parse(windowed).architecture();
        IntStream.range(0, 28).forEach(l -> assertEquals(l >= 20 ? 4096 : 0, w.layer(l).window(), "layer " + l));
    }

    @Test
    void mistralsSlidingWindowCoversEveryLayer() {
        ObjectNode c = JSON.createObjectNode().put("model_type", "mistral").put("hidden_size", 32)
                .put("intermediate_size", 64).put("num_hidden_layers", 3).put("num_attention_heads", 4)
                .put("num_key_value_heads", 2).put("vocab_size", 16).put("sliding_window", 4096);
        Architecture a = ModelConfig.parse(c).architecture();
        IntStream.range(0, 3).forEach(l -> assertEquals(4096, a.layer(l).window()));
        assertFalse(ModelConfig.parse(c.putNull("sliding_window")).architecture().slidingWindow());
    }

    @Test
    void unsupportedSettingsAreRefusedByName() {
        ObjectNode c = JSON.createObjectNode().put("model_type", "gemma3_text").put("hidden_size", 32)
                .put("intermediate_size", 64).put("num_hidden_layers", 2).put("num_attention_heads", 4)
                .put("vocab_size", 16);
        var softcap = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.parse(c.deepCopy().put("attn_logit_softcapping", 50.0)));
        assertTrue(softcap.getMessage().contains("attn_logit_softcapping"));
        var act = assertThrows(IllegalArgumentException.class,
                () -> ModelConfig.parse(c.deepCopy().put("hidden_activation", "relu")));
        assertTrue(act.getMessage().contains("relu"));
        var types = assertThrows(IllegalArgumentException.class, () -> ModelConfig.parse(c.deepCopy()
                .set("layer_types", JSON.createArrayNode().add("sliding_attention"))));
        assertTrue(types.getMessage().contains("layer_types"));
    }

    /**
     * Gemma3ForConditionalGeneration (4B and up): the text config under text_config, the language model's tensors
     * under language_model.* beside a vision tower that is not loaded. The same weights give the same logits.
     */
    @Test
    void theLanguageModelOfAMultimodalGemma3CheckpointLoads() throws Exception {
        Path text = ModelReferenceTest.sharedModels().resolve("tiny-gemma3/hf");
        HfModelDirectory dir = new HfModelDirectory(multimodalGemma3());
        assertTrue(dir.config().languageModelOfMultimodal());
        assertEquals(List.of(2), dir.config().eosTokenIds());
        long[] ids = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};
        assertArrayEquals(logits(LlamaModel.load(new HfModelDirectory(text), ScalarType.Float), ids),
                logits(LlamaModel.load(dir, ScalarType.Float), ids));
    }

    /**
     * A multimodal Gemma 3's adapter is saved with PEFT's names for that model (model.language_model.layers, as
     * transformers 4.52+ names it) and loads back with its values, as does one saved with the text model's names.
     */
    @Test
    void aMultimodalGemma3AdapterCarriesTheLanguageModelsPeftNames() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(multimodalGemma3()), ScalarType.Float);
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(512, 513), 7);
        Path saved = tmp.resolve("adapter");
        PeftAdapterFormat.save(adapter, saved, "gemma3-multimodal");
        var names = Safetensors.readHeader(saved.resolve(PeftAdapterFormat.WEIGHTS_FILE)).entries().keySet();
        assertTrue(names.contains("base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight"), names.toString());
        assertTrue(names.contains("base_model.model.model.language_model.embed_tokens.token_adapter.trainable_tokens_delta"),
                names.toString());
        LoraAdapter loaded = PeftAdapterFormat.load(saved, model);
        var a = adapter.namedParameters();
        var b = loaded.namedParameters();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertArrayEquals(Tensors.toFloats(a.get(k).detach()), Tensors.toFloats(b.get(k).detach()), k);
        }
    }

    /** tiny-gemma3 as Gemma3ForConditionalGeneration: text_config, language_model.* tensors, a vision tower. */
    private Path multimodalGemma3() throws Exception {
        Path text = ModelReferenceTest.sharedModels().resolve("tiny-gemma3/hf");
        Path multimodal = tmp.resolve("gemma3-multimodal");
        if (Files.isDirectory(multimodal)) {
            return multimodal;
        }
        Files.createDirectories(multimodal);
        ObjectNode config = JSON.createObjectNode();
        config.put("model_type", "gemma3").set("architectures", JSON.createArrayNode().add("Gemma3ForConditionalGeneration"));
        ObjectNode textConfig = (ObjectNode) JSON.readTree(text.resolve("config.json").toFile());
        textConfig.remove("eos_token_id");
        config.set("text_config", textConfig);
        config.set("vision_config", JSON.createObjectNode().put("model_type", "siglip_vision_model"));
        config.put("eos_token_id", 2);
        JSON.writeValue(multimodal.resolve("config.json").toFile(), config);
        for (String f : List.of("tokenizer.json", "tokenizer_config.json", "generation_config.json")) {
            Files.copy(text.resolve(f), multimodal.resolve(f));
        }
        Map<String, Tensor> renamed = new LinkedHashMap<>();
        Safetensors.read(text.resolve("model.safetensors")).forEach((name, t) -> renamed.put("language_model." + name, t));
        renamed.put("vision_tower.vision_model.embeddings.patch_embedding.weight", torch.ones(4, 3));
        renamed.put("multi_modal_projector.mm_input_projection_weight", torch.ones(2, 2));
        Safetensors.write(multimodal.resolve("model.safetensors"), renamed, Map.of("format", "pt"));
        return multimodal;
    }

    @Test
    void multimodalTensorNamesOfBothTransformersLayouts() {
        java.util.function.Function<String, String> name = LlamaModel::languageModelName;
        assertEquals("model.layers.0.mlp.up_proj.weight", name.apply("language_model.model.layers.0.mlp.up_proj.weight"));
        assertEquals("model.layers.0.mlp.up_proj.weight", name.apply("model.language_model.layers.0.mlp.up_proj.weight"));
        assertEquals("lm_head.weight", name.apply("lm_head.weight"));
        assertNull(name.apply("model.vision_tower.vision_model.post_layernorm.weight"));
    }

    private static float[] logits(LlamaModel model, long[] ids) {
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            return Tensors.toFloats(model.logits(model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null), null));
        }
    }
}
