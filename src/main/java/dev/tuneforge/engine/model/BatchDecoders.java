package dev.tuneforge.engine.model;

/** Picks the {@link BatchDecoder} for a model. */
public final class BatchDecoders {
    private BatchDecoders() {
    }

    /**
     * The batch decoder for {@code model}: the native batched team decoder ({@link TeamBatchDecoder}) where it can run,
     * else the portable {@link FallbackBatchDecoder}, which says why in its {@link BatchDecoder#describe()}. Cheap to
     * call: every generation outside a server's scheduler (the CLI's {@code generate}, library callers) makes its own.
     */
    public static BatchDecoder forModel(LlamaModel model) {
        BatchDecoder team = model.batchDecoder();
        if (team != null) {
            return team;
        }
        String why = TeamBatchDecoder.unavailableReason();
        return new FallbackBatchDecoder(model, true, "the native batched decoder does not run here: "
                + (why != null ? why : "the weights' dtype has no batched product"));
    }
}
