package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.AdapterWeights;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.Arrays;
import java.util.Set;
import java.util.function.Consumer;

/** Autoregressive decoding with a KV cache over a shared base model and an optional adapter. */
public final class TextGenerator {
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final boolean singleTokenDecoder;

    public TextGenerator(LlamaModel model, TextTokenizer tokenizer) {
        this(model, tokenizer, true);
    }

    /**
     * With {@code singleTokenDecoder} false every token goes through libtorch, as on runtimes without the decoder
     * (see {@link LlamaModel#decoder()}).
     */
    public TextGenerator(LlamaModel model, TextTokenizer tokenizer, boolean singleTokenDecoder) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.singleTokenDecoder = singleTokenDecoder;
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
        int contextLimit = model.config().maxPositionEmbeddings();
        if (promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (promptIds.length >= contextLimit) {
            throw new IllegalArgumentException("the prompt has " + promptIds.length + " tokens; the model's context is "
                    + contextLimit + " tokens");
        }
        int maxNew = Math.min(options.maxOutputTokens(), contextLimit - promptIds.length);
        DecodingStep step = new DecodingStep(options, stopIds);
        long[] out = new long[maxNew];
        int produced = 0;
        FinishReason reason = FinishReason.MAX_TOKENS;
        StreamingText stream = new StreamingText(options.stopSequences(), onText);
        IncrementalText decoded = new IncrementalText(tokenizer);
        try (NoGradGuard noGrad = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            KvCache cache = model.newCache(promptIds.length + maxNew);
            SingleTokenDecoder decoder = singleTokenDecoder ? model.decoder() : null;
            AdapterWeights adapterWeights = adapter == null ? null : adapter.decodeWeights();
            if (adapter != null && adapterWeights == null) {
                decoder = null;
            }
            SingleTokenDecoder.State state = decoder == null ? null : decoder.newState(cache);
            long next;
            try (PointerScope scoped = new PointerScope()) {
                // the prompt in one batched pass through libtorch
                Tensor hidden = model.forward(Tensors.longs(promptIds, 1, promptIds.length), 0, cache, adapter);
                next = step.choose(Tensors.toFloats(model.logits(hidden.select(1, promptIds.length - 1).select(0, 0),
                        adapter)), maxNew - 1);
            }
            int position = promptIds.length;
            while (true) {
                if (stopIds.contains(next)) {
                    reason = FinishReason.STOP;
                    break;
                }
                out[produced++] = next;
                if (stream.update(decoded.append(next))) {
                    reason = FinishReason.STOP;
                    break;
                }
                if (produced == maxNew) {
                    // a constrained output that is whole could only be followed by a stop token
                    reason = step.constraintFinished() ? FinishReason.STOP : FinishReason.MAX_TOKENS;
                    break;
                }
                int left = maxNew - produced - 1;
                if (decoder != null) {
                    next = step.choose(decoder.next(state, (int) next, position, cache, adapterWeights), left);
                } else {
                    try (PointerScope scoped = new PointerScope()) {
                        Tensor hidden = model.forward(Tensors.longs(new long[]{next}, 1, 1), position, cache, adapter);
                        next = step.choose(Tensors.toFloats(model.logits(hidden.select(1, 0).select(0, 0), adapter)), left);
                    }
                }
                position++;
            }
        }
        long[] ids = Arrays.copyOf(out, produced);
        String text = stream.finish(tokenizer.decode(ids));
        return new GenerationResult(text, ids, promptIds.length, reason, step.logprobSum(), step.steps());
    }
}
