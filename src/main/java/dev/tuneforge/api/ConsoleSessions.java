package dev.tuneforge.api;

import dev.tuneforge.auth.OAuthClient;
import dev.tuneforge.auth.Scopes;
import dev.tuneforge.auth.TokenService;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * The web console's sign-in sessions, held in memory: a session stands for an access token the server issued to the
 * OAuth client that signed in (so it carries exactly that client's projects and scopes), and holds the token for the
 * browser, which only ever sees an opaque session id (in an HttpOnly cookie) and the session's CSRF token. Sessions
 * are keyed by the SHA-256 of their id, end when the token expires, and do not survive a restart (sign in again).
 */
final class ConsoleSessions {
    /** One signed-in browser. */
    record Session(String clientId, String accessToken, String csrfToken, Instant expireTime) {
    }

    /** A new session and the id that names it, which only the browser's cookie holds. */
    record Opened(String id, Session session) {
    }

    private final TokenService tokens;
    private final Clock clock;
    private final SecureRandom random = new SecureRandom();
    private final ConcurrentMap<String, Session> byIdHash = new ConcurrentHashMap<>();

    ConsoleSessions(TokenService tokens, Clock clock) {
        this.tokens = tokens;
        this.clock = clock;
    }

    Opened open(OAuthClient client) {
        Instant now = clock.instant();
        byIdHash.values().removeIf(s -> !s.expireTime().isAfter(now));
        String token = tokens.issue(client, Scopes.ALL, now, tokens.ttl());
        String id = randomToken();
        Session session = new Session(client.clientId(), token, randomToken(), now.plus(tokens.ttl()));
        byIdHash.put(hash(id), session);
        return new Opened(id, session);
    }

    /** A session for a token of the external issuer, obtained by the authorization-code flow; it ends with the token. */
    Opened openExternal(String subject, String accessToken, Instant tokenExpiry) {
        byIdHash.values().removeIf(s -> !s.expireTime().isAfter(clock.instant()));
        String id = randomToken();
        Session session = new Session(subject, accessToken, randomToken(), tokenExpiry);
        byIdHash.put(hash(id), session);
        return new Opened(id, session);
    }

    /** The live session named by {@code id}; empty when unknown, signed out or expired. */
    Optional<Session> find(String id) {
        if (id == null || id.isBlank()) {
            return Optional.empty();
        }
        String key = hash(id);
        Session s = byIdHash.get(key);
        if (s == null) {
            return Optional.empty();
        }
        if (!s.expireTime().isAfter(clock.instant())) {
            byIdHash.remove(key);
            return Optional.empty();
        }
        return Optional.of(s);
    }

    /**
     * Signs out: forgets the session and revokes its token, so neither the cookie nor the token works again (an
     * external issuer's token cannot be revoked here: the session is forgotten, the token left to expire).
     */
    void close(String id) {
        Session s = byIdHash.remove(hash(id));
        if (s != null) {
            tokens.revoke(s.accessToken(), s.clientId());
        }
    }

    /** Whether {@code sent} is the session's CSRF token (compared in constant time). */
    static boolean csrfMatches(Session session, String sent) {
        return sent != null && MessageDigest.isEqual(session.csrfToken().getBytes(StandardCharsets.UTF_8),
                sent.trim().getBytes(StandardCharsets.UTF_8));
    }

    String randomToken() {
        byte[] bytes = new byte[32];
        random.nextBytes(bytes);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
    }

    private static String hash(String id) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(id.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
