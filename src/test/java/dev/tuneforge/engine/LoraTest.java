package dev.tuneforge.engine;

import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.Projection;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraTest {
    @TempDir
    Path tmp;

    private static final long[] IDS = {1, 403, 407, 261, 2, 378};

    private LlamaModel tiny(boolean tied) throws Exception {
        var spec = new TinyModels.Spec("llama", tied, 2, false, ScalarType.Float, 1);
        return LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m" + tied), spec, 11)), ScalarType.Float);
    }

    private static float[] logits(LlamaModel model, LoraAdapter adapter) {
        try (NoGradGuard g = new NoGradGuard()) {
            return Tensors.toFloats(model.logits(model.forward(Tensors.longs(IDS, 1, IDS.length), 0, null, adapter), adapter));
        }
    }

    @Test
    void freshAdapterWithZeroBChangesNothing() throws Exception {
        LlamaModel model = tiny(true);
        // adding the zero update can change memory layouts (contiguous copies) and so kernels' summation order:
        // equal up to float32 rounding
        assertArrayEquals(logits(model, null), logits(model, LoraAdapter.initialize(model, LoraConfig.defaults(), 1)), 1e-6f);
        // token rows start as copies of the base rows: same logits up to matmul summation order
        assertArrayEquals(logits(model, null), logits(model, LoraAdapter.initialize(model, LoraConfig.defaults(2), 1)), 1e-6f);
    }

    @Test
    void nonZeroBChangesTheOutputAndTheBaseStaysUntouched() throws Exception {
        LlamaModel model = tiny(true);
        float[] before = Tensors.toFloats(model.embedTokens());
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(), 1);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.namedParameters().forEach((k, v) -> {
                if (k.endsWith("lora_B.weight")) {
                    v.fill_(new Scalar(0.05));
                }
            });
        }
        assertFalse(java.util.Arrays.equals(logits(model, null), logits(model, adapter)));
        assertArrayEquals(before, Tensors.toFloats(model.embedTokens()));
    }

    @Test
    void gradientsFlowOnlyIntoAdaptersAndTrainedTokenRows() throws Exception {
        LlamaModel model = tiny(false);
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(2), 1);
        Tensor hidden = model.forward(Tensors.longs(IDS, 1, IDS.length), 0, null, adapter);
        Tensor loss = torch.cross_entropy(model.logits(hidden.select(0, 0), adapter), Tensors.longs(new long[]{403, 407, 261, 2, 378, 2}));
        loss.backward();
        assertFalse(model.embedTokens().requires_grad());
        assertFalse(model.lmHead().requires_grad());
        assertFalse(model.embedTokens().grad().defined());
        Map<String, Tensor> params = adapter.namedParameters();
        for (var e : params.entrySet()) {
            Tensor grad = e.getValue().grad();
            assertTrue(grad.defined(), e.getKey());
            double norm = grad.norm().item_double();
            if (e.getKey().endsWith("lora_A.weight")) {
                // with B = 0 the gradient of A is exactly zero; B receives it first
                assertEquals(0.0, norm, e.getKey());
            } else {
                assertTrue(norm > 0, e.getKey() + " has no gradient");
            }
        }
        assertTrue(params.containsKey("base_model.model.model.embed_tokens.token_adapter.trainable_tokens_delta"));
        assertTrue(params.containsKey("base_model.model.lm_head.token_adapter.trainable_tokens_delta"));
    }

    @Test
    void trainedTokenRowsReplaceOnlyTheirTokens() throws Exception {
        LlamaModel model = tiny(true);
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(2), 1);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.embedTokens().values().add_(new Scalar(1.0));
        }
        float[] base = logits(model, null);
        float[] tuned = logits(model, adapter);
        int vocab = model.config().vocabSize();
        // positions before the first use of token 2 keep every logit except column 2 (the tied output row)
        for (int pos = 0; pos < 4; pos++) {
            for (int v = 0; v < vocab; v++) {
                if (v != 2) {
                    assertEquals(base[pos * vocab + v], tuned[pos * vocab + v], 1e-6, "pos " + pos + " token " + v);
                }
            }
            assertNotEquals(base[pos * vocab + 2], tuned[pos * vocab + 2]);
        }
        // after token 2 was read, its new input embedding changes what follows
        assertNotEquals(base[4 * vocab + 10], tuned[4 * vocab + 10]);
    }

    @Test
    void peftRoundTripIsBitExactForTiedAndUntiedModels() throws Exception {
        for (boolean tied : new boolean[]{true, false}) {
            LlamaModel model = tiny(tied);
            LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(2, 5), 3);
            try (NoGradGuard g = new NoGradGuard()) {
                adapter.namedParameters().values().forEach(t -> t.add_(torch.randn(Tensors.shape(t)).mul_(new Scalar(0.1))));
            }
            Path dir = tmp.resolve("adapter" + tied);
            PeftAdapterFormat.save(adapter, dir, "tiny");
            LoraAdapter loaded = PeftAdapterFormat.load(dir, model);
            Map<String, Tensor> a = adapter.namedParameters();
            Map<String, Tensor> b = loaded.namedParameters();
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) {
                assertTrue(Tensors.bitwiseEqual(a.get(k).detach(), b.get(k)), k);
            }
            assertArrayEquals(new long[]{2, 5}, loaded.config().trainableTokenIndices());
            assertArrayEquals(logits(model, adapter), logits(model, loaded));
            var cfg = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("adapter_config.json").toFile());
            assertEquals("LORA", cfg.get("peft_type").asText());
            assertEquals(8, cfg.get("r").asInt());
            assertEquals(7, cfg.get("target_modules").size());
            if (tied) {
                assertEquals("[2,5]", cfg.get("trainable_token_indices").toString());
            } else {
                assertEquals("[2,5]", cfg.get("trainable_token_indices").get("lm_head").toString());
            }
            var names = Safetensors.readHeader(dir.resolve("adapter_model.safetensors")).entries().keySet();
            assertTrue(names.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), names.toString());
            assertTrue(names.contains("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"));
        }
    }

    /**
     * The adapter's output equals that of a model whose weights are W + (alpha / r)·B·A, for every projection adapted
     * and for a subset (members of the q/k/v and gate/up groups left out): through the serving path (no autograd,
     * pre-stacked weights) and the training path (autograd, batched A products, block-diagonal B).
     */
    @ParameterizedTest
    @ValueSource(strings = {"q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "q_proj,v_proj,up_proj,down_proj"})
    void adapterEqualsMergedWeightsInServingAndTraining(String targets) throws Exception {
        var spec = new TinyModels.Spec("llama", false, 2, false, ScalarType.Float, 1);
        HfModelDirectory dir = new HfModelDirectory(TinyModels.write(tmp.resolve("merge"), spec, 5));
        LlamaModel model = LlamaModel.load(dir, ScalarType.Float);
        Set<Projection> modules = java.util.Arrays.stream(targets.split(",")).map(Projection::fromModuleName)
                .collect(java.util.stream.Collectors.toSet());
        LoraConfig config = new LoraConfig(4, 12, 0.05, modules, new long[0]);
        LoraAdapter adapter = LoraAdapter.initialize(model, config, 2);
        Map<String, Tensor> params = adapter.namedParameters();
        Map<String, Tensor> weights = Safetensors.read(dir.weightFiles().get(0));
        try (NoGradGuard g = new NoGradGuard()) {
            for (int l = 0; l < model.config().numLayers(); l++) {
                for (Projection p : modules) {
                    String prefix = "base_model.model." + p.path(l);
                    Tensor a = params.get(prefix + ".lora_A.weight");
                    Tensor b = params.get(prefix + ".lora_B.weight");
                    b.copy_(torch.randn(Tensors.shape(b)).mul_(new Scalar(0.2)));
                    String name = p.path(l) + ".weight";
                    weights.put(name, weights.get(name).add(b.matmul(a).mul(new Scalar(config.scale()))));
                }
            }
        }
        float[] merged = logits(new LlamaModel(model.config(), weights, ScalarType.Float), null);
        assertArrayEquals(merged, logits(model, adapter), 1e-4f, "serving path");
        Tensor hidden = model.forward(Tensors.longs(IDS, 1, IDS.length), 0, null, adapter);
        assertTrue(hidden.requires_grad());
        assertArrayEquals(merged, Tensors.toFloats(model.logits(hidden, adapter).detach()), 1e-4f, "training path");
    }

    @Test
    void loadingAnAdapterForAnotherArchitectureFailsClearly() throws Exception {
        LlamaModel model = tiny(true);
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(), 3);
        Path dir = tmp.resolve("a");
        PeftAdapterFormat.save(adapter, dir, "tiny");
        var e = assertThrows(IllegalArgumentException.class, () -> PeftAdapterFormat.load(dir, Stories.model()));
        assertTrue(e.getMessage().contains("do not fit the base model"), e.getMessage());
    }
}
