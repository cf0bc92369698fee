package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.Scopes;
import io.javalin.Javalin;
import io.javalin.http.Context;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Tuneforge as its own OAuth 2.0 authorization server: the client-credentials grant at {@code POST /oauth2/token}
 * (client id and secret as form fields or HTTP Basic), the signing keys at {@code GET /oauth2/jwks}, and the
 * discovery document at {@code GET /.well-known/openid-configuration}. Errors follow RFC 6749 §5.2.
 */
final class OAuthRoutes {
    private final Authenticator auth;
    private final Supplier<String> publicBaseUrl;

    OAuthRoutes(Authenticator auth, Supplier<String> publicBaseUrl) {
        this.auth = auth;
        this.publicBaseUrl = publicBaseUrl;
    }

    void register(Javalin app) {
        app.post("/oauth2/token", this::token);
        app.get("/oauth2/jwks", ctx -> ctx.contentType("application/json").result(auth.tokens().keys().publicKeys().toString()));
        app.get("/.well-known/openid-configuration", ctx -> {
            String base = publicBaseUrl.get();
            ObjectNode n = GoogleJson.MAPPER.createObjectNode();
            n.put("issuer", auth.tokens().issuer());
            n.put("token_endpoint", base + "/oauth2/token");
            n.put("jwks_uri", base + "/oauth2/jwks");
            n.putArray("grant_types_supported").add("client_credentials");
            n.putArray("token_endpoint_auth_methods_supported").add("client_secret_post").add("client_secret_basic");
            n.putArray("scopes_supported").add(Scopes.TUNING).add(Scopes.CLOUD_PLATFORM);
            n.putArray("id_token_signing_alg_values_supported").add("RS256");
            ctx.json(n);
        });
    }

    private void token(Context ctx) {
        ctx.header("Cache-Control", "no-store");
        String grant = ctx.formParam("grant_type");
        String clientId = ctx.formParam("client_id");
        String secret = ctx.formParam("client_secret");
        String basic = ctx.header("Authorization");
        if (basic != null && basic.regionMatches(true, 0, "Basic ", 0, 6)) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(basic.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                oauthError(ctx, 401, "invalid_client", "malformed Basic credentials");
                return;
            }
            int colon = decoded.indexOf(':');
            if (colon > 0) {
                clientId = java.net.URLDecoder.decode(decoded.substring(0, colon), StandardCharsets.UTF_8);
                secret = java.net.URLDecoder.decode(decoded.substring(colon + 1), StandardCharsets.UTF_8);
            }
        }
        if (!"client_credentials".equals(grant)) {
            oauthError(ctx, 400, "unsupported_grant_type", "only grant_type=client_credentials is supported");
            return;
        }
        if (clientId == null || secret == null) {
            oauthError(ctx, 401, "invalid_client", "client_id and client_secret are required");
            return;
        }
        var projects = auth.store().verifyClient(clientId, secret);
        if (projects.isEmpty()) {
            oauthError(ctx, 401, "invalid_client", "unknown client or wrong secret");
            return;
        }
        String scopeParam = ctx.formParam("scope");
        Set<String> scopes = scopeParam == null || scopeParam.isBlank() ? Scopes.ALL
                : new HashSet<>(Arrays.asList(scopeParam.trim().split("[\\s,]+")));
        for (String s : scopes) {
            if (!Scopes.ALL.contains(s)) {
                oauthError(ctx, 400, "invalid_scope", "scope '" + s + "' is not offered (" + Scopes.TUNING + ", "
                        + Scopes.CLOUD_PLATFORM + ")");
                return;
            }
        }
        String token = auth.tokens().issue(clientId, projects.get(), scopes);
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("access_token", token);
        n.put("token_type", "Bearer");
        n.put("expires_in", auth.tokens().ttl().toSeconds());
        n.put("scope", String.join(" ", new TreeSet<>(scopes)));
        ctx.json(n);
    }

    private static void oauthError(Context ctx, int status, String error, String description) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode().put("error", error).put("error_description", description);
        ctx.status(status).json(n);
    }
}
