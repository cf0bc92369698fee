package dev.tuneforge.engine.model;

import java.util.List;

/**
 * Decodes many sequences together: a step runs a list of rows, each one token of one sequence at that sequence's
 * next position, so that rows of different sequences (and different adapters of the same base) share each read of
 * the base weights. A prompt is a run of consecutive rows of one sequence (prefilled in chunks); a decoding sequence
 * adds one row a step.
 * <p>
 * A row's result never depends on which other rows share its step: a sequence decoded among others gives exactly
 * the logits it gives alone. Used by one thread at a time (the scheduler's).
 */
public interface BatchDecoder extends AutoCloseable {
    /** One sequence's decoding state: its KV cache, grown on demand, and its adapter. Closed when its request ends. */
    interface Sequence extends AutoCloseable {
        /** Positions stored in its KV cache: the position of its next row. */
        int length();

        /** Gives back its KV cache memory. */
        @Override
        void close();
    }

    /**
     * A new empty sequence decoded with {@code adapter} (null: the base model). {@code expectedPositions} (prompt +
     * most new tokens) is a hint for implementations that cannot grow a cache cheaply.
     */
    Sequence open(Adapter adapter, int expectedPositions);

    /**
     * One token of {@code sequence}; its position is the sequence's length plus the number of its rows before this
     * one in the same step. {@code wantLogits} false for every prompt row but the last (their logits are not needed).
     */
    record Row(Sequence sequence, int token, boolean wantLogits) {
    }

    /**
     * Runs {@code rows} (a sequence's rows in one step are consecutive, in position order) and returns, per row, its
     * float32 logits [vocab] where wanted, else null; the arrays belong to the caller.
     */
    float[][] step(List<Row> rows);

    /** How many rows one step should hold at most: the scheduler's token budget per step. */
    int preferredRowsPerStep();

    /** Bytes of KV cache held by open sequences. */
    long kvBytesInUse();

    /** What decodes and why (native batched team, or the fallback), for logs and the bench. */
    String describe();

    @Override
    void close();
}
