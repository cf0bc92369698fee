package dev.tuneforge.store;

/** A tuned model row: its metadata, hyperparameters, training data (JSON) and its tuning job's progress. */
public record TunedModelRecord(
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
        boolean cancelRequested) {

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
}
