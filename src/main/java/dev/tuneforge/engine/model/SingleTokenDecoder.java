package dev.tuneforge.engine.model;

/**
 * Decodes one new token of one sequence at a time on the shared base weights, bypassing libtorch's per-op cost
 * (see {@code LlamaDecoder}). Prompts still go through
 * {@link LlamaModel#forward}, which fills the same {@link KvCache}.
 */
public interface SingleTokenDecoder {
    /** Scratch buffers for one sequence. */
    interface State {
    }

    State newState(KvCache cache);

    /**
     * Runs {@code token} at {@code position} (the cache holds the positions before it), stores its keys and values
     * and returns the next token's float32 logits, owned by {@code state} and valid until its next call.
     */
    float[] next(State state, int token, int position, KvCache cache, AdapterWeights adapter);

    /** What decodes (the native team, or the Java decoder and which matrix-vector loop), and why, for the bench. */
    String loop();

    /** The same decoder on the same weights without the native team (the Java decoder, kept under test). */
    default SingleTokenDecoder withoutTeam() {
        return this;
    }
}
