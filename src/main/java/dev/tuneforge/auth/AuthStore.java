package dev.tuneforge.auth;

import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/** Projects, OAuth clients and API keys in the metadata database; secrets only as hashes. */
public final class AuthStore {
    /** Compared against when the client id is unknown, so that an unknown id takes as long as a wrong secret. */
    private static final String UNKNOWN_CLIENT_HASH = Secrets.hash(Secrets.random("", 32));
    private final Jdbi jdbi;

    /** A new client's credentials; the secret exists only here and in the client file. */
    public record ClientCredentials(String clientId, String clientSecret) {
    }

    /** An API key as listed (never the key itself). */
    public record ApiKey(String id, String project, String displayName, String createdBy, String createTime,
                         String revokeTime) {
    }

    public AuthStore(Database db) {
        this.jdbi = db.jdbi();
    }

    public void ensureProject(String project) {
        if (!project.matches("[a-z][a-z0-9-]{2,61}[a-z0-9]|[a-z0-9][a-z0-9._-]{0,199}")) {
            throw new IllegalArgumentException("project id '" + project + "' must be lowercase letters, digits, dashes, dots or underscores");
        }
        jdbi.useTransaction(h -> {
            if (h.createQuery("SELECT COUNT(*) FROM projects WHERE id = :id").bind("id", project).mapTo(Integer.class).one() == 0) {
                h.createUpdate("INSERT INTO projects (id, create_time) VALUES (:id, :t)").bind("id", project)
                        .bind("t", Instant.now().toString()).execute();
            }
        });
    }

    /** Creates an OAuth client that belongs to {@code project} (created when new). */
    public ClientCredentials createClient(String project) {
        ensureProject(project);
        String id = Secrets.random("tfc-", 12);
        String secret = Secrets.random("tfs-", 32);
        jdbi.useTransaction(h -> {
            h.createUpdate("INSERT INTO oauth_clients (client_id, secret_hash, create_time) VALUES (:id, :hash, :t)")
                    .bind("id", id).bind("hash", Secrets.hash(secret)).bind("t", Instant.now().toString()).execute();
            h.createUpdate("INSERT INTO client_projects (client_id, project) VALUES (:id, :p)").bind("id", id)
                    .bind("p", project).execute();
        });
        return new ClientCredentials(id, secret);
    }

    public void addClientToProject(String clientId, String project) {
        ensureProject(project);
        jdbi.useHandle(h -> h.createUpdate("INSERT INTO client_projects (client_id, project) VALUES (:id, :p)")
                .bind("id", clientId).bind("p", project).execute());
    }

    /**
     * Checks a client's secret. The secret is compared in constant time, and an unknown client id costs the same
     * hash and comparison as a known one, so timing tells neither the secret nor whether the id exists; whether
     * the client is disabled is told only to a caller that had the right secret.
     */
    public ClientVerification verifyClient(String clientId, String secret) {
        return jdbi.withHandle(h -> {
            // the hash and the token generation come from one read: a token never gets a generation that a
            // rotation gave a newer secret
            Optional<ClientRow> row = loadClient(h, clientId);
            boolean matches = Secrets.matches(secret, row.map(ClientRow::secretHash).orElse(UNKNOWN_CLIENT_HASH));
            if (row.isEmpty() || !matches) {
                return new ClientVerification.Rejected();
            }
            OAuthClient client = row.get().client();
            return client.disabled() ? new ClientVerification.Disabled(clientId) : new ClientVerification.Verified(client);
        });
    }

    /** The client {@code clientId}, when it exists. */
    public Optional<OAuthClient> findClient(String clientId) {
        return jdbi.withHandle(h -> findClient(h, clientId));
    }

    static Optional<OAuthClient> findClient(Handle h, String clientId) {
        return loadClient(h, clientId).map(ClientRow::client);
    }

    private record ClientRow(OAuthClient client, String secretHash) {
    }

    private static Optional<ClientRow> loadClient(Handle h, String clientId) {
        Set<String> projects = new TreeSet<>(h.createQuery("SELECT project FROM client_projects WHERE client_id = :id")
                .bind("id", clientId).mapTo(String.class).list());
        return h.createQuery("SELECT client_id, create_time, disable_time, token_generation, secret_hash FROM oauth_clients "
                        + "WHERE client_id = :id").bind("id", clientId)
                .map((rs, ctx) -> new ClientRow(new OAuthClient(rs.getString(1), projects, rs.getString(2), rs.getString(3),
                        rs.getLong(4)), rs.getString(5)))
                .findOne();
    }

    /** Creates an API key of {@code project}; returns {id, key}. The key is shown once and stored as a hash. */
    public String[] createApiKey(String project, String displayName, String createdBy) {
        String id = Secrets.random("", 9).toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9]", "x");
        String key = Secrets.random("tfk-", 32);
        jdbi.useHandle(h -> h.createUpdate("INSERT INTO api_keys (id, key_hash, project, display_name, created_by, create_time) "
                        + "VALUES (:id, :hash, :p, :n, :by, :t)")
                .bind("id", id).bind("hash", Secrets.hash(key)).bind("p", project).bind("n", displayName)
                .bind("by", createdBy).bind("t", Instant.now().toString()).execute());
        return new String[]{id, key};
    }

    public List<ApiKey> listApiKeys(String project) {
        return jdbi.withHandle(h -> h.createQuery("SELECT id, project, display_name, created_by, create_time, revoke_time "
                        + "FROM api_keys WHERE project = :p ORDER BY create_time, id").bind("p", project)
                .map((rs, ctx) -> new ApiKey(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                        rs.getString(5), rs.getString(6))).list());
    }

    public boolean revokeApiKey(String project, String id) {
        return jdbi.withHandle(h -> h.createUpdate("UPDATE api_keys SET revoke_time = :t WHERE id = :id AND project = :p "
                        + "AND revoke_time IS NULL").bind("t", Instant.now().toString()).bind("id", id).bind("p", project)
                .execute() > 0);
    }

    /** The key's {id, project} when it exists and is not revoked. */
    public Optional<String[]> findApiKey(String key) {
        return jdbi.withHandle(h -> h.createQuery("SELECT id, project FROM api_keys WHERE key_hash = :hash AND revoke_time IS NULL")
                .bind("hash", Secrets.hash(key)).map((rs, ctx) -> new String[]{rs.getString(1), rs.getString(2)}).findOne());
    }
}
