package dev.tuneforge.engine;

import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.generate.TextGenerator;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.UntrainedTokenCheck;
import org.slf4j.LoggerFactory;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.Set;
import java.util.function.Consumer;

/**
 * A loaded base model with its tokenizer and prompt format: the one shared object that trainers and every tuned
 * model's generation use.
 */
public final class BaseModel implements AutoCloseable {
    private final HfModelDirectory directory;
    private final LlamaModel model;
    private final TextTokenizer tokenizer;
    private final PromptFormat promptFormat;
    private final TextGenerator generator;
    private volatile dev.tuneforge.engine.generate.json.TokenVocabulary vocabulary;

    public BaseModel(HfModelDirectory directory, ScalarType dtype) {
        this(directory, dtype, null);
    }

    /** {@code preparedWeights}: where the matrices are prepared and mapped from, or null to hold them in memory. */
    public BaseModel(HfModelDirectory directory, ScalarType dtype, Path preparedWeights) {
        this.directory = directory;
        this.model = LlamaModel.load(directory, dtype, preparedWeights);
        this.tokenizer = new TextTokenizer(directory);
        this.promptFormat = new PromptFormat(tokenizer);
        this.generator = new TextGenerator(model, tokenizer);
        warnAboutUntrainedSpecialTokens();
        SingleTokenDecoder decoder = model.decoder();
        if (decoder != null) {
            LoggerFactory.getLogger(BaseModel.class).info("{}: single-token decoder: {}", directory.path(),
                    decoder.loop());
        }
    }

    private void warnAboutUntrainedSpecialTokens() {
        long[] special = tokenizer.specialTokens().values().stream().mapToLong(Integer::longValue).toArray();
        var suspicious = UntrainedTokenCheck.suspicious(model, special);
        if (!suspicious.isEmpty()) {
            LoggerFactory.getLogger(BaseModel.class).warn("{}: the embedding rows of special tokens {} look untrained "
                    + "(norm far from the vocabulary's median); tuning trains the rows of the tokens its prompt format "
                    + "adds, and a chat template using others may not work on this base", directory.path(), suspicious);
        }
    }

    public static BaseModel load(Path dir) {
        return new BaseModel(new HfModelDirectory(dir), ScalarType.Float);
    }

    public HfModelDirectory directory() {
        return directory;
    }

    public LlamaModel model() {
        return model;
    }

    public TextTokenizer tokenizer() {
        return tokenizer;
    }

    public PromptFormat promptFormat() {
        return promptFormat;
    }

    /** Answers {@code input} as a tuned model does: the training prompt format, stopping at its stop tokens. */
    public GenerationResult answer(String input, Adapter adapter, GenerationOptions options, Consumer<String> onText) {
        return generator.generate(promptFormat.promptIds(input), adapter, options, promptFormat.stopIds(), onText);
    }

    /** Generates after {@code promptIds}, with or without an adapter, until a token of {@code stopIds}. */
    public GenerationResult generate(long[] promptIds, Adapter adapter, GenerationOptions options, Set<Long> stopIds,
                                     Consumer<String> onText) {
        return generator.generate(promptIds, adapter, options, stopIds, onText);
    }

    /** The ids that end a continuation of plain text: the model's EOS ids. */
    public Set<Long> eosIds() {
        Set<Long> stops = new java.util.LinkedHashSet<>();
        tokenizer.eosIds().forEach(i -> stops.add((long) i));
        return stops;
    }

    /** Every token's text in tries, for constrained decoding; built on first use. */
    public dev.tuneforge.engine.generate.json.TokenVocabulary vocabulary() {
        var v = vocabulary;
        if (v == null) {
            synchronized (this) {
                if (vocabulary == null) {
                    vocabulary = new dev.tuneforge.engine.generate.json.TokenVocabulary(tokenizer);
                }
                v = vocabulary;
            }
        }
        return v;
    }

    /** Continues {@code text} as given (BOS + text), as a base model without a chat template is served. */
    public GenerationResult continueText(String text, GenerationOptions options, Consumer<String> onText) {
        return generator.generate(tokenizer.encode(text, true), null, options, eosIds(), onText);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
