package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.TinyModels;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.Projection;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The training path with dropout against PEFT's formula written out per projection: y_i + scale · B_i A_i (m_i ⊙ x)
 * with member i's own mask m_i, in values and in the gradients of x, A and B.
 */
class LoraDropoutTest {
    @TempDir
    Path tmp;

    @Test
    void groupedDropoutDeltaIsPeftsPerProjectionFormula() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"),
                TinyModels.Spec.llama(), 3)), ScalarType.Float);
        LoraConfig config = new LoraConfig(4, 8, 0.3, LoraConfig.ALL_PROJECTIONS, new long[0]);
        LoraAdapter adapter = LoraAdapter.initialize(model, config, 5);
        Map<String, Tensor> params = adapter.namedParameters();
        List<Projection> group = List.of(Projection.Q, Projection.K, Projection.V);
        int layer = 1;
        try (NoGradGuard g = new NoGradGuard()) {
            for (Projection p : group) {
                params.get(LoraAdapter.PREFIX + p.path(layer) + ".lora_B.weight").normal_();
            }
        }
        long tokens = 10;
        long in = TinyModels.HIDDEN;
        long out = group.stream().mapToLong(p -> p.weightShape(model.config())[0]).sum();
        torch.manual_seed(9);
        Tensor x0 = torch.randn(new long[]{2, tokens / 2, in});
        Tensor y0 = torch.randn(new long[]{2, tokens / 2, out});

        Tensor x = x0.clone().set_requires_grad(true);
        // a training pass accumulates into the gradients it is given, not into the parameters' own
        Map<String, Tensor> passGradients = new java.util.LinkedHashMap<>();
        params.forEach((name, t) -> passGradients.put(name, torch.zeros_like(t)));
        Tensor actual = adapter.trainingPass(new DropoutMasks(77), passGradients)
                .addProjectionsDelta(layer, group, x, y0);
        Tensor upstream = torch.randn(Tensors.shape(actual));
        actual.mul(upstream).sum().backward();
        float[][] actualGrads = grads(passGradients, group, layer);
        float[] actualXGrad = Tensors.toFloats(x.grad());
        for (Tensor t : params.values()) {
            assertFalse(t.grad().defined(), "the parameters' own gradients stay untouched");
        }

        Tensor masks = new DropoutMasks(77).next(new long[]{group.size(), tokens, in}, config.dropout());
        Tensor xr = x0.clone().set_requires_grad(true);
        Tensor flatX = xr.reshape(tokens, in);
        Tensor[] parts = new Tensor[group.size()];
        long offset = 0;
        for (int i = 0; i < group.size(); i++) {
            Projection p = group.get(i);
            Tensor a = params.get(LoraAdapter.PREFIX + p.path(layer) + ".lora_A.weight");
            Tensor b = params.get(LoraAdapter.PREFIX + p.path(layer) + ".lora_B.weight");
            long width = p.weightShape(model.config())[0];
            Tensor base = y0.reshape(tokens, out).narrow(1, offset, width);
            parts[i] = base.add(torch.linear(torch.linear(flatX.mul(masks.select(0, i)), a), b).mul(new Scalar(config.scale())));
            offset += width;
        }
        Tensor expected = torch.cat(new org.bytedeco.pytorch.TensorVector(parts), 1).view(Tensors.shape(y0));
        expected.mul(upstream).sum().backward();

        assertArrayEquals(Tensors.toFloats(expected.detach()), Tensors.toFloats(actual.detach()), 1e-5f, "values");
        assertArrayEquals(Tensors.toFloats(xr.grad()), actualXGrad, 1e-5f, "gradient of x");
        float[][] expectedGrads = grads(params, group, layer);
        for (int i = 0; i < expectedGrads.length; i++) {
            assertArrayEquals(expectedGrads[i], actualGrads[i], 1e-4f, "gradient " + i);
        }
        float[] mask = Tensors.toFloats(masks);
        assertFalse(java.util.Arrays.equals(java.util.Arrays.copyOfRange(mask, 0, (int) (tokens * in)),
                java.util.Arrays.copyOfRange(mask, (int) (tokens * in), (int) (2 * tokens * in))), "masks differ per member");
    }

    /** The gradients of the group's A and B: {@code tensors} are the gradients themselves or the parameters. */
    private static float[][] grads(Map<String, Tensor> tensors, List<Projection> group, int layer) {
        float[][] out = new float[group.size() * 2][];
        for (int i = 0; i < group.size(); i++) {
            out[2 * i] = Tensors.toFloats(gradient(tensors.get(LoraAdapter.PREFIX + group.get(i).path(layer) + ".lora_A.weight")));
            out[2 * i + 1] = Tensors.toFloats(gradient(tensors.get(LoraAdapter.PREFIX + group.get(i).path(layer) + ".lora_B.weight")));
        }
        return out;
    }

    private static Tensor gradient(Tensor t) {
        return t.requires_grad() ? t.grad() : t;
    }
}
