package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jwt.SignedJWT;
import dev.tuneforge.auth.AuthException;
import dev.tuneforge.auth.Caller;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.tuning.ServiceException;
import io.javalin.http.Context;

import java.io.IOException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Supplier;
import java.util.stream.Collectors;

/**
 * Signing in to the console through the external OpenID Connect issuer: the authorization-code flow with PKCE (S256).
 * {@code /console/oidc/start} remembers a state and code verifier (the state also in a short-lived HttpOnly cookie,
 * SameSite=Lax so that the issuer's redirect back brings it) and sends the browser to the issuer;
 * {@code /console/oidc/callback} checks the state against the cookie, exchanges the code and verifier for an access
 * token server-side, accepts it only if the API would ({@link TokenService#verify}), and opens a session with it.
 */
final class ConsoleOidcLogin {
    static final String STATE_COOKIE = "tuneforge_console_login";
    private static final Duration PENDING_FOR = Duration.ofMinutes(10);
    /** Anyone may start a sign-in: this bounds the memory that unfinished ones can take. */
    private static final int MAX_PENDING = 10_000;
    private final ConsoleOidcSettings settings;
    private final TokenService tokens;
    private final ConsoleSessions sessions;
    private final Supplier<String> publicBaseUrl;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final ConcurrentMap<String, Pending> pendingByState = new ConcurrentHashMap<>();

    private record Pending(String codeVerifier, Instant expires) {
    }

    ConsoleOidcLogin(ConsoleOidcSettings settings, TokenService tokens, ConsoleSessions sessions,
                     Supplier<String> publicBaseUrl) {
        this.settings = settings;
        this.tokens = tokens;
        this.sessions = sessions;
        this.publicBaseUrl = publicBaseUrl;
    }

    void start(Context ctx, boolean secure) {
        Instant now = Instant.now();
        pendingByState.values().removeIf(p -> p.expires().isBefore(now));
        if (pendingByState.size() >= MAX_PENDING) {
            ctx.header("Retry-After", "60");
            throw new ServiceException(ServiceException.Code.UNAVAILABLE, "too many sign-ins are in progress; retry later");
        }
        String state = sessions.randomToken();
        String verifier = sessions.randomToken();
        pendingByState.put(state, new Pending(verifier, now.plus(PENDING_FOR)));
        ctx.header("Set-Cookie", STATE_COOKIE + "=" + state + "; Path=/console/oidc; Max-Age=" + PENDING_FOR.toSeconds()
                + "; HttpOnly; SameSite=Lax" + (secure ? "; Secure" : ""));
        Map<String, String> q = new LinkedHashMap<>();
        q.put("response_type", "code");
        q.put("client_id", settings.clientId());
        q.put("redirect_uri", redirectUri());
        q.put("scope", settings.scope());
        q.put("state", state);
        q.put("code_challenge", challenge(verifier));
        q.put("code_challenge_method", "S256");
        String sep = settings.authorizationEndpoint().getRawQuery() == null ? "?" : "&";
        ctx.redirect(settings.authorizationEndpoint() + sep + form(q));
    }

    /** The session the issuer's answer opens; AuthException when the state, code or token will not do. */
    ConsoleSessions.Opened callback(Context ctx) throws IOException, InterruptedException {
        String state = ctx.queryParam("state");
        String cookieState = ctx.cookie(STATE_COOKIE);
        if (ctx.queryParam("error") != null) {
            throw AuthException.unauthenticated("the issuer refused the sign-in: " + ctx.queryParam("error"));
        }
        if (state == null || cookieState == null || !MessageDigest.isEqual(state.getBytes(StandardCharsets.UTF_8),
                cookieState.getBytes(StandardCharsets.UTF_8))) {
            throw AuthException.denied("the sign-in's state does not match this browser's: start again");
        }
        Pending pending = pendingByState.remove(state);
        String code = ctx.queryParam("code");
        if (pending == null || pending.expires().isBefore(Instant.now()) || code == null) {
            throw AuthException.denied("the sign-in has expired or was already used: start again");
        }
        Map<String, String> f = new LinkedHashMap<>();
        f.put("grant_type", "authorization_code");
        f.put("code", code);
        f.put("redirect_uri", redirectUri());
        f.put("client_id", settings.clientId());
        f.put("code_verifier", pending.codeVerifier());
        if (settings.clientSecret() != null) {
            f.put("client_secret", settings.clientSecret());
        }
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(settings.tokenEndpoint()).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/x-www-form-urlencoded").header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(form(f))).build(), HttpResponse.BodyHandlers.ofString());
        JsonNode body = r.body().isBlank() ? GoogleJson.MAPPER.createObjectNode() : GoogleJson.MAPPER.readTree(r.body());
        if (r.statusCode() != 200 || !body.path("access_token").isTextual()) {
            throw AuthException.unauthenticated("the issuer did not exchange the code for a token (HTTP " + r.statusCode()
                    + (body.has("error") ? ", " + body.get("error").asText() : "") + ")");
        }
        String token = body.get("access_token").asText();
        Caller caller = tokens.verify(token);
        Instant expiry;
        try {
            expiry = SignedJWT.parse(token).getJWTClaimsSet().getExpirationTime().toInstant();
        } catch (ParseException | NullPointerException e) {
            throw AuthException.invalidToken("the issuer's access token has no expiry");
        }
        ctx.header("Set-Cookie", STATE_COOKIE + "=; Path=/console/oidc; Max-Age=0; HttpOnly; SameSite=Lax");
        return sessions.openExternal(caller.subject(), token, expiry);
    }

    private String redirectUri() {
        return publicBaseUrl.get() + "/console/oidc/callback";
    }

    private static String challenge(String verifier) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String form(Map<String, String> fields) {
        return fields.entrySet().stream().map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "="
                + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8)).collect(Collectors.joining("&"));
    }

}
