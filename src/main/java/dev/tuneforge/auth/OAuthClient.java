package dev.tuneforge.auth;

import java.util.Set;

/**
 * An OAuth client as stored (never its secret): its projects, when it was created and disabled (null: enabled),
 * and the generation of its tokens — rotating the secret or disabling the client starts a new generation, and
 * a token of an older one is refused.
 */
public record OAuthClient(String clientId, Set<String> projects, String createTime, String disableTime,
                          long tokenGeneration) {
    public OAuthClient {
        projects = Set.copyOf(projects);
    }

    public boolean disabled() {
        return disableTime != null;
    }
}
