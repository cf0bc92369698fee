package dev.tuneforge.engine.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (decoupled weight decay), as {@code torch.optim.AdamW} computes it. Written over tensor ops rather than
 * libtorch's optimizer class so its moments are plain named tensors that checkpoint into safetensors.
 */
final class AdamW {
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPS = 1e-8;

    private final Map<String, Tensor> params;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>();
    private final Map<String, Tensor> expAvgSq = new LinkedHashMap<>();
    private final double weightDecay;
    private double learningRate;
    private long steps;

    AdamW(Map<String, Tensor> params, double learningRate, double weightDecay) {
        this.params = params;
        this.learningRate = learningRate;
        this.weightDecay = weightDecay;
        params.forEach((name, p) -> {
            expAvg.put(name, torch.zeros_like(p));
            expAvgSq.put(name, torch.zeros_like(p));
        });
    }

    void step() {
        steps++;
        double bc1 = 1 - Math.pow(BETA1, steps);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(BETA2, steps));
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue();
                Tensor grad = p.grad();
                if (!grad.defined()) {
                    continue;
                }
                Tensor m = expAvg.get(e.getKey());
                Tensor v = expAvgSq.get(e.getKey());
                if (weightDecay > 0) {
                    p.mul_(new Scalar(1 - learningRate * weightDecay));
                }
                m.mul_(new Scalar(BETA1)).add_(grad, new Scalar(1 - BETA1));
                v.mul_(new Scalar(BETA2)).addcmul_(grad, grad, new Scalar(1 - BETA2));
                Tensor denom = v.sqrt().div_(new Scalar(bc2Sqrt)).add_(new Scalar(EPS));
                p.addcdiv_(m, denom, new Scalar(-learningRate / bc1));
            }
        }
    }

    void zeroGrad() {
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            for (Tensor p : params.values()) {
                Tensor grad = p.grad();
                if (grad.defined()) {
                    grad.zero_();
                }
            }
        }
    }

    long steps() {
        return steps;
    }

    Map<String, Tensor> expAvg() {
        return expAvg;
    }

    Map<String, Tensor> expAvgSq() {
        return expAvgSq;
    }

    void restore(long steps, Map<String, Tensor> avg, Map<String, Tensor> avgSq) {
        this.steps = steps;
        try (NoGradGuard g = new NoGradGuard()) {
            for (String name : params.keySet()) {
                Tensor a = avg.get(name);
                Tensor s = avgSq.get(name);
                if (a == null || s == null) {
                    throw new IllegalArgumentException("checkpoint lacks optimizer state of " + name);
                }
                expAvg.get(name).copy_(a);
                expAvgSq.get(name).copy_(s);
            }
        }
    }
}
