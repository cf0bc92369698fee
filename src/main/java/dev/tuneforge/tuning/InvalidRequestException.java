package dev.tuneforge.tuning;

import java.util.List;
import java.util.regex.Pattern;

/**
 * A request that breaks a documented limit (INVALID_ARGUMENT); the message names the field, and the details carry
 * it as a {@code BadRequest} field violation.
 */
public final class InvalidRequestException extends ServiceException {
    /** A field path as messages spell it: {@code generation_config.stop_sequences[2]}, {@code contents[0].parts}. */
    private static final Pattern PATH = Pattern.compile("[a-z][a-z0-9_]*(\\[\\d+])?(\\.[a-z][a-zA-Z0-9_]*(\\[\\d+])?)*");

    /** The field is {@code field} (a path, as in the message; null when the fault is not one field's). */
    public InvalidRequestException(String field, String message) {
        super(Code.INVALID_ARGUMENT, message, List.of(new ErrorDetail.FieldViolation(field, message)));
    }

    /**
     * The field is the path the message begins with, when it begins with one that cannot be an ordinary word (it has
     * a dot, an underscore or an index: {@code generation_config.top_p must be ...}); else no one field.
     */
    public InvalidRequestException(String message) {
        this(leadingPath(message), message);
    }

    private static String leadingPath(String message) {
        if (message == null) {
            return null;
        }
        int end = 0;
        while (end < message.length() && message.charAt(end) != ' ' && message.charAt(end) != ':') {
            end++;
        }
        String first = message.substring(0, end);
        boolean unmistakable = first.indexOf('.') >= 0 || first.indexOf('_') >= 0 || first.indexOf('[') >= 0;
        return unmistakable && PATH.matcher(first).matches() ? first : null;
    }
}
