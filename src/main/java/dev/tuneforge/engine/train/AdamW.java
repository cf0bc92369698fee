package dev.tuneforge.engine.train;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW (decoupled weight decay), as {@code torch.optim.AdamW} computes it, with gradient-norm clipping. Written over
 * tensor ops rather than libtorch's optimizer class so its moments are plain named tensors that checkpoint into
 * safetensors.
 * <p>
 * The parameters, their gradients and both moments each live in one flat float32 buffer: every parameter's data
 * is moved into a slice of the flat parameters ({@code set_data}) and its gradient preset to a slice of the flat
 * gradients, into which autograd accumulates in place. A step is then a handful of ops over ~2.4 M numbers instead
 * of seven per tensor over the ~420 tensors of a LoRA on every projection (22 ms a step on SmolLM2, 4 × 64). Every
 * parameter is updated every step, as {@code torch.optim.AdamW} does for parameters whose gradient is defined: all
 * adapter tensors take part in every forward pass.
 */
public final class AdamW {
    private static final double BETA1 = 0.9;
    private static final double BETA2 = 0.999;
    private static final double EPS = 1e-8;

    private final Tensor flatParams;
    private final Tensor flatGrads;
    private final Tensor flatExpAvg;
    private final Tensor flatExpAvgSq;
    private final Map<String, Tensor> expAvg = new LinkedHashMap<>();
    private final Map<String, Tensor> expAvgSq = new LinkedHashMap<>();
    /** Every parameter's {offset, numel} in the flat buffers, by name in order. */
    private final Map<String, long[]> offsets = new LinkedHashMap<>();
    private final Map<String, Tensor> gradients = new LinkedHashMap<>();
    private final double weightDecay;
    private final double learningRate;
    private long steps;

    /** Takes over {@code params} (float32 leaves that require grad, no gradient yet): see the class comment. */
    public AdamW(Map<String, Tensor> params, double learningRate, double weightDecay) {
        this.learningRate = learningRate;
        this.weightDecay = weightDecay;
        long total = params.values().stream().mapToLong(Tensor::numel).sum();
        TensorOptions fp32 = new TensorOptions(ScalarType.Float);
        flatParams = torch.zeros(new long[]{total}, fp32);
        flatGrads = torch.zeros(new long[]{total}, fp32);
        flatExpAvg = torch.zeros(new long[]{total}, fp32);
        flatExpAvgSq = torch.zeros(new long[]{total}, fp32);
        long offset = 0;
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : params.entrySet()) {
                Tensor p = e.getValue();
                if (p.scalar_type().value != ScalarType.Float.value || !p.requires_grad() || p.grad().defined()) {
                    throw new IllegalArgumentException("parameter " + e.getKey()
                            + " must be a float32 leaf that requires grad and has no gradient yet");
                }
                long n = p.numel();
                long[] shape = Tensors.shape(p);
                Tensor data = slice(flatParams, offset, n, shape);
                data.copy_(p.detach());
                p.__dispatch_set_data(data);
                Tensor grad = slice(flatGrads, offset, n, shape);
                p.mutable_grad().put(grad);
                if (p.data_ptr().address() != data.data_ptr().address()
                        || p.grad().data_ptr().address() != grad.data_ptr().address()) {
                    throw new IllegalStateException("could not place parameter " + e.getKey() + " in the flat buffers");
                }
                offsets.put(e.getKey(), new long[]{offset, n});
                gradients.put(e.getKey(), grad);
                expAvg.put(e.getKey(), slice(flatExpAvg, offset, n, shape));
                expAvgSq.put(e.getKey(), slice(flatExpAvgSq, offset, n, shape));
                offset += n;
            }
        }
    }

    /**
     * Each parameter's gradient by name: slices of the flat gradients that {@link #step} reads. A forward pass over
     * detached aliases of the parameters accumulates here when the aliases' gradients are preset to these.
     */
    public Map<String, Tensor> gradients() {
        return java.util.Collections.unmodifiableMap(gradients);
    }

    /**
     * A second set of gradients laid out as the optimizer's (zero), for a microbatch computed alongside another;
     * {@link #addGradients} adds it in.
     */
    public Gradients newGradients() {
        Tensor flat = torch.zeros(new long[]{flatGrads.numel()}, new TensorOptions(ScalarType.Float));
        flat.retainReference();
        Map<String, Tensor> byName = new LinkedHashMap<>();
        offsets.forEach((name, at) -> byName.put(name,
                slice(flat, at[0], at[1], Tensors.shape(gradients.get(name)))));
        return new Gradients(flat, java.util.Collections.unmodifiableMap(byName));
    }

    /** Adds {@code other} to the gradients {@link #step} uses, then zeroes {@code other}. */
    public void addGradients(Gradients other) {
        try (NoGradGuard g = new NoGradGuard()) {
            flatGrads.add_(other.flat());
            other.flat().zero_();
        }
    }

    /** Gradients in one flat buffer, {@code byName} its slices per parameter. */
    public record Gradients(Tensor flat, Map<String, Tensor> byName) {
    }

    private static Tensor slice(Tensor flat, long offset, long n, long[] shape) {
        Tensor t = flat.narrow(0, offset, n).view(shape);
        t.retainReference();
        return t;
    }

    /**
     * Scales the gradients down so that their joint L2 norm is at most {@code maxNorm}, as
     * {@code torch.nn.utils.clip_grad_norm_} does; returns the norm before clipping.
     */
    public double clipGradNorm(double maxNorm) {
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            double norm = flatGrads.norm().item_double();
            double coefficient = maxNorm / (norm + 1e-6);
            if (coefficient < 1) {
                flatGrads.mul_(new Scalar(coefficient));
            }
            return norm;
        }
    }

    /**
     * One optimisation step from the gradients accumulated since the last: clipped to {@code maxGradNorm} (0: not
     * clipped), applied, then zeroed for the next.
     */
    public void update(double maxGradNorm) {
        if (maxGradNorm > 0) {
            clipGradNorm(maxGradNorm);
        }
        step();
        zeroGrad();
    }

    public void step() {
        steps++;
        double bc1 = 1 - Math.pow(BETA1, steps);
        double bc2Sqrt = Math.sqrt(1 - Math.pow(BETA2, steps));
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor p = flatParams;
            Tensor grad = flatGrads;
            if (weightDecay > 0) {
                p.mul_(new Scalar(1 - learningRate * weightDecay));
            }
            flatExpAvg.mul_(new Scalar(BETA1)).add_(grad, new Scalar(1 - BETA1));
            flatExpAvgSq.mul_(new Scalar(BETA2)).addcmul_(grad, grad, new Scalar(1 - BETA2));
            Tensor denom = flatExpAvgSq.sqrt().div_(new Scalar(bc2Sqrt)).add_(new Scalar(EPS));
            p.addcdiv_(flatExpAvg, denom, new Scalar(-learningRate / bc1));
        }
    }

    public void zeroGrad() {
        flatGrads.zero_();
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
            for (String name : expAvg.keySet()) {
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
