package dev.tuneforge.tuning;

import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.train.TrainingExample;

import java.util.List;

/**
 * A create request's examples tokenized as training will tokenize them (the base model's prompt format), at create:
 * an example that does not fit the base model's context is refused then, naming it, instead of failing the job.
 */
final class TrainingTokens {
    private static final String EXAMPLES = "tuning_task.training_data.examples.examples";

    private TrainingTokens() {
    }

    /**
     * The tokens the job trains on — every example's, times {@code epochs} — or INVALID_ARGUMENT naming the first
     * example longer than {@code contextTokens} (its input alone, or input and output together).
     */
    static long count(PromptFormat format, int contextTokens, List<TrainingExample> examples, int epochs) {
        long perEpoch = 0;
        for (int i = 0; i < examples.size(); i++) {
            TrainingExample e = examples.get(i);
            PromptFormat.TrainingSequence s = format.trainingSequence(e.input(), e.output());
            if (s.labelStart() >= contextTokens) {
                String field = EXAMPLES + "[" + i + "].text_input";
                throw new InvalidRequestException(field, field + " takes " + s.labelStart() + " tokens as the model "
                        + "sees it; the base model's context is " + contextTokens + " tokens for input and output together");
            }
            if (s.length() > contextTokens) {
                String field = EXAMPLES + "[" + i + "].output";
                throw new InvalidRequestException(field, EXAMPLES + "[" + i + "] takes " + s.length() + " tokens ("
                        + s.labelStart() + " of input, " + (s.length() - s.labelStart()) + " of output); the base "
                        + "model's context is " + contextTokens + " tokens: shorten its output or input");
            }
            perEpoch += s.length();
        }
        return perEpoch * epochs;
    }
}
