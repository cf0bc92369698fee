package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.tuning.ErrorDetail;

import java.util.List;
import java.util.stream.Stream;

/**
 * Google's error body, a {@code google.rpc.Status}: {@code {"error": {"code", "message", "status", "details"}}}, for
 * the handlers' errors and Jetty's.
 */
final class GoogleError {
    private GoogleError() {
    }

    static String json(int httpStatus, String status, String message) {
        return json(httpStatus, status, message, List.of(), null);
    }

    /**
     * With {@code details} ({@code rpcMethod}, the RPC called, is null when unknown). An INVALID_ARGUMENT always has a
     * BadRequest or an ErrorInfo: one without either gets a BadRequest whose violation names no one field.
     */
    static String json(int httpStatus, String status, String message, List<ErrorDetail> details, String rpcMethod) {
        if (status.equals("INVALID_ARGUMENT") && details.stream().noneMatch(d -> d instanceof ErrorDetail.FieldViolation
                || d instanceof ErrorDetail.ErrorInfo)) {
            details = Stream.concat(details.stream(), Stream.of(new ErrorDetail.FieldViolation(null, message))).toList();
        }
        ObjectNode root = GoogleJson.MAPPER.createObjectNode();
        ObjectNode error = root.putObject("error").put("code", httpStatus).put("message", message).put("status", status);
        ArrayNode rendered = ErrorDetailsJson.render(details, rpcMethod);
        if (rendered != null) {
            error.set("details", rendered);
        }
        return root.toString();
    }

    /** The canonical status of an HTTP status that no handler chose (Jetty's own errors): the nearest Google code. */
    static String statusOf(int httpStatus) {
        return switch (httpStatus) {
            case 401 -> "UNAUTHENTICATED";
            case 403 -> "PERMISSION_DENIED";
            case 404, 405 -> "NOT_FOUND";
            case 409 -> "ALREADY_EXISTS";
            case 429 -> "RESOURCE_EXHAUSTED";
            case 503 -> "UNAVAILABLE";
            default -> httpStatus >= 500 ? "INTERNAL" : "INVALID_ARGUMENT";
        };
    }
}
