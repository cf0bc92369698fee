package dev.tuneforge.auth;

import java.util.Set;

/** An authenticated caller: who (client id, token subject or API key id), with what scopes, in which projects. */
public record Caller(String subject, Set<String> scopes, Set<String> projects, boolean apiKey) {
    public boolean canTune() {
        return !apiKey && Scopes.allowTuning(scopes);
    }
}
