package dev.tuneforge.tuning;

import dev.tuneforge.engine.train.TrainingExample;

import java.util.List;

/** A validated {@code tunedModels.create} request. */
public record TuningRequest(String tunedModelId, String displayName, String description, String baseModel,
                            String sourceTunedModel, int epochCount, int batchSize, Double learningRate,
                            Double learningRateMultiplier, Double temperature, Double topP, Integer topK,
                            List<TrainingExample> examples) {
}
