package dev.tuneforge.auth;

import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Handle;
import org.jdbi.v3.core.Jdbi;

import java.time.Instant;
import java.util.List;

/**
 * The operator's side of OAuth clients: list them, disable and enable them, rotate a secret. Disabling and
 * rotating start a new token generation, so every token the client held stops working at once (on every server
 * sharing the database); enabling again does not bring those tokens back.
 */
public final class OAuthClients {
    private final Jdbi jdbi;

    public OAuthClients(Database db) {
        this.jdbi = db.jdbi();
    }

    /** Every client, oldest first. */
    public List<OAuthClient> list() {
        return jdbi.withHandle(h -> h.createQuery("SELECT client_id FROM oauth_clients ORDER BY create_time, client_id")
                .mapTo(String.class).list().stream().map(id -> AuthStore.findClient(h, id).orElseThrow()).toList());
    }

    /** Disables the client; false when it already was. */
    public boolean disable(String clientId) {
        return jdbi.inTransaction(h -> {
            requireClient(h, clientId);
            return h.createUpdate("UPDATE oauth_clients SET disable_time = :t, token_generation = token_generation + 1 "
                            + "WHERE client_id = :id AND disable_time IS NULL")
                    .bind("t", Instant.now().toString()).bind("id", clientId).execute() > 0;
        });
    }

    /** Enables the client again (its earlier tokens stay invalid); false when it was not disabled. */
    public boolean enable(String clientId) {
        return jdbi.inTransaction(h -> {
            requireClient(h, clientId);
            return h.createUpdate("UPDATE oauth_clients SET disable_time = NULL WHERE client_id = :id AND disable_time IS NOT NULL")
                    .bind("id", clientId).execute() > 0;
        });
    }

    /**
     * Gives the client a new secret, returned only here. The old secret stops working at once, and so do the
     * tokens issued before: a leaked secret is the usual reason to rotate, and its holder may have fetched tokens.
     */
    public AuthStore.ClientCredentials rotateSecret(String clientId) {
        String secret = Secrets.random("tfs-", 32);
        jdbi.useTransaction(h -> {
            requireClient(h, clientId);
            h.createUpdate("UPDATE oauth_clients SET secret_hash = :hash, token_generation = token_generation + 1 "
                    + "WHERE client_id = :id").bind("hash", Secrets.hash(secret)).bind("id", clientId).execute();
        });
        return new AuthStore.ClientCredentials(clientId, secret);
    }

    /** The client {@code clientId}; IllegalArgumentException naming it when there is none. */
    public OAuthClient get(String clientId) {
        return jdbi.withHandle(h -> requireClient(h, clientId));
    }

    private static OAuthClient requireClient(Handle h, String clientId) {
        return AuthStore.findClient(h, clientId)
                .orElseThrow(() -> new IllegalArgumentException("there is no OAuth client '" + clientId + "'"));
    }
}
