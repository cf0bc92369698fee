package dev.tuneforge.engine.model;

import org.bytedeco.pytorch.Tensor;

/**
 * What a fine-tuning adapter adds to a frozen base model's forward pass. The base weights are never modified,
 * so one loaded base serves any number of adapters at once.
 */
public interface Adapter {
    /** The adapter's contribution to projection {@code p} of {@code layer} for input {@code x}, or null for none. */
    Tensor projectionDelta(int layer, Projection p, Tensor x);

    /** Embeddings of {@code ids} given the base lookup {@code baseEmbeddings}; replaces trained token rows. */
    Tensor embed(Tensor ids, Tensor baseEmbeddings);

    /** Output logits given the base logits and the final hidden states; replaces trained token columns. */
    Tensor head(Tensor hidden, Tensor baseLogits);

    /**
     * The adapter's current weights as float32 arrays for the single-token decoder, or null if it cannot provide
     * them (then decoding goes through {@link LlamaModel#forward}).
     */
    default AdapterWeights decodeWeights() {
        return null;
    }
}
