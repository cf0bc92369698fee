package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.tokenizer.TextTokenizer;

import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One generation's state between steps, the same whether it decodes alone ({@link TextGenerator}) or in a batch
 * ({@link ContinuousBatcher}): its prompt, fed in chunks that start at multiples of the chunk size (so that how a
 * prompt is cut never depends on what else runs), then one row a step with the token chosen last; the tokens
 * chosen so far ({@link DecodingStep}), the text streamed ({@link StreamingText}) and why it ended.
 */
final class SequenceGeneration {
    private final long[] promptIds;
    private final Set<Long> stopIds;
    private final TextTokenizer tokenizer;
    private final DecodingStep step;
    private final StreamingText stream;
    private final IncrementalText decoded;
    private final int maxNew;
    private final long[] out;
    private int fed;
    private int produced;
    private long next;
    private FinishReason reason;

    /**
     * Refuses an empty prompt and one that leaves no room in {@code contextLimit}; {@code onText} receives the text
     * as it becomes final (never a partial UTF-8 character nor the start of a possible stop sequence).
     */
    SequenceGeneration(long[] promptIds, GenerationOptions options, Set<Long> stopIds, int contextLimit,
                       TextTokenizer tokenizer, Consumer<String> onText) {
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (promptIds.length >= contextLimit) {
            throw new IllegalArgumentException("the prompt has " + promptIds.length + " tokens; the model's context is "
                    + contextLimit + " tokens");
        }
        this.promptIds = promptIds.clone();
        this.stopIds = stopIds;
        this.tokenizer = tokenizer;
        this.maxNew = Math.min(options.maxOutputTokens(), contextLimit - promptIds.length);
        this.step = new DecodingStep(options, stopIds);
        this.stream = new StreamingText(options.stopSequences(), onText);
        this.decoded = new IncrementalText(tokenizer);
        this.out = new long[maxNew];
    }

    /**
     * The prompt chunk size for {@code decoder}: half its rows per step, so a chunk fits beside a batch's decode
     * rows. Fixed per decoder, never by load: a prompt is cut the same way however busy the server is.
     */
    static int chunkSize(BatchDecoder decoder) {
        return Math.max(1, decoder.preferredRowsPerStep() / 2);
    }

    /** Positions its KV cache will hold at most: the prompt and every new token but the last. */
    int expectedPositions() {
        return promptIds.length + maxNew;
    }

    boolean prefilling() {
        return fed < promptIds.length;
    }

    boolean finished() {
        return reason != null;
    }

    /** How many rows its next step adds: the rest of the current prompt chunk, else one. */
    int nextRowCount(int chunkSize) {
        return prefilling() ? chunkEnd(chunkSize) - fed : 1;
    }

    /**
     * Adds its rows for the next step to {@code rows}: a prompt chunk (logits wanted for the prompt's last row
     * only), or the token chosen last.
     */
    void addRows(List<BatchDecoder.Row> rows, BatchDecoder.Sequence sequence, int chunkSize) {
        if (finished()) {
            throw new IllegalStateException("a finished generation has no rows");
        }
        if (!prefilling()) {
            rows.add(new BatchDecoder.Row(sequence, (int) next, true));
            return;
        }
        int end = chunkEnd(chunkSize);
        for (int i = fed; i < end; i++) {
            rows.add(new BatchDecoder.Row(sequence, (int) promptIds[i], i == promptIds.length - 1));
        }
    }

    /** Whether its rows of the step being run end its prompt (or it is past it): it chooses a token this step. */
    boolean choosesThisStep(int chunkSize) {
        return !prefilling() || chunkEnd(chunkSize) == promptIds.length;
    }

    /**
     * Takes the step's result: {@code logits} of its last row (null for a prompt chunk before the last). Returns
     * true when the generation has ended.
     */
    boolean accept(float[] logits, int chunkSize) {
        if (prefilling()) {
            fed = chunkEnd(chunkSize);
            if (prefilling()) {
                return false;
            }
        }
        if (logits == null) {
            throw new IllegalStateException("no logits for the last row of a step");
        }
        next = step.choose(logits, maxNew - produced - 1);
        if (stopIds.contains(next)) {
            reason = FinishReason.STOP;
        } else {
            out[produced++] = next;
            if (stream.update(decoded.append(next))) {
                reason = FinishReason.STOP;
            } else if (produced == maxNew) {
                // a constrained output that is whole could only be followed by a stop token
                reason = step.constraintFinished() ? FinishReason.STOP : FinishReason.MAX_TOKENS;
            }
        }
        return finished();
    }

    /** The result of a finished generation; emits the text held back. */
    GenerationResult result() {
        if (!finished()) {
            throw new IllegalStateException("the generation has not finished");
        }
        long[] ids = Arrays.copyOf(out, produced);
        String text = stream.finish(tokenizer.decode(ids));
        return new GenerationResult(text, ids, promptIds.length, reason, step.logprobSum(), step.steps());
    }

    private int chunkEnd(int chunkSize) {
        return Math.min((fed / chunkSize + 1) * chunkSize, promptIds.length);
    }
}
