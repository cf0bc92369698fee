package dev.tuneforge.engine.model;

import org.bytedeco.pytorch.Tensor;

import java.util.List;

/**
 * What a fine-tuning adapter adds to a frozen base model's forward pass. The base weights are never modified,
 * so one loaded base serves any number of adapters at once.
 */
public interface Adapter {
    /**
     * The base output {@code y} of the projections {@code group} of {@code layer}, which all read input {@code x}
     * (q, k, v; gate, up; or a single one) and whose outputs {@code y} holds concatenated in that order (for o and
     * down already added to the residual stream), plus the adapter's contribution; {@code y} itself where the
     * adapter adapts none of them.
     */
    Tensor addProjectionsDelta(int layer, List<Projection> group, Tensor x, Tensor y);

    /** Embeddings of {@code ids} given the base lookup {@code baseEmbeddings}; replaces trained token rows. */
    Tensor embed(Tensor ids, Tensor baseEmbeddings);

    /** Output logits given the base logits and the final hidden states; replaces trained token columns. */
    Tensor head(Tensor hidden, Tensor baseLogits);

    /**
     * The adapter's current weights as the decoders read them (one native block), or null if it cannot provide
     * them (then decoding goes through {@link LlamaModel#forward}). A decoder's sequence holds them while it runs
     * ({@link AdapterWeights#retain}).
     */
    default AdapterWeights decodeWeights() {
        return null;
    }
}
