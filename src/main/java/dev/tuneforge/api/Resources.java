package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.store.Snapshot;
import dev.tuneforge.store.TunedModelRecord;

import java.util.List;

/** Renders resources as the Gemini API's JSON (lowerCamelCase, unset fields omitted). */
final class Resources {
    static final String METADATA_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.CreateTunedModelMetadata";
    static final String TUNED_MODEL_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta.TunedModel";

    private Resources() {
    }

    static ObjectNode tunedModel(TunedModelRecord r, List<Snapshot> snapshots) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("name", r.name());
        putIfSet(n, "displayName", r.displayName());
        putIfSet(n, "description", r.description());
        if (r.sourceTunedModel() != null) {
            n.putObject("tunedModelSource").put("tunedModel", r.sourceTunedModel()).put("baseModel", r.baseModel());
        } else {
            n.put("baseModel", r.baseModel());
        }
        if (r.damaged()) {
            // unusable until its adapter can be read again; the model's own record still says ACTIVE
            n.put("state", "FAILED");
            n.putObject("error").put("code", 13).put("message", r.name() + " is damaged: " + r.damageReason())
                    .put("status", "INTERNAL");
        } else {
            n.put("state", r.state().name());
        }
        n.put("createTime", r.createTime());
        n.put("updateTime", r.updateTime());
        if (r.temperature() != null) {
            n.put("temperature", r.temperature());
        }
        if (r.topP() != null) {
            n.put("topP", r.topP());
        }
        if (r.topK() != null) {
            n.put("topK", r.topK());
        }
        ObjectNode task = n.putObject("tuningTask");
        putIfSet(task, "startTime", r.startTime());
        putIfSet(task, "completeTime", r.completeTime());
        if (!snapshots.isEmpty()) {
            task.set("snapshots", snapshots(snapshots));
        }
        ObjectNode hp = task.putObject("hyperparameters");
        hp.put("epochCount", r.epochCount());
        hp.put("batchSize", r.batchSize());
        if (r.learningRateMultiplier() != null) {
            hp.put("learningRateMultiplier", r.learningRateMultiplier());
        } else {
            hp.put("learningRate", r.effectiveLearningRate());
        }
        return n;
    }

    static ArrayNode snapshots(List<Snapshot> snapshots) {
        ArrayNode arr = GoogleJson.MAPPER.createArrayNode();
        for (Snapshot s : snapshots) {
            arr.addObject().put("step", s.step()).put("epoch", s.epoch()).put("meanLoss", s.meanLoss())
                    .put("computeTime", s.computeTime());
        }
        return arr;
    }

    /** The create call's answer: only totalSteps and tunedModel in the metadata, as Google returns it. */
    static ObjectNode createdOperation(TunedModelRecord r) {
        ObjectNode op = GoogleJson.MAPPER.createObjectNode();
        op.put("name", r.operationName());
        op.putObject("metadata").put("@type", METADATA_TYPE).put("totalSteps", r.totalSteps())
                .put("tunedModel", r.name());
        return op;
    }

    static ObjectNode operation(TunedModelRecord r, List<Snapshot> snapshots) {
        ObjectNode op = GoogleJson.MAPPER.createObjectNode();
        op.put("name", r.operationName());
        ObjectNode meta = op.putObject("metadata");
        meta.put("@type", METADATA_TYPE);
        meta.put("totalSteps", r.totalSteps());
        if (r.completedSteps() > 0) {
            meta.put("completedSteps", r.completedSteps());
            meta.put("completedPercent", 100.0 * r.completedSteps() / r.totalSteps());
        }
        meta.put("tunedModel", r.name());
        if (!snapshots.isEmpty()) {
            meta.set("snapshots", snapshots(snapshots));
        }
        if (r.done()) {
            op.put("done", true);
            if (r.state() == TunedModelRecord.State.ACTIVE) {
                ObjectNode response = GoogleJson.MAPPER.createObjectNode().put("@type", TUNED_MODEL_TYPE);
                response.setAll(tunedModel(r, snapshots));
                op.set("response", response);
            } else {
                op.putObject("error").put("code", r.errorCode() == null ? 13 : r.errorCode())
                        .put("message", r.errorMessage() == null ? "tuning failed" : r.errorMessage());
            }
        }
        return op;
    }

    static ObjectNode model(String id, BaseModelCatalog catalog) {
        BaseModelCatalog.Entry e = catalog.resolve(id);
        ModelConfig config = catalog.directory(e).config();
        var gen = catalog.directory(e).generationConfig();
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("name", "models/" + id);
        n.put("baseModelId", id);
        n.put("version", "001");
        if (catalog.isAlias(id)) {
            n.put("displayName", id + " (alias of models/" + e.id() + ")");
            n.put("description", "Alias served by models/" + e.id() + ": " + e.description());
        } else {
            n.put("displayName", e.displayName());
            n.put("description", e.description());
        }
        n.put("inputTokenLimit", config.maxPositionEmbeddings());
        n.put("outputTokenLimit", config.maxPositionEmbeddings());
        n.putArray("supportedGenerationMethods").add("generateContent").add("streamGenerateContent")
                .add("countTokens").add("createTunedModel");
        n.put("temperature", gen.path("temperature").asDouble(GenerateContent.DEFAULT_TEMPERATURE));
        n.put("topP", gen.path("top_p").asDouble(GenerateContent.DEFAULT_TOP_P));
        n.put("topK", gen.path("top_k").asInt(GenerateContent.DEFAULT_TOP_K));
        return n;
    }

    private static void putIfSet(ObjectNode n, String field, String value) {
        if (value != null) {
            n.put(field, value);
        }
    }
}
