package dev.tuneforge.engine.model;

/**
 * An adapter's weights as plain float32 arrays, for the single-token decoder ({@link LlamaDecoder}), which works
 * on arrays rather than libtorch tensors.
 */
public interface AdapterWeights {
    /** The up half of the low-rank update of projection {@code p} in {@code layer}, or null where the adapter has none. */
    LowRank lowRank(int layer, Projection p);

    /**
     * The down (A) rows of the updates of {@code group} (one of {@link Projection#GROUPS}) in {@code layer}, stacked
     * in the group's order with the members that have none skipped, [Σ rank, in]: a product of the group's shared
     * input with them gives every member's intermediate at once. Null where no member has an update.
     */
    float[] stackedDown(int layer, java.util.List<Projection> group);

    /** The replacement embedding row of {@code token}, or null where the base row stands. */
    float[] embeddingRow(int token);

    /** Token ids whose output logit comes from a replacement head row (may be empty). */
    int[] headTokens();

    /** The replacement head row of {@code headTokens()[j]}. */
    float[] headRow(int j);

    /** Bytes of these weights the decoder reads for every token: all low-rank pairs and the head rows. */
    long bytesReadPerToken();

    /**
     * The up half of {@code y += upᵀ · (down · x)}: up is [rank, out] (LoRA's B transposed, row-major) with the
     * adapter's scale folded in; the down half (LoRA's A) is in {@link #stackedDown}.
     */
    record LowRank(int rank, int out, float[] up) {
    }
}
