package dev.tuneforge.engine.bench;

import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RandomBaseDirectoryTest {
    private static final String QWEN_LIKE = """
            {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64, "intermediate_size": 128,
             "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 300,
             "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000, "tie_word_embeddings": true,
             "bos_token_id": 290, "eos_token_id": 295, "torch_dtype": "float32"}
            """;

    @Test
    void writesALoadableBf16BaseWithATokenizerCoveringTheVocabulary(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("config.json");
        Files.writeString(config, QWEN_LIKE);
        Path base = dir.resolve("base");
        assertTrue(RandomBaseDirectory.ensure(config, base, 7));
        assertFalse(RandomBaseDirectory.ensure(config, base, 7), "a complete directory for the same config is reused");

        HfModelDirectory hf = new HfModelDirectory(base);
        assertEquals(ScalarType.BFloat16.value, Safetensors.read(base.resolve("model.safetensors"))
                .get("model.embed_tokens.weight").scalar_type().value);
        LlamaModel model = LlamaModel.load(hf, ScalarType.BFloat16);
        assertEquals(300, model.config().vocabSize());
        try (TextTokenizer tokenizer = new TextTokenizer(hf)) {
            assertEquals(300, tokenizer.vocabularySize());
            assertArrayEquals(new long[]{290, 5, 299}, tokenizer.encode("w5 w299", true));
            assertEquals("w5 w299", tokenizer.decode(new long[]{290, 5, 299, 295}));
            assertEquals(290, tokenizer.bosId());
            assertEquals(List.of(295), tokenizer.eosIds());
        }

        Files.writeString(config, QWEN_LIKE.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        assertTrue(RandomBaseDirectory.ensure(config, base, 7), "another config is written anew");
        assertEquals(3, new HfModelDirectory(base).config().numLayers());
    }
}
