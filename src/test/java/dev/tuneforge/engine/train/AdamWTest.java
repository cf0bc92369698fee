package dev.tuneforge.engine.train;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdamWTest {
    private static final double LR = 0.01;
    private static final double WEIGHT_DECAY = 0.1;

    private static Map<String, Tensor> parameters(long seed) {
        torch.manual_seed(seed);
        Map<String, Tensor> params = new LinkedHashMap<>();
        params.put("a", torch.randn(new long[]{3, 5}));
        params.put("b", torch.randn(new long[]{7}));
        params.put("c", torch.randn(new long[]{2, 2, 2}));
        params.values().forEach(p -> p.set_requires_grad(true));
        return params;
    }

    /** A loss whose gradients differ per element and per step. */
    private static void backward(Map<String, Tensor> params, int step) {
        Tensor loss = torch.zeros(new long[]{});
        for (Tensor p : params.values()) {
            Tensor weights = torch.arange(new Scalar(p.numel())).reshape(Tensors.shape(p)).mul(new Scalar(0.3 * step));
            loss = loss.add(p.mul(p).mul(weights).sum()).add(p.sin().sum().mul(new Scalar(5)));
        }
        loss.backward();
    }

    /** torch.optim.AdamW's update, one tensor at a time, after libtorch's own clip_grad_norm_. */
    private static void referenceStep(Map<String, Tensor> params, Map<String, Tensor[]> moments, int step, double maxNorm) {
        torch.clip_grad_norm_(new TensorVector(params.values().toArray(new Tensor[0])), maxNorm);
        try (NoGradGuard g = new NoGradGuard()) {
            double bc1 = 1 - Math.pow(0.9, step);
            double bc2 = 1 - Math.pow(0.999, step);
            for (var e : params.entrySet()) {
                Tensor p = e.getValue();
                Tensor grad = p.grad();
                Tensor[] mv = moments.computeIfAbsent(e.getKey(), k -> new Tensor[]{torch.zeros_like(p), torch.zeros_like(p)});
                p.mul_(new Scalar(1 - LR * WEIGHT_DECAY));
                mv[0].mul_(new Scalar(0.9)).add_(grad.mul(new Scalar(0.1)));
                mv[1].mul_(new Scalar(0.999)).add_(grad.mul(grad).mul(new Scalar(0.001)));
                Tensor mHat = mv[0].div(new Scalar(bc1));
                Tensor vHat = mv[1].div(new Scalar(bc2));
                p.sub_(mHat.div(vHat.sqrt().add(new Scalar(1e-8))).mul(new Scalar(LR)));
                grad.zero_();
            }
        }
    }

    @Test
    void flatBuffersGiveTorchsAdamWWithClipping() {
        Map<String, Tensor> flat = parameters(3);
        Map<String, Tensor> reference = parameters(3);
        AdamW optimizer = new AdamW(flat, LR, WEIGHT_DECAY);
        Map<String, Tensor[]> moments = new LinkedHashMap<>();
        for (int step = 1; step <= 5; step++) {
            // a tight limit for the first steps (clipping), a loose one after (none)
            double maxNorm = step <= 2 ? 0.5 : 1e6;
            backward(flat, step);
            optimizer.clipGradNorm(maxNorm);
            optimizer.step();
            optimizer.zeroGrad();
            backward(reference, step);
            referenceStep(reference, moments, step, maxNorm);
        }
        for (String name : List.of("a", "b", "c")) {
            assertArrayEquals(Tensors.toFloats(reference.get(name).detach()), Tensors.toFloats(flat.get(name).detach()),
                    1e-5f, name);
            assertArrayEquals(Tensors.toFloats(moments.get(name)[1]), Tensors.toFloats(optimizer.expAvgSq().get(name)),
                    1e-5f, name);
            assertTrue(flat.get(name).requires_grad() && flat.get(name).is_leaf());
            assertEquals(0.0, flat.get(name).grad().abs().sum().item_double(), "gradients zeroed");
        }
        assertEquals(5, optimizer.steps());
    }

    @Test
    void refusesParametersThatAlreadyHaveGradients() {
        Map<String, Tensor> params = parameters(4);
        backward(params, 1);
        var e = assertThrows(IllegalArgumentException.class, () -> new AdamW(params, LR, 0));
        assertTrue(e.getMessage().contains("parameter a"), e.getMessage());
    }
}
