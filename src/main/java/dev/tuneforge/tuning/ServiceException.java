package dev.tuneforge.tuning;

import java.util.List;

/** A failure the API reports to the caller with a Google status code, and the details Google would add. */
public class ServiceException extends RuntimeException {
    /** Google's canonical codes with their HTTP statuses. */
    public enum Code {
        CANCELLED(499), INVALID_ARGUMENT(400), NOT_FOUND(404), ALREADY_EXISTS(409), PERMISSION_DENIED(403),
        UNAUTHENTICATED(401), RESOURCE_EXHAUSTED(429), FAILED_PRECONDITION(400), INTERNAL(500), UNAVAILABLE(503),
        DEADLINE_EXCEEDED(504);

        private final int httpStatus;

        Code(int httpStatus) {
            this.httpStatus = httpStatus;
        }

        public int httpStatus() {
            return httpStatus;
        }
    }

    private final Code code;
    private final List<ErrorDetail> details;

    public ServiceException(Code code, String message) {
        this(code, message, List.of());
    }

    public ServiceException(Code code, String message, List<ErrorDetail> details) {
        super(message);
        this.code = code;
        this.details = List.copyOf(details);
    }

    public Code code() {
        return code;
    }

    public List<ErrorDetail> details() {
        return details;
    }
}
