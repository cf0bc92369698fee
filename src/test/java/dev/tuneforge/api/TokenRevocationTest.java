package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Scopes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RFC 7009 token revocation at POST /oauth2/revoke, over real HTTP, and its reach to a second replica. */
class TokenRevocationTest {
    private static final String FORM = "application/x-www-form-urlencoded";
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static Http.Response revoke(TuneforgeServer at, AuthStore.ClientCredentials c, String token) {
        return Http.anonymous(at.port()).post("/oauth2/revoke", "token=" + enc(token) + "&token_type_hint=access_token"
                + "&client_id=" + enc(c.clientId()) + "&client_secret=" + enc(c.clientSecret()), FORM);
    }

    private static int listStatus(TuneforgeServer at, String token) {
        return new Http(at.port(), "p1", token).get("/v1beta/tunedModels").status();
    }

    @Test
    void aRevokedTokenIsRefusedAtOnceAndTheClientsOtherTokensStillWork() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        String token = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        String other = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        assertEquals(200, listStatus(server, token));

        Http.Response r = revoke(server, c, token);
        assertEquals(200, r.status(), r.body());
        assertEquals("", r.body());
        Http.Response refused = new Http(server.port(), "p1", token).get("/v1beta/tunedModels");
        assertEquals(401, refused.status(), refused.body());
        assertEquals("UNAUTHENTICATED", refused.json().get("error").get("status").asText());
        assertTrue(refused.json().get("error").get("message").asText().contains("revoked"), refused.body());
        assertEquals(200, listStatus(server, other));
        assertEquals(200, revoke(server, c, token).status(), "revoking twice is fine");
    }

    @Test
    void httpBasicAuthenticatesTheClientToo() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        String token = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        String basic = Base64.getEncoder().encodeToString((enc(c.clientId()) + ":" + enc(c.clientSecret()))
                .getBytes(StandardCharsets.UTF_8));
        Http.Response r = new BasicHttp(server.port(), basic).post("/oauth2/revoke", "token=" + enc(token), FORM);
        assertEquals(200, r.status(), r.body());
        assertEquals(401, listStatus(server, token));
    }

    @Test
    void anotherClientsUnknownInvalidOrExpiredTokensAreLeftAloneWith200() {
        AuthStore.ClientCredentials owner = server.auth().store().createClient("p1");
        AuthStore.ClientCredentials stranger = server.auth().store().createClient("p1");
        String token = Callers.token(server.port(), owner.clientId(), owner.clientSecret(), null);
        assertEquals(200, revoke(server, stranger, token).status());
        assertEquals(200, listStatus(server, token), "a client cannot revoke another client's token");

        assertEquals(200, revoke(server, stranger, "not-a-token").status());
        String expired = server.auth().tokens().issue(server.auth().store().findClient(stranger.clientId()).orElseThrow(),
                Scopes.ALL, Instant.now().minus(Duration.ofHours(2)), Duration.ofHours(1));
        assertEquals(200, revoke(server, stranger, expired).status());
    }

    @Test
    void badRequestsGetRfc6749Errors() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        Http.Response missing = Http.anonymous(server.port()).post("/oauth2/revoke", "client_id=" + enc(c.clientId())
                + "&client_secret=" + enc(c.clientSecret()), FORM);
        assertEquals(400, missing.status(), missing.body());
        assertEquals("invalid_request", missing.json().get("error").asText());
        assertTrue(missing.json().get("error_description").asText().contains("token"), missing.body());

        Http.Response wrong = revoke(server, new AuthStore.ClientCredentials(c.clientId(), "wrong"), "x");
        assertEquals(401, wrong.status());
        assertEquals("invalid_client", wrong.json().get("error").asText());
        Http.Response anonymous = Http.anonymous(server.port()).post("/oauth2/revoke", "token=x", FORM);
        assertEquals(401, anonymous.status());
        assertEquals("invalid_client", anonymous.json().get("error").asText());
    }

    @Test
    void discoveryAdvertisesTheRevocationEndpoint() {
        JsonNode d = Http.anonymous(server.port()).get("/.well-known/openid-configuration").json();
        assertEquals("http://127.0.0.1:" + server.port() + "/oauth2/revoke", d.get("revocation_endpoint").asText());
        assertTrue(d.get("revocation_endpoint_auth_methods_supported").toString().contains("client_secret_basic"));
    }

    /**
     * Another process verifying tokens against the same database (a replica, once replicas share PostgreSQL; here
     * the same SQLite file opened a second time, as a server holds its data directory alone).
     */
    @Test
    void anotherVerifierSharingTheDatabaseRefusesARevokedTokenAtOnce() {
        dev.tuneforge.auth.TokenService replica = new dev.tuneforge.auth.TokenService("tuneforge",
                new dev.tuneforge.auth.SigningKeys(dataDir), Duration.ofHours(1), null,
                new dev.tuneforge.auth.IssuedTokens(dev.tuneforge.store.TestDatabase.open(dataDir)));
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        String token = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        assertEquals(c.clientId(), replica.verify(token).subject());
        assertEquals(200, revoke(server, c, token).status());
        dev.tuneforge.auth.AuthException refused = org.junit.jupiter.api.Assertions.assertThrows(
                dev.tuneforge.auth.AuthException.class, () -> replica.verify(token));
        assertEquals(dev.tuneforge.tuning.ServiceException.Code.UNAUTHENTICATED, refused.code());
    }

    /** A form POST with an Authorization: Basic header. */
    private static final class BasicHttp {
        private final int port;
        private final String credentials;

        BasicHttp(int port, String credentials) {
            this.port = port;
            this.credentials = credentials;
        }

        Http.Response post(String path, String body, String contentType) {
            try {
                HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                                URI.create("http://127.0.0.1:" + port + path)).header("Content-Type", contentType)
                        .header("Authorization", "Basic " + credentials).POST(HttpRequest.BodyPublishers.ofString(body))
                        .build(), HttpResponse.BodyHandlers.ofString());
                return new Http.Response(r.statusCode(), r.body());
            } catch (IOException e) {
                throw new AssertionError(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }
}
