package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.OAuthClient;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/** Test callers with real credentials: an OAuth client of a project and the token the server issues it. */
final class Callers {
    private Callers() {
    }

    /** A client of {@code project} created in the server's database and its access token, fetched over HTTP. */
    static String token(int port, AuthStore store, String project) {
        AuthStore.ClientCredentials c = store.createClient(project);
        return token(port, c.clientId(), c.clientSecret(), null);
    }

    /** A new client of {@code project}, as tokens are issued to it (tests mint tokens for it directly). */
    static OAuthClient client(AuthStore store, String project) {
        return store.findClient(store.createClient(project).clientId()).orElseThrow();
    }

    static String token(int port, String clientId, String secret, String scope) {
        String form = "grant_type=client_credentials&client_id=" + enc(clientId) + "&client_secret=" + enc(secret)
                + (scope == null ? "" : "&scope=" + enc(scope));
        Http.Response r = Http.anonymous(port).post("/oauth2/token", form, "application/x-www-form-urlencoded");
        if (r.status() != 200) {
            throw new AssertionError("token request failed: " + r.body());
        }
        JsonNode n = r.json();
        return n.get("access_token").asText();
    }

    /** An HTTP client acting for {@code project} with a fresh client's token. */
    static Http http(TuneforgeServer server, String project) {
        return new Http(server.port(), project, token(server.port(), server.auth().store(), project));
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }
}
