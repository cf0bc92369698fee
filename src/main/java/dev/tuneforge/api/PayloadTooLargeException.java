package dev.tuneforge.api;

import java.io.IOException;

/**
 * A request body past its limit, raised by the read that passes it. An IOException, so that Jetty's input stream
 * and Jackson hand it on as it is; the API answers it as Google does, 400 INVALID_ARGUMENT.
 */
public final class PayloadTooLargeException extends IOException {
    public PayloadTooLargeException(long limitBytes) {
        super("request payload size exceeds the limit: " + limitBytes + " bytes");
    }
}
