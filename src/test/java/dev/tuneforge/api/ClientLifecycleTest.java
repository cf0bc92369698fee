package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.OAuthClient;
import dev.tuneforge.auth.OAuthClients;
import dev.tuneforge.auth.Scopes;
import dev.tuneforge.store.Database;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Disabling, enabling and rotating OAuth clients from the operator's side (a second connection to the database,
 * as the CLI has) while the server runs: every change reaches the server's next request.
 */
class ClientLifecycleTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static OAuthClients operator;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0);
        operator = new OAuthClients(dev.tuneforge.store.TestDatabase.open(dataDir));
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static Http.Response tokenRequest(String clientId, String secret) {
        return Http.anonymous(server.port()).post("/oauth2/token", "grant_type=client_credentials&client_id="
                + enc(clientId) + "&client_secret=" + enc(secret), "application/x-www-form-urlencoded");
    }

    private static Http.Response list(String token) {
        return new Http(server.port(), "p1", token).get("/v1beta/tunedModels");
    }

    private static void assertRefused(Http.Response r, String why) {
        assertEquals(401, r.status(), r.body());
        assertEquals("UNAUTHENTICATED", r.json().get("error").get("status").asText());
        assertTrue(r.json().get("error").get("message").asText().contains(why), r.body());
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    @Test
    void aDisabledClientsTokensStopAtOnceAndItGetsNoNewOnes() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        String token = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        assertEquals(200, list(token).status());

        assertTrue(operator.disable(c.clientId()));
        assertFalse(operator.disable(c.clientId()), "already disabled");
        assertRefused(list(token), "disabled");
        Http.Response refused = tokenRequest(c.clientId(), c.clientSecret());
        assertEquals(401, refused.status());
        assertEquals("invalid_client", refused.json().get("error").asText());
        assertTrue(refused.json().get("error_description").asText().contains("disabled"), refused.body());

        assertTrue(operator.enable(c.clientId()));
        assertRefused(list(token), "issued before");
        String fresh = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
        assertEquals(200, list(fresh).status());
    }

    @Test
    void aRotatedSecretEndsTheOldSecretAndItsTokens() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        String before = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);

        AuthStore.ClientCredentials rotated = operator.rotateSecret(c.clientId());
        assertEquals(c.clientId(), rotated.clientId());
        Http.Response old = tokenRequest(c.clientId(), c.clientSecret());
        assertEquals(401, old.status());
        assertEquals("invalid_client", old.json().get("error").asText());
        assertRefused(list(before), "rotated");
        String after = Callers.token(server.port(), rotated.clientId(), rotated.clientSecret(), null);
        assertEquals(200, list(after).status());
    }

    @Test
    void aTokenOfAClientThatDoesNotExistIsRefused() {
        OAuthClient ghost = new OAuthClient("tfc-ghost", Set.of("p1"), "2026-01-01T00:00:00Z", null, 1);
        assertRefused(list(server.auth().tokens().issue(ghost, Scopes.ALL)), "no longer exists");
    }

    @Test
    void listingShowsEveryClientWithoutSecretsAndUnknownIdsAreNamed() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p2");
        OAuthClient listed = operator.list().stream().filter(x -> x.clientId().equals(c.clientId())).findFirst().orElseThrow();
        assertEquals(Set.of("p2"), listed.projects());
        assertFalse(listed.disabled());
        assertFalse(listed.toString().contains(c.clientSecret()));
        List<Consumer<String>> changes = List.of(operator::disable, operator::enable, operator::rotateSecret);
        for (Consumer<String> change : changes) {
            var e = assertThrows(IllegalArgumentException.class, () -> change.accept("tfc-nobody"));
            assertTrue(e.getMessage().contains("'tfc-nobody'"), e.getMessage());
        }
    }
}
