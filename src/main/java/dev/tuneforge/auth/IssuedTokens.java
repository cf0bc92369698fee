package dev.tuneforge.auth;

import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Jdbi;

import java.time.Instant;

/**
 * What the database says about access tokens this server issued: which were revoked (by {@code jti}), and whether
 * the client a token belongs to still exists, is enabled and is still on the token's generation. Read on every
 * verification, so a revocation, a disabled client or a rotated secret takes effect at once on every server
 * replica that shares the database.
 */
public final class IssuedTokens {
    private final Jdbi jdbi;

    /** Whether an issued token still stands, and if not, why. */
    public enum Standing {
        VALID, REVOKED, CLIENT_UNKNOWN, CLIENT_DISABLED, SUPERSEDED
    }

    public IssuedTokens(Database db) {
        this.jdbi = db.jdbi();
    }

    public Standing standing(String clientId, String jti, long tokenGeneration) {
        return jdbi.withHandle(h -> {
            if (h.createQuery("SELECT COUNT(*) FROM revoked_tokens WHERE jti = :jti").bind("jti", jti)
                    .mapTo(Integer.class).one() > 0) {
                return Standing.REVOKED;
            }
            return h.createQuery("SELECT disable_time, token_generation FROM oauth_clients WHERE client_id = :id")
                    .bind("id", clientId)
                    .map((rs, ctx) -> rs.getString(1) != null ? Standing.CLIENT_DISABLED
                            : rs.getLong(2) != tokenGeneration ? Standing.SUPERSEDED : Standing.VALID)
                    .findOne().orElse(Standing.CLIENT_UNKNOWN);
        });
    }

    /** Records the token as revoked until it expires; rows of tokens that have expired meanwhile are purged. */
    public void revoke(String jti, String clientId, Instant expiresAt) {
        Instant now = Instant.now();
        jdbi.useTransaction(h -> {
            h.createUpdate("DELETE FROM revoked_tokens WHERE expires_at < :now").bind("now", now.getEpochSecond()).execute();
            h.createUpdate("INSERT INTO revoked_tokens (jti, client_id, expires_at, revoke_time) VALUES (:jti, :client, :exp, :t) "
                            + "ON CONFLICT (jti) DO NOTHING")
                    .bind("jti", jti).bind("client", clientId).bind("exp", expiresAt.getEpochSecond())
                    .bind("t", now.toString()).execute();
        });
    }
}
