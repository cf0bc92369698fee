package dev.tuneforge.auth;

import dev.tuneforge.store.Permission;
import dev.tuneforge.store.Principals;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * How the email addresses of Google's permissions name Tuneforge's callers. A USER address is an OAuth client of
 * this server ({@code CLIENT_ID@clients.tuneforge}) or a user of the external issuer (the address its token's email
 * claim carries); a GROUP address is a project ({@code PROJECT@projects.tuneforge}: every caller acting for it, API
 * keys included) or a group the external issuer's token lists. Addresses compare case-insensitively.
 */
public final class Identities {
    public static final String CLIENT_DOMAIN = "clients.tuneforge";

    private Identities() {
    }

    /** The user address of an OAuth client of this server. */
    public static String clientAddress(String clientId) {
        return normalized(clientId) + "@" + CLIENT_DOMAIN;
    }

    /** An address as stored and compared: trimmed, lowercase. */
    public static String normalized(String address) {
        return address.trim().toLowerCase(Locale.ROOT);
    }

    /** Whether {@code address} (normalized) is a project's group address. */
    public static boolean isProjectAddress(String address) {
        return address.endsWith("@" + Permission.PROJECT_DOMAIN);
    }

    /** Who {@code caller}, acting for {@code project}, is for the permissions of tuned models. */
    public static Principals principals(Caller caller, String project) {
        Set<String> groups = new HashSet<>();
        groups.add(Permission.projectAddress(project));
        caller.groups().forEach(g -> groups.add(normalized(g)));
        return new Principals(caller.userAddress() == null ? null : normalized(caller.userAddress()), groups);
    }
}
