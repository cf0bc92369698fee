package dev.tuneforge.engine.model;

/**
 * An adapter's weights as plain float32 arrays, for the single-token decoder ({@link LlamaDecoder}), which works
 * on arrays rather than libtorch tensors.
 */
public interface AdapterWeights {
    /** The low-rank update of projection {@code p} in {@code layer}, or null where the adapter has none. */
    LowRank lowRank(int layer, Projection p);

    /** The replacement embedding row of {@code token}, or null where the base row stands. */
    float[] embeddingRow(int token);

    /** Token ids whose output logit comes from a replacement head row (may be empty). */
    int[] headTokens();

    /** The replacement head row of {@code headTokens()[j]}. */
    float[] headRow(int j);

    /**
     * {@code y += upᵀ · (down · x)}: down is [rank, in] (LoRA's A) and up [rank, out] (LoRA's B transposed), both
     * row-major, with the adapter's scale already folded into up.
     */
    record LowRank(int rank, int in, int out, float[] down, float[] up) {
    }
}
