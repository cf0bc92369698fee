package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.OAuthClient;
import dev.tuneforge.auth.Scopes;
import io.javalin.Javalin;
import io.javalin.http.Context;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Tuneforge as its own OAuth 2.0 authorization server: the client-credentials grant at {@code POST /oauth2/token},
 * token revocation (RFC 7009) at {@code POST /oauth2/revoke} (both authenticate the client by form fields or HTTP
 * Basic, behind the login throttle), the signing keys at {@code GET /oauth2/jwks}, and the discovery document at
 * {@code GET /.well-known/openid-configuration}. Errors follow RFC 6749 §5.2.
 */
final class OAuthRoutes {
    private final Authenticator auth;
    private final Supplier<String> publicBaseUrl;
    private final ClientAuthentication clients;

    OAuthRoutes(Authenticator auth, Supplier<String> publicBaseUrl) {
        this.auth = auth;
        this.publicBaseUrl = publicBaseUrl;
        this.clients = new ClientAuthentication(auth.store(), auth.throttle());
    }

    void register(Javalin app) {
        app.post("/oauth2/token", this::token);
        app.post("/oauth2/revoke", this::revoke);
        app.get("/oauth2/jwks", ctx -> ctx.contentType("application/json").result(auth.tokens().keys().publicKeys().toString()));
        app.get("/.well-known/openid-configuration", ctx -> {
            String base = publicBaseUrl.get();
            ObjectNode n = GoogleJson.MAPPER.createObjectNode();
            n.put("issuer", auth.tokens().issuer());
            n.put("token_endpoint", base + "/oauth2/token");
            n.put("revocation_endpoint", base + "/oauth2/revoke");
            n.put("jwks_uri", base + "/oauth2/jwks");
            n.putArray("grant_types_supported").add("client_credentials");
            n.putArray("token_endpoint_auth_methods_supported").add("client_secret_post").add("client_secret_basic");
            n.putArray("revocation_endpoint_auth_methods_supported").add("client_secret_post").add("client_secret_basic");
            n.putArray("scopes_supported").add(Scopes.TUNING).add(Scopes.CLOUD_PLATFORM);
            n.putArray("id_token_signing_alg_values_supported").add("RS256");
            ctx.json(n);
        });
        app.exception(OAuthException.class, (e, ctx) -> {
            if (e.retryAfterSeconds > 0) {
                ctx.header("Retry-After", Long.toString(e.retryAfterSeconds));
            }
            if (e.basicChallenge) {
                ctx.header("WWW-Authenticate", "Basic realm=\"" + auth.tokens().issuer() + "\"");
            }
            ctx.status(e.status).json(GoogleJson.MAPPER.createObjectNode().put("error", e.error)
                    .put("error_description", e.getMessage()));
        });
    }

    private void token(Context ctx) {
        if (!"client_credentials".equals(ctx.formParam("grant_type"))) {
            throw OAuthException.unsupportedGrantType("only grant_type=client_credentials is supported");
        }
        OAuthClient client = clients.authenticate(ctx);
        String scopeParam = ctx.formParam("scope");
        Set<String> scopes = scopeParam == null || scopeParam.isBlank() ? Scopes.ALL
                : new HashSet<>(Arrays.asList(scopeParam.trim().split("[\\s,]+")));
        for (String s : scopes) {
            if (!Scopes.ALL.contains(s)) {
                throw OAuthException.invalidScope("scope '" + s + "' is not offered (" + Scopes.TUNING + ", "
                        + Scopes.CLOUD_PLATFORM + ")");
            }
        }
        String token = auth.tokens().issue(client, scopes);
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("access_token", token);
        n.put("token_type", "Bearer");
        n.put("expires_in", auth.tokens().ttl().toSeconds());
        n.put("scope", String.join(" ", new TreeSet<>(scopes)));
        ctx.json(n);
    }

    /**
     * RFC 7009: the client's own token is revoked; an unknown, invalid, expired or another client's token is left
     * alone with the same 200, so the answer tells nothing about tokens the client does not hold. The hint
     * ({@code token_type_hint}) is not needed: access tokens are the only kind.
     */
    private void revoke(Context ctx) {
        OAuthClient client = clients.authenticate(ctx);
        String token = ctx.formParam("token");
        if (token == null || token.isBlank()) {
            throw OAuthException.invalidRequest("token is required");
        }
        auth.tokens().revoke(token.trim(), client.clientId());
        ctx.status(200);
    }
}
