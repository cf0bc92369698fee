package dev.tuneforge.auth;

import java.util.Set;

/**
 * Turns a request's credentials into a {@link Caller}: a bearer access token (preferred when both are sent) or
 * an API key ({@code x-goog-api-key} header or {@code key} query parameter). Returns null without credentials.
 */
public final class Authenticator {
    private final TokenService tokens;
    private final AuthStore store;
    private final LoginThrottle throttle;

    public Authenticator(TokenService tokens, AuthStore store, LoginThrottle throttle) {
        this.tokens = tokens;
        this.store = store;
        this.throttle = throttle;
    }

    public TokenService tokens() {
        return tokens;
    }

    public AuthStore store() {
        return store;
    }

    /** The brute-force defence of the endpoints that take a client secret. */
    public LoginThrottle throttle() {
        return throttle;
    }

    public Caller authenticate(String authorization, String apiKeyHeader, String apiKeyParam) {
        if (authorization != null && !authorization.isBlank()) {
            String[] parts = authorization.trim().split("\\s+", 2);
            if (parts.length != 2 || !parts[0].equalsIgnoreCase("Bearer")) {
                throw AuthException.invalidToken("the Authorization header must be 'Bearer <access token>'");
            }
            return tokens.verify(parts[1]);
        }
        String key = apiKeyHeader != null && !apiKeyHeader.isBlank() ? apiKeyHeader : apiKeyParam;
        if (key != null && !key.isBlank()) {
            String[] found = store.findApiKey(key.trim())
                    .orElseThrow(() -> AuthException.invalidApiKey("API key not valid. Please pass a valid API key. "
                            + "(unknown or revoked)"));
            return new Caller("apiKeys/" + found[0], Set.of(), Set.of(found[1]), true);
        }
        return null;
    }
}
