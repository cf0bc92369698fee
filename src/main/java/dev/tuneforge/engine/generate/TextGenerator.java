package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.BatchDecoders;
import dev.tuneforge.engine.model.FallbackBatchDecoder;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * One generation at a time on the calling thread, over a shared base model and an optional adapter: the CLI's
 * {@code generate} and library callers. It runs the very steps a server's {@link ContinuousBatcher} runs for a
 * request (the same {@link SequenceGeneration}, the same prompt chunks), so a request served among others gives
 * what it gives here.
 */
public final class TextGenerator {
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final Supplier<BatchDecoder> decoders;

    public TextGenerator(LlamaModel model, TextTokenizer tokenizer) {
        this(model, tokenizer, () -> BatchDecoders.forModel(model));
    }

    /**
     * With {@code singleTokenDecoder} false every token goes through libtorch, as on runtimes without the decoder
     * (see {@link LlamaModel#decoder()}).
     */
    public TextGenerator(LlamaModel model, TextTokenizer tokenizer, boolean singleTokenDecoder) {
        this(model, tokenizer, singleTokenDecoder ? () -> BatchDecoders.forModel(model)
                : () -> new FallbackBatchDecoder(model, false, "libtorch only, as asked"));
    }

    /** Each generation on a decoder of its own from {@code decoders}. */
    public TextGenerator(LlamaModel model, TextTokenizer tokenizer, Supplier<BatchDecoder> decoders) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.decoders = decoders;
    }

    public GenerationResult generate(long[] promptIds, Adapter adapter, GenerationOptions options, Set<Long> stopIds) {
        return generate(promptIds, adapter, options, stopIds, text -> { });
    }

    /**
     * Generates after {@code promptIds}; {@code onText} receives the text as it becomes final (never a partial UTF-8
     * character nor the start of a possible stop sequence).
     */
    public GenerationResult generate(long[] promptIds, Adapter adapter, GenerationOptions options, Set<Long> stopIds,
                                     Consumer<String> onText) {
        SequenceGeneration generation = new SequenceGeneration(promptIds, options, stopIds,
                model.config().maxPositionEmbeddings(), tokenizer, onText);
        try (BatchDecoder decoder = decoders.get();
             BatchDecoder.Sequence sequence = decoder.open(adapter, generation.expectedPositions())) {
            int chunkSize = SequenceGeneration.chunkSize(decoder);
            List<BatchDecoder.Row> rows = new ArrayList<>();
            boolean done = false;
            while (!done) {
                rows.clear();
                generation.addRows(rows, sequence, chunkSize);
                float[][] logits = decoder.step(rows);
                done = generation.accept(logits[rows.size() - 1], chunkSize);
            }
        }
        return generation.result();
    }
}
