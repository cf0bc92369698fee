package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ObjectNode;

/** Google's error body, {@code {"error": {"code", "message", "status"}}}, for the handlers' errors and Jetty's. */
final class GoogleError {
    private GoogleError() {
    }

    static String json(int httpStatus, String status, String message) {
        ObjectNode root = GoogleJson.MAPPER.createObjectNode();
        root.putObject("error").put("code", httpStatus).put("message", message).put("status", status);
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
