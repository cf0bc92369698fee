package dev.tuneforge.tuning;

/** A failure the API reports to the caller with a Google status code. */
public class ServiceException extends RuntimeException {
    /** Google's canonical codes with their HTTP statuses. */
    public enum Code {
        CANCELLED(499), INVALID_ARGUMENT(400), NOT_FOUND(404), ALREADY_EXISTS(409), PERMISSION_DENIED(403),
        UNAUTHENTICATED(401), RESOURCE_EXHAUSTED(429), FAILED_PRECONDITION(400), INTERNAL(500), UNAVAILABLE(503);

        private final int httpStatus;

        Code(int httpStatus) {
            this.httpStatus = httpStatus;
        }

        public int httpStatus() {
            return httpStatus;
        }
    }

    private final Code code;

    public ServiceException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
