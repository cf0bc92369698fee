package dev.tuneforge.store;

import org.jdbi.v3.core.statement.SqlStatement;

/**
 * The SQL condition "this permission row (alias {@code p}) is granted to the caller", with its bindings, shared by
 * every query that decides access so that they all decide it the same way.
 */
final class GranteeMatch {
    /** Rank of a role row, to take the highest of several grants with MAX. */
    static final String ROLE_RANK = "CASE p.role WHEN 'OWNER' THEN 3 WHEN 'WRITER' THEN 2 ELSE 1 END";

    private GranteeMatch() {
    }

    /** Granted to the caller by name: as a user or to one of its groups. */
    static String direct() {
        return "((p.grantee_type = 'USER' AND p.email_address = :principalUser) "
                + "OR (p.grantee_type = 'GROUP' AND p.email_address IN (<principalGroups>)))";
    }

    /** Granted to the caller by name or to everyone. */
    static String any() {
        return "(p.grantee_type = 'EVERYONE' OR " + direct() + ")";
    }

    static <S extends SqlStatement<S>> S bind(S statement, Principals principals) {
        // '' never matches a USER row (a user grant always has an address): an API key has no user
        return statement.bind("principalUser", principals.user() == null ? "" : principals.user())
                .bindList("principalGroups", principals.groupList());
    }

    static Permission.Role role(int rank) {
        return switch (rank) {
            case 3 -> Permission.Role.OWNER;
            case 2 -> Permission.Role.WRITER;
            default -> Permission.Role.READER;
        };
    }
}
