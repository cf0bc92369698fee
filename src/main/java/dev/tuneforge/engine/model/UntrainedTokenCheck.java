package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Finds special tokens whose embedding rows look untrained: a row norm far below or above the vocabulary's
 * median (some Llama 3 base checkpoints ship zero rows for reserved and chat tokens). Such tokens are trained
 * as trainable token rows when the prompt format uses them; the check only warns.
 */
public final class UntrainedTokenCheck {
    static final double LOW = 0.1;
    static final double HIGH = 10.0;

    private UntrainedTokenCheck() {
    }

    public static List<Long> suspicious(LlamaModel model, long[] tokenIds) {
        float[] norms;
        try (NoGradGuard g = new NoGradGuard()) {
            norms = Tensors.toFloats(model.embedTokens().to(org.bytedeco.pytorch.global.torch.ScalarType.Float)
                    .norm(new ScalarOptional(new Scalar(2)), new long[]{1}, false));
        }
        float[] sorted = norms.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        List<Long> out = new ArrayList<>();
        for (long id : tokenIds) {
            if (id >= 0 && id < norms.length && (norms[(int) id] < LOW * median || norms[(int) id] > HIGH * median)) {
                out.add(id);
            }
        }
        return out;
    }
}
