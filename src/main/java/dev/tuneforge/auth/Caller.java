package dev.tuneforge.auth;

import java.util.Set;

/**
 * An authenticated caller: who (client id, token subject or API key id), with what scopes, in which projects; for
 * sharing, its user address ({@link Identities}; null for an API key) and the groups an external issuer puts it in.
 */
public record Caller(String subject, Set<String> scopes, Set<String> projects, boolean apiKey, String userAddress,
                     Set<String> groups) {
    public Caller {
        groups = groups == null ? Set.of() : Set.copyOf(groups);
    }

    /** A caller without a user address or groups (an API key). */
    public Caller(String subject, Set<String> scopes, Set<String> projects, boolean apiKey) {
        this(subject, scopes, projects, apiKey, null, Set.of());
    }

    public boolean canTune() {
        return !apiKey && Scopes.allowTuning(scopes);
    }
}
