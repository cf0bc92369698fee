package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.tuning.ErrorDetail;
import dev.tuneforge.tuning.FieldNames;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * An error's {@code details} as Google writes them: each a {@code google.rpc} message with its {@code @type}. Field
 * violations of one error go into one {@code BadRequest}; every {@code ErrorInfo} is in the {@code googleapis.com}
 * domain with {@code service} {@code generativelanguage.googleapis.com}, and, for the reasons whose metadata Google
 * gives the method (the credential reasons), the RPC method called.
 */
final class ErrorDetailsJson {
    static final String SERVICE = "generativelanguage.googleapis.com";
    private static final String TYPE_PREFIX = "type.googleapis.com/google.rpc.";
    private static final Set<String> REASONS_NAMING_THE_METHOD = Set.of("CREDENTIALS_MISSING",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED", "ACCESS_TOKEN_EXPIRED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT");

    private ErrorDetailsJson() {
    }

    /** The details array, or null when there are none; {@code rpcMethod} may be null (no such RPC). */
    static ArrayNode render(List<ErrorDetail> details, String rpcMethod) {
        if (details.isEmpty()) {
            return null;
        }
        ArrayNode out = GoogleJson.MAPPER.createArrayNode();
        ArrayNode fieldViolations = null;
        for (ErrorDetail detail : details) {
            switch (detail) {
                case ErrorDetail.ErrorInfo info -> out.add(errorInfo(info, rpcMethod));
                case ErrorDetail.FieldViolation v -> {
                    if (fieldViolations == null) {
                        fieldViolations = typed(out.addObject(), "BadRequest").putArray("fieldViolations");
                    }
                    ObjectNode n = fieldViolations.addObject();
                    if (v.field() != null) {
                        n.put("field", jsonPath(v.field()));
                    }
                    n.put("description", v.description());
                }
                case ErrorDetail.QuotaViolation q -> typed(out.addObject(), "QuotaFailure").putArray("violations")
                        .addObject().put("subject", q.subject()).put("description", q.description())
                        .put("apiService", SERVICE).put("quotaMetric", q.quotaMetric()).put("quotaId", q.quotaId())
                        .put("quotaValue", Long.toString(q.quotaValue()));
                case ErrorDetail.RetryInfo r -> typed(out.addObject(), "RetryInfo")
                        .put("retryDelay", r.seconds() + "s");
            }
        }
        return out;
    }

    private static ObjectNode errorInfo(ErrorDetail.ErrorInfo info, String rpcMethod) {
        Map<String, String> metadata = new TreeMap<>(info.metadata());
        metadata.put("service", SERVICE);
        if (rpcMethod != null && REASONS_NAMING_THE_METHOD.contains(info.reason())) {
            metadata.put("method", rpcMethod);
        }
        ObjectNode n = typed(GoogleJson.MAPPER.createObjectNode(), "ErrorInfo").put("reason", info.reason())
                .put("domain", "googleapis.com");
        metadata.forEach(n.putObject("metadata")::put);
        return n;
    }

    private static ObjectNode typed(ObjectNode n, String type) {
        return n.put("@type", TYPE_PREFIX + type);
    }

    /**
     * A field path in JSON's spelling, as {@code BadRequest.FieldViolation.field} is given in JSON:
     * {@code tuning_task.training_data.examples.examples[3].text_input} →
     * {@code tuningTask.trainingData.examples.examples[3].textInput}.
     */
    static String jsonPath(String path) {
        StringBuilder out = new StringBuilder(path.length());
        for (String segment : path.split("\\.", -1)) {
            if (!out.isEmpty()) {
                out.append('.');
            }
            out.append(FieldNames.camelCase(segment));
        }
        return out.toString();
    }
}
