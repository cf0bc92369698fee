package dev.tuneforge.engine.model;

/** Picks the {@link BatchDecoder} for a model. */
public final class BatchDecoders {
    private BatchDecoders() {
    }

    /**
     * The batch decoder for {@code model}. Today the portable {@link FallbackBatchDecoder}; the native batched team
     * decoder, where it can run, is to be preferred here. Cheap to call: every generation outside a server's
     * scheduler (the CLI's {@code generate}, library callers) makes its own.
     */
    public static BatchDecoder forModel(LlamaModel model) {
        return new FallbackBatchDecoder(model, true, "the native batched decoder is not built in");
    }
}
