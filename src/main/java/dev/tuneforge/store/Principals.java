package dev.tuneforge.store;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Who a caller is for the permissions of tuned models: its user address (null for API keys) and the group addresses
 * it belongs to (its project's, and the groups an external issuer says), all lowercase. Every caller is also in
 * EVERYONE.
 */
public record Principals(String user, Set<String> groups) {
    public Principals {
        groups = Set.copyOf(new TreeSet<>(groups));
        if (groups.isEmpty()) {
            throw new IllegalArgumentException("a caller belongs to at least its project's group");
        }
    }

    List<String> groupList() {
        return List.copyOf(new TreeSet<>(groups));
    }
}
