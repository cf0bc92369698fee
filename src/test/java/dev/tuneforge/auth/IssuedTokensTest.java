package dev.tuneforge.auth;

import dev.tuneforge.store.Database;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What the database says about issued tokens, and the purge of revocations that have expired. */
class IssuedTokensTest {
    @TempDir
    Path dir;

    @Test
    void standingFollowsRevocationsAndTheClientRow() {
        Database db = Database.sqlite(dir.resolve("tuneforge.db"));
        String client = new AuthStore(db).createClient("p1").clientId();
        IssuedTokens tokens = new IssuedTokens(db);
        OAuthClients clients = new OAuthClients(db);
        Instant inAnHour = Instant.now().plusSeconds(3600);

        assertEquals(IssuedTokens.Standing.VALID, tokens.standing(client, "jti-1", 1));
        tokens.revoke("jti-1", client, inAnHour);
        tokens.revoke("jti-1", client, inAnHour);
        assertEquals(IssuedTokens.Standing.REVOKED, tokens.standing(client, "jti-1", 1));
        assertEquals(IssuedTokens.Standing.VALID, tokens.standing(client, "jti-2", 1));
        assertEquals(IssuedTokens.Standing.CLIENT_UNKNOWN, tokens.standing("tfc-nobody", "jti-2", 1));

        clients.rotateSecret(client);
        assertEquals(IssuedTokens.Standing.SUPERSEDED, tokens.standing(client, "jti-2", 1));
        assertEquals(IssuedTokens.Standing.VALID, tokens.standing(client, "jti-2", 2));
        clients.disable(client);
        assertEquals(IssuedTokens.Standing.CLIENT_DISABLED, tokens.standing(client, "jti-2", 3));
        clients.enable(client);
        assertEquals(IssuedTokens.Standing.SUPERSEDED, tokens.standing(client, "jti-2", 2),
                "enabling again does not bring back the tokens held before the client was disabled");
        assertEquals(IssuedTokens.Standing.VALID, tokens.standing(client, "jti-2", 3));
    }

    @Test
    void revocationsAreKeptUntilTheTokenWouldHaveExpired() {
        Database db = Database.sqlite(dir.resolve("tuneforge.db"));
        String client = new AuthStore(db).createClient("p1").clientId();
        IssuedTokens tokens = new IssuedTokens(db);
        tokens.revoke("expired-since", client, Instant.now().minusSeconds(5));
        tokens.revoke("still-valid", client, Instant.now().plusSeconds(3600));
        tokens.revoke("another", client, Instant.now().plusSeconds(3600));
        int rows = db.jdbi().withHandle(h -> h.createQuery("SELECT COUNT(*) FROM revoked_tokens").mapTo(Integer.class).one());
        assertEquals(2, rows, "the revocation of the expired token was purged");
        assertEquals(IssuedTokens.Standing.REVOKED, tokens.standing(client, "still-valid", 1));
    }
}
