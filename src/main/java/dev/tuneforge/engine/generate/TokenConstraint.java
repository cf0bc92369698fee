package dev.tuneforge.engine.generate;

import java.util.Set;

/** Restricts the tokens a generation may choose, step by step (constrained decoding); one per generation. */
public interface TokenConstraint {
    /** Makes a new constraint for one generation. */
    interface Factory {
        TokenConstraint start();
    }

    /**
     * Sets the logits of the tokens the next step must not choose to negative infinity. {@code tokensLeft} is how
     * many tokens may still follow this one; {@code stopIds} end the generation.
     */
    void mask(float[] logits, int tokensLeft, Set<Long> stopIds);

    /** Moves past the token chosen. */
    void accept(long token);

    /** Whether nothing but a stop token may come any more: the output is whole. */
    boolean finished();
}
