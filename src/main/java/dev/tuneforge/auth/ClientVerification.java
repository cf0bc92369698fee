package dev.tuneforge.auth;

/** The outcome of checking a client id and secret at the token or revocation endpoint. */
public sealed interface ClientVerification {
    /** The secret is right and the client enabled. */
    record Verified(OAuthClient client) implements ClientVerification {
    }

    /** The secret is right but the client is disabled. */
    record Disabled(String clientId) implements ClientVerification {
    }

    /** No such client, or a wrong secret (deliberately not told apart). */
    record Rejected() implements ClientVerification {
    }
}
