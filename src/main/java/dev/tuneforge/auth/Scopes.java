package dev.tuneforge.auth;

import java.util.Set;

/** The OAuth scopes of the tuning API. */
public final class Scopes {
    public static final String TUNING = "https://www.googleapis.com/auth/generative-language.tuning";
    public static final String CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform";
    public static final Set<String> ALL = Set.of(TUNING, CLOUD_PLATFORM);

    private Scopes() {
    }

    /** Whether the scopes allow tuning calls. */
    public static boolean allowTuning(Set<String> scopes) {
        return scopes.contains(TUNING) || scopes.contains(CLOUD_PLATFORM);
    }
}
