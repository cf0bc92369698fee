package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.UntrainedTokenCheck;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StopTokensTest {
    @TempDir
    Path tmp;

    @Test
    void everyEosIdOfGenerationConfigStopsGeneration() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("m"), TinyModels.Spec.llama(), 1);
        Files.writeString(dir.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 7]}");
        TextTokenizer tok = new TextTokenizer(new HfModelDirectory(dir));
        assertEquals(List.of(2, 7), tok.eosIds());
        assertEquals(Set.of(2L, 7L), new PromptFormat(tok).stopIds());
        assertEquals(2, tok.eosId(), "the first one ends training outputs");
    }

    @Test
    void zeroedSpecialTokenRowsAreReportedAsUntrained() throws Exception {
        Path dir = TinyModels.write(tmp.resolve("z"), TinyModels.Spec.llama(), 1);
        Map<String, Tensor> w = Safetensors.read(dir.resolve("model.safetensors"));
        Tensor embed = w.get("model.embed_tokens.weight");
        embed.select(0, 2).zero_();
        Safetensors.write(dir.resolve("model.safetensors"), w, Map.of());
        LlamaModel model = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float);
        assertEquals(List.of(2L), UntrainedTokenCheck.suspicious(model, new long[]{0, 1, 2}));
        assertTrue(UntrainedTokenCheck.suspicious(Stories.model(), new long[]{0, 1, 2}).isEmpty(),
                "stories-260k's </s> row has an ordinary norm: only training shows it was never learned");
    }
}
