package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.net.URI;

/**
 * How the web console signs people in through the external OpenID Connect issuer ({@code
 * auth.externalIssuer.consoleLogin}): its authorization and token endpoints, the console's client id there (and its
 * secret, for an issuer that wants one from a confidential client), and the scopes asked for. The access token the
 * issuer returns must be one the API accepts from that issuer (its audience, projects claim).
 */
public record ConsoleOidcSettings(URI authorizationEndpoint, URI tokenEndpoint, String clientId, String clientSecret,
                                  String scope) {
    public ConsoleOidcSettings {
        if (authorizationEndpoint == null || tokenEndpoint == null || clientId == null || clientId.isBlank()) {
            throw new IllegalArgumentException("auth.externalIssuer.consoleLogin needs authorizationEndpoint, "
                    + "tokenEndpoint and clientId");
        }
        scope = scope == null || scope.isBlank() ? "openid" : scope;
    }

    /** The settings of {@code node}, or null when it is absent. */
    static ConsoleOidcSettings read(JsonNode node) {
        if (node == null || !node.isObject()) {
            return null;
        }
        return new ConsoleOidcSettings(uri(node, "authorizationEndpoint"), uri(node, "tokenEndpoint"),
                node.path("clientId").asText(null), node.path("clientSecret").asText(null), node.path("scope").asText(null));
    }

    private static URI uri(JsonNode node, String field) {
        String text = node.path(field).asText(null);
        if (text == null) {
            return null;
        }
        URI u = URI.create(text);
        if (!"https".equals(u.getScheme()) && !"http".equals(u.getScheme())) {
            throw new IllegalArgumentException("auth.externalIssuer.consoleLogin." + field + " must be an http(s) URL");
        }
        return u;
    }
}
