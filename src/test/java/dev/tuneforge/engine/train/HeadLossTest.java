package dev.tuneforge.engine.train;

import dev.tuneforge.engine.TinyModels;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The head + cross-entropy in chunks of tokens gives the loss and gradients of one pass over all tokens. */
class HeadLossTest {
    @TempDir
    Path tmp;

    @Test
    void chunkedLossAndGradientsEqualTheWholeBatch() throws Exception {
        var spec = new TinyModels.Spec("llama", false, 2, false, ScalarType.Float, 1);
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), spec, 8)),
                ScalarType.Float);
        // trained head rows too (untied model): their gradients come from every chunk
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults(2).withTrainableTokens(new long[]{2, 7}), 3);
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : adapter.namedParameters().entrySet()) {
                if (e.getKey().endsWith("lora_B.weight")) {
                    e.getValue().normal_();
                }
            }
        }
        torch.manual_seed(5);
        Tensor ids = torch.randint(TinyModels.VOCAB, new long[]{3, 11});
        Tensor targets = torch.randint(TinyModels.VOCAB, new long[]{33});

        Map<String, float[]> whole = new LinkedHashMap<>();
        double wholeLoss = HeadLoss.forwardBackward(model, adapter,
                model.forward(ids, 0, null, adapter).reshape(-1, TinyModels.HIDDEN), targets, 1.0, Long.MAX_VALUE);
        takeGradients(adapter, whole);
        Map<String, float[]> chunked = new LinkedHashMap<>();
        // 512-token vocabulary, 5 × 512 logits per chunk: chunks of 5, 5, ..., 3 tokens
        double chunkedLoss = HeadLoss.forwardBackward(model, adapter,
                model.forward(ids, 0, null, adapter).reshape(-1, TinyModels.HIDDEN), targets, 1.0, 5L * TinyModels.VOCAB);
        takeGradients(adapter, chunked);

        assertEquals(wholeLoss, chunkedLoss, 1e-5);
        assertEquals(whole.keySet(), chunked.keySet());
        for (String name : whole.keySet()) {
            assertArrayEquals(whole.get(name), chunked.get(name), 1e-5f, name);
        }
    }

    private static void takeGradients(LoraAdapter adapter, Map<String, float[]> out) {
        for (var e : adapter.namedParameters().entrySet()) {
            Tensor grad = e.getValue().grad();
            out.put(e.getKey(), Tensors.toFloats(grad));
            grad.zero_();
        }
    }
}
