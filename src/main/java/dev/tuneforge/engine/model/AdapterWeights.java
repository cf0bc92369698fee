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
     * {@code y += B · (down · x)}: down is [rank, in] (LoRA's A, row-major); {@code up} holds B [out, rank] with the
     * adapter's scale folded in, in tiles of {@link #TILE} output rows: element (o, j) at
     * {@code (o / TILE) · TILE · rank + j · TILE + o % TILE}, the last tile padded with zeros. A tile's update is then
     * rank vector multiply-adds over one contiguous piece of memory.
     */
    record LowRank(int rank, int in, int out, float[] down, float[] up) {
        public static final int TILE = 16;

        /** From B as a row-major [out, rank] array, times {@code scale}. */
        public static LowRank of(int rank, int in, int out, float[] down, float[] b, float scale) {
            float[] up = new float[(out + TILE - 1) / TILE * TILE * rank];
            for (int o = 0; o < out; o++) {
                for (int j = 0; j < rank; j++) {
                    up[(o / TILE) * TILE * rank + j * TILE + o % TILE] = b[o * rank + j] * scale;
                }
            }
            return new LowRank(rank, in, out, down, up);
        }
    }
}
