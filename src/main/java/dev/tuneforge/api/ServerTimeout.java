package dev.tuneforge.api;

import dev.tuneforge.tuning.InvalidRequestException;
import io.javalin.http.Context;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * A request's deadline: Google's {@code X-Server-Timeout} system parameter (seconds the server may spend on the
 * request; the Gen AI SDKs send it from their timeout option). A generation still running when it passes ends with
 * 504 DEADLINE_EXCEEDED.
 */
final class ServerTimeout {
    static final String HEADER = "X-Server-Timeout";

    private ServerTimeout() {
    }

    /** The request's timeout, or null when it sets none; a value that is not a positive number is refused. */
    static Duration of(Context ctx) {
        String value = ctx.header(HEADER);
        if (value == null || value.isBlank()) {
            return null;
        }
        BigDecimal seconds;
        try {
            seconds = new BigDecimal(value.trim());
        } catch (NumberFormatException e) {
            throw new InvalidRequestException(HEADER + " must be a number of seconds, got '" + value + "'");
        }
        if (seconds.signum() <= 0 || seconds.compareTo(BigDecimal.valueOf(86_400L * 365)) > 0) {
            throw new InvalidRequestException(HEADER + " must be a positive number of seconds (at most a year), got '"
                    + value + "'");
        }
        return Duration.ofNanos(seconds.movePointRight(9).longValue());
    }
}
