package dev.tuneforge.tuning;

/** The fields of a tuned model that {@code tunedModels.patch} may change, validated as create validates them. */
public record TunedModelPatch(String displayName, String description, Double temperature, Double topP, Integer topK) {
    TunedModelPatch withDisplayName(String v) {
        return new TunedModelPatch(v, description, temperature, topP, topK);
    }

    TunedModelPatch withDescription(String v) {
        return new TunedModelPatch(displayName, v, temperature, topP, topK);
    }

    TunedModelPatch withTemperature(Double v) {
        return new TunedModelPatch(displayName, description, v, topP, topK);
    }

    TunedModelPatch withTopP(Double v) {
        return new TunedModelPatch(displayName, description, temperature, v, topK);
    }

    TunedModelPatch withTopK(Integer v) {
        return new TunedModelPatch(displayName, description, temperature, topP, v);
    }
}
