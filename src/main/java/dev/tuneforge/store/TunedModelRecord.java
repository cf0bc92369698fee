package dev.tuneforge.store;

/**
 * A tuned model row: its metadata, hyperparameters, training data (JSON) and its tuning job's progress. {@code id}
 * is the public id, unique within its project; {@code uid} the internal one that names its files and its job.
 */
public record TunedModelRecord(
        String uid,
        String id,
        String project,
        String operationId,
        String displayName,
        String description,
        String baseModel,
        String sourceTunedModel,
        State state,
        String createTime,
        String updateTime,
        Double temperature,
        Double topP,
        Integer topK,
        int epochCount,
        int batchSize,
        Double learningRate,
        Double learningRateMultiplier,
        double effectiveLearningRate,
        String trainingExamplesJson,
        int totalSteps,
        int completedSteps,
        String startTime,
        String completeTime,
        Integer errorCode,
        String errorMessage,
        boolean cancelRequested,
        String damageReason) {

    /** Lifecycle, with the Gemini API's names. */
    public enum State { CREATING, ACTIVE, FAILED }

    public String name() {
        return "tunedModels/" + id;
    }

    public String operationName() {
        return name() + "/operations/" + operationId;
    }

    public boolean done() {
        return state != State.CREATING;
    }

    /** Whether its adapter could not be read the last time it was loaded (it stays unusable until it can). */
    public boolean damaged() {
        return damageReason != null;
    }
}
