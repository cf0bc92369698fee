package dev.tuneforge.api;

import io.javalin.http.Context;

/**
 * Where a request comes from, as the rest of the code should ask for it (rate limits, logs): the client's address
 * and the scheme it used. X-Forwarded-For and X-Forwarded-Proto count only from a configured trusted proxy; the
 * {@link TrustedProxies} customizer has already applied them to the request when a handler runs, so Javalin's
 * {@code ctx.ip()} and {@code ctx.scheme()} give the answer.
 */
final class ClientAddress {
    private ClientAddress() {
    }

    /** The client's IP address: the peer's, or the one a trusted proxy forwarded. */
    static String of(Context ctx) {
        return ctx.ip();
    }

    /** {@code https} or {@code http}: as the client reached this server or, behind a trusted proxy, the proxy. */
    static String scheme(Context ctx) {
        return ctx.scheme();
    }
}
