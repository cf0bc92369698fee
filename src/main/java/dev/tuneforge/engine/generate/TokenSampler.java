package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.T_TensorTensor_T;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.Random;

/** Picks the next token from float32 logits [vocab]: greedy, or temperature + top-k + top-p (nucleus) sampling. */
public final class TokenSampler {
    private final GenerationOptions options;
    private final Random random;

    TokenSampler(GenerationOptions options) {
        this.options = options;
        this.random = options.seed() == null ? new Random() : new Random(options.seed());
    }

    /** The next token for float32 logits in an array (the single-token decoder's output). */
    long next(float[] logits) {
        if (options.isGreedy()) {
            return argmax(logits);
        }
        try (org.bytedeco.javacpp.PointerScope scope = new org.bytedeco.javacpp.PointerScope()) {
            return next(Tensors.floats(logits, logits.length));
        }
    }

    /** The index of the largest value, the first one on ties (as torch.argmax). */
    public static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    long next(Tensor logits) {
        if (options.isGreedy()) {
            return logits.argmax().item_long();
        }
        Tensor scaled = logits.div(new Scalar(options.temperature()));
        Tensor values;
        Tensor indices;
        if (options.topK() > 0 && options.topK() < logits.size(0)) {
            T_TensorTensor_T top = torch.topk(scaled, options.topK());
            values = top.get0();
            indices = top.get1();
        } else {
            T_TensorTensor_T sorted = torch.sort(scaled, 0, true);
            values = sorted.get0();
            indices = sorted.get1();
        }
        float[] probs = Tensors.toFloats(torch.softmax(values, 0));
        int keep = probs.length;
        if (options.topP() < 1) {
            double cumulative = 0;
            for (int i = 0; i < probs.length; i++) {
                cumulative += probs[i];
                if (cumulative >= options.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        double total = 0;
        for (int i = 0; i < keep; i++) {
            total += probs[i];
        }
        double r = random.nextDouble() * total;
        int chosen = keep - 1;
        for (int i = 0; i < keep; i++) {
            r -= probs[i];
            if (r <= 0) {
                chosen = i;
                break;
            }
        }
        return indices.select(0, chosen).item_long();
    }
}
