package dev.tuneforge.api;

import java.time.Duration;

/** An error of the OAuth endpoints, answered as RFC 6749 §5.2 says: {@code {"error", "error_description"}}. */
final class OAuthException extends RuntimeException {
    final int status;
    final String error;
    /** Seconds for a Retry-After header; 0: none. */
    final long retryAfterSeconds;
    /** Whether to answer with a WWW-Authenticate challenge (RFC 6749: when the client tried HTTP Basic). */
    final boolean basicChallenge;

    private OAuthException(int status, String error, String description, long retryAfterSeconds, boolean basicChallenge) {
        super(description);
        this.status = status;
        this.error = error;
        this.retryAfterSeconds = retryAfterSeconds;
        this.basicChallenge = basicChallenge;
    }

    static OAuthException invalidClient(String description, boolean basicChallenge) {
        return new OAuthException(401, "invalid_client", description, 0, basicChallenge);
    }

    static OAuthException invalidRequest(String description) {
        return new OAuthException(400, "invalid_request", description, 0, false);
    }

    static OAuthException unsupportedGrantType(String description) {
        return new OAuthException(400, "unsupported_grant_type", description, 0, false);
    }

    static OAuthException invalidScope(String description) {
        return new OAuthException(400, "invalid_scope", description, 0, false);
    }

    /**
     * 429 with {@code slow_down}: RFC 6749 has no code for a throttled client; RFC 8628 §3.5 defines this one for a
     * client that must ask less often, which is what is meant.
     */
    static OAuthException slowDown(Duration wait) {
        long seconds = Math.max(1, (wait.toMillis() + 999) / 1000);
        return new OAuthException(429, "slow_down", "too many failed client authentications for this client id or "
                + "from this address; retry after " + seconds + " seconds", seconds, false);
    }
}
