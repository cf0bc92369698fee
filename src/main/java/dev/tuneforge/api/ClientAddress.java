package dev.tuneforge.api;

import io.javalin.http.Context;

/** The address a request comes from, as the login throttle and its log lines see it. */
final class ClientAddress {
    private ClientAddress() {
    }

    /** The peer's address (the one place to teach about trusted proxies and X-Forwarded-For). */
    static String of(Context ctx) {
        return ctx.ip();
    }
}
