package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.TestClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Brute-force defence at the token and revocation endpoints, over real HTTP: callers on several loopback
 * addresses (127.0.0.x), the throttle's clock advanced by the test instead of waiting out a block.
 */
class TokenEndpointThrottleTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    Path dataDir;
    private final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));
    private TuneforgeServer server;

    @BeforeEach
    void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")), clock).start("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** A caller of the OAuth endpoints from one loopback address. */
    private final class From {
        private final HttpClient http;

        From(String localAddress) {
            try {
                http = HttpClient.newBuilder().localAddress(InetAddress.getByName(localAddress)).build();
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        }

        HttpResponse<String> token(String clientId, String secret) {
            return post("/oauth2/token", "grant_type=client_credentials&client_id=" + enc(clientId) + "&client_secret=" + enc(secret));
        }

        HttpResponse<String> revoke(String clientId, String secret, String token) {
            return post("/oauth2/revoke", "token=" + enc(token) + "&client_id=" + enc(clientId) + "&client_secret=" + enc(secret));
        }

        private HttpResponse<String> post(String path, String form) {
            try {
                return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path))
                        .header("Content-Type", "application/x-www-form-urlencoded")
                        .POST(HttpRequest.BodyPublishers.ofString(form)).build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new AssertionError(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError(e);
            }
        }
    }

    private static String enc(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8);
    }

    private static JsonNode json(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + r.body(), e);
        }
    }

    private static void assertInvalidClient(HttpResponse<String> r) {
        assertEquals(401, r.statusCode(), r.body());
        assertEquals("invalid_client", json(r).get("error").asText(), r.body());
    }

    /** A 429 slow_down; returns its Retry-After in seconds. */
    private static long assertBlocked(HttpResponse<String> r) {
        assertEquals(429, r.statusCode(), r.body());
        assertEquals("slow_down", json(r).get("error").asText(), r.body());
        assertTrue(json(r).get("error_description").asText().contains("retry after"), r.body());
        return Long.parseLong(r.headers().firstValue("Retry-After").orElseThrow());
    }

    @Test
    void wrongSecretsAreBlockedARightSecretTooUntilTheBlockEnds() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        From caller = new From("127.0.0.1");
        for (int i = 0; i < 5; i++) {
            assertInvalidClient(caller.token(c.clientId(), "wrong-" + i));
        }
        assertEquals(1, assertBlocked(caller.token(c.clientId(), "wrong-again")));
        assertEquals(1, assertBlocked(caller.token(c.clientId(), c.clientSecret())), "a right secret is refused while blocked");

        clock.advance(Duration.ofSeconds(1));
        assertEquals(200, caller.token(c.clientId(), c.clientSecret()).statusCode(), "the block has run out");
        for (int i = 0; i < 4; i++) {
            assertInvalidClient(caller.token(c.clientId(), "wrong-" + i));
        }
        assertInvalidClient(caller.token(c.clientId(), "wrong-5"));
        assertEquals(1, assertBlocked(caller.token(c.clientId(), c.clientSecret())), "the success started the count again");
    }

    @Test
    void theBlockDoublesWithEachFurtherFailureUpToFifteenMinutes() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        From caller = new From("127.0.0.1");
        for (int i = 0; i < 5; i++) {
            caller.token(c.clientId(), "wrong");
        }
        long previous = assertBlocked(caller.token(c.clientId(), "wrong"));
        for (int i = 0; i < 12; i++) {
            clock.advance(Duration.ofSeconds(previous));
            assertInvalidClient(caller.token(c.clientId(), "wrong"));
            long retryAfter = assertBlocked(caller.token(c.clientId(), c.clientSecret()));
            assertEquals(Math.min(2 * previous, 900), retryAfter);
            previous = retryAfter;
        }
        assertEquals(900, previous);
    }

    @Test
    void oneAddressIsBlockedAcrossClientIdsAndOneClientIdAcrossAddresses() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        From sprayer = new From("127.0.0.1");
        for (int i = 0; i < 5; i++) {
            assertInvalidClient(sprayer.token("tfc-guess-" + i, "wrong"));
        }
        assertBlocked(sprayer.token(c.clientId(), c.clientSecret()));
        assertEquals(200, new From("127.0.0.2").token(c.clientId(), c.clientSecret()).statusCode(),
                "the client itself is not blocked elsewhere");

        AuthStore.ClientCredentials victim = server.auth().store().createClient("p1");
        for (int i = 0; i < 5; i++) {
            assertInvalidClient(new From("127.0.0." + (10 + i)).token(victim.clientId(), "wrong"));
        }
        assertBlocked(new From("127.0.0.20").token(victim.clientId(), victim.clientSecret()));
        assertEquals(200, new From("127.0.0.20").token(c.clientId(), c.clientSecret()).statusCode(),
                "the address is not blocked for other clients");
    }

    @Test
    void theRevocationEndpointCountsAndObeysTheSameLimit() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        From caller = new From("127.0.0.1");
        for (int i = 0; i < 5; i++) {
            assertInvalidClient(caller.revoke(c.clientId(), "wrong", "some-token"));
        }
        assertBlocked(caller.revoke(c.clientId(), c.clientSecret(), "some-token"));
        assertBlocked(caller.token(c.clientId(), c.clientSecret()));
    }

    @Test
    void failuresAndBlocksAreLoggedWithoutTheSecret() {
        AuthStore.ClientCredentials c = server.auth().store().createClient("p1");
        PrintStream old = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            for (int i = 0; i < 5; i++) {
                new From("127.0.0.1").token(c.clientId(), "guess-" + i + "-" + c.clientSecret());
            }
            new From("127.0.0.1").token("tfc-\nforged log line", "x");
        } finally {
            System.setErr(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("WARN") && log.contains("client authentication failed: client_id=" + c.clientId()
                + " address=127.0.0.1 failures_for_client=5 failures_for_address=5"), log);
        assertTrue(log.contains("client authentication blocked for client_id=" + c.clientId() + " for 1s after 5 failures"), log);
        assertTrue(log.contains("client authentication blocked for address=127.0.0.1"), log);
        assertFalse(log.contains("guess-") || log.contains(c.clientSecret()), "a secret appeared in the log");
        assertFalse(log.contains("\nforged log line"), "a client id cannot start a log line of its own");
    }

    @Test
    void theLimitsAreReadFromTheConfigFileWithClearErrors() throws IOException {
        Path config = dataDir.resolve("tuneforge.json");
        String models = "\"baseModels\": [{\"id\": \"stories-260k\", \"path\": \"" + Path.of("models/stories-260k").toAbsolutePath() + "\"}]";
        Files.writeString(config, "{" + models + ", \"auth\": {\"loginThrottle\": {\"freeFailures\": 3, \"firstBlockSeconds\": 10, "
                + "\"maxBlockSeconds\": 60, \"forgetAfterSeconds\": 600, \"maxTracked\": 1000}}}");
        var settings = ServerConfig.read(config, dataDir).auth().loginThrottle();
        assertEquals(3, settings.freeFailures());
        assertEquals(Duration.ofSeconds(10), settings.firstBlock());
        assertEquals(Duration.ofSeconds(60), settings.maxBlock());
        assertEquals(Duration.ofMinutes(10), settings.forgetAfter());
        assertEquals(1000, settings.maxTracked());

        Files.writeString(config, "{" + models + ", \"auth\": {\"loginThrottle\": {\"freeFailures\": \"many\"}}}");
        var e = assertThrows(IllegalArgumentException.class, () -> ServerConfig.read(config, dataDir));
        assertTrue(e.getMessage().contains("auth.loginThrottle.freeFailures"), e.getMessage());
    }
}
