package dev.tuneforge.tuning;

/** A request that breaks a documented limit; the message names the field. */
public final class InvalidRequestException extends ServiceException {
    public InvalidRequestException(String message) {
        super(Code.INVALID_ARGUMENT, message);
    }
}
