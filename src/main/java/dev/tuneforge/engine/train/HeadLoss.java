package dev.tuneforge.engine.train;

import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.LlamaModel;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;

/**
 * The LM head and the mean cross-entropy over a step's selected hidden states, with the backward pass through
 * both, a chunk of tokens at a time. A step's logits are the largest tensors of training — [tokens, vocab] in the
 * base's dtype, again in float32 and once more for the saved log-softmax: 500 MB for SmolLM2 at 4 × 256, 1.5 GB for
 * Qwen2.5's 152k vocabulary. In chunks of at most {@link #MAX_CHUNK_LOGITS} logits, each chunk's are freed before
 * the next is made; the gradients the chunks leave on the (detached) hidden states then go back through the model
 * in one backward pass.
 */
public final class HeadLoss {
    /**
     * Logits per chunk: 12 M, 48 MB in float32. glibc serves blocks over 64 MB requested by a thread on a secondary
     * malloc arena (as a microbatch's thread may be) with a fresh mapping each time, zeroed by the kernel on every
     * step; below that, freed blocks are reused (see bench/performance-log.md, "Memory").
     */
    static final long MAX_CHUNK_LOGITS = 12L << 20;

    private HeadLoss() {
    }

    /**
     * Mean cross-entropy of {@code hidden} [tokens, hidden] against {@code targets} [tokens], backpropagated into
     * whatever {@code hidden} depends on (and the adapter's head rows); returns the loss.
     */
    public static double forwardBackward(LlamaModel model, Adapter adapter, Tensor hidden, Tensor targets) {
        return forwardBackward(model, adapter, hidden, targets, 1.0);
    }

    /**
     * As {@link #forwardBackward(LlamaModel, Adapter, Tensor, Tensor)}, backpropagating {@code weight} times the
     * mean (a microbatch's share of a step's tokens); returns the mean itself.
     */
    public static double forwardBackward(LlamaModel model, Adapter adapter, Tensor hidden, Tensor targets,
                                         double weight) {
        return forwardBackward(model, adapter, hidden, targets, weight, MAX_CHUNK_LOGITS);
    }

    static double forwardBackward(LlamaModel model, Adapter adapter, Tensor hidden, Tensor targets,
                                  double weight, long maxChunkLogits) {
        long tokens = hidden.size(0);
        long chunk = Math.max(1, maxChunkLogits / model.config().vocabSize());
        if (chunk >= tokens) {
            Tensor loss = torch.cross_entropy(model.logits(hidden, adapter), targets);
            (weight == 1.0 ? loss : loss.mul(new Scalar(weight))).backward();
            return loss.item_double();
        }
        Tensor detached = hidden.detach();
        detached.set_requires_grad(true);
        double total = 0;
        for (long start = 0; start < tokens; start += chunk) {
            long length = Math.min(chunk, tokens - start);
            try (PointerScope scope = new PointerScope()) {
                Tensor loss = torch.cross_entropy(model.logits(detached.narrow(0, start, length), adapter),
                        targets.narrow(0, start, length));
                double share = (double) length / tokens;
                loss.mul(new Scalar(share * weight)).backward();
                total += loss.item_double() * share;
            }
        }
        hidden.backward(detached.grad(), new BoolOptional(), false, new TensorArrayRefOptional());
        return total;
    }
}
