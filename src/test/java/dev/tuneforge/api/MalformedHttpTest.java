package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Requests Jetty cannot parse, and errors from anywhere, are answered in Google's JSON (never HTML), and every
 * answer carries the security headers.
 */
class MalformedHttpTest {
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static int port;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        port = server.port();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    static void assertSecurityHeaders(RawHttp.Response r) {
        assertEquals("nosniff", r.header("X-Content-Type-Options"), r.headers().toString());
        assertEquals("default-src 'none'; frame-ancestors 'none'", r.header("Content-Security-Policy"));
        assertEquals("no-referrer", r.header("Referrer-Policy"));
    }

    static JsonNode assertGoogleError(RawHttp.Response r, int status, String googleStatus) {
        assertEquals(status, r.status(), r.body());
        assertFalse(r.body().toLowerCase(Locale.ROOT).contains("<html") || r.body().contains("<h1>"), r.body());
        assertTrue(r.header("Content-Type").startsWith("application/json"), r.header("Content-Type"));
        JsonNode error = r.json().get("error");
        assertNotNull(error, r.body());
        assertEquals(status, error.get("code").asInt(), r.body());
        assertEquals(googleStatus, error.get("status").asText(), r.body());
        assertFalse(error.get("message").asText().isBlank(), r.body());
        assertSecurityHeaders(r);
        return error;
    }

    private static RawHttp.Response get(String target, String... headers) throws Exception {
        return RawHttp.send(port, "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n" + String.join("", headers) + "\r\n");
    }

    @Test
    void requestsJettyCannotParseGetGoogleJsonErrors() throws Exception {
        assertGoogleError(RawHttp.send(port, "GARBAGE\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /v1beta/models\u0000x HTTP/1.1\r\nHost: localhost\r\n\r\n"),
                400, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /healthz\u0001 HTTP/1.1\r\nHost: localhost\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertGoogleError(get("/v1beta/%zz"), 400, "INVALID_ARGUMENT");
        assertGoogleError(get("/v1beta/models/" + "m".repeat(20_000)), 414, "INVALID_ARGUMENT");
        assertGoogleError(get("/healthz", "X-Big: " + "b".repeat(20_000) + "\r\n"), 431, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\nHost: bad host\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertGoogleError(RawHttp.send(port, "GET /healthz HTTP/1.1\r\n\r\n"), 400, "INVALID_ARGUMENT");
        RawHttp.Response version = RawHttp.send(port, "GET /healthz HTTP/7.0\r\nHost: localhost\r\n\r\n");
        assertGoogleError(version, 505, "INTERNAL");
        JsonNode error = assertGoogleError(RawHttp.send(port, "POST /healthz HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400, "INVALID_ARGUMENT");
        assertTrue(error.get("message").asText().startsWith("malformed HTTP request"), error.toString());
    }

    @Test
    void errorsOfHandlersAndUnknownPathsAreJsonWhateverTheClientAccepts() throws Exception {
        assertGoogleError(get("/nothing-here", "Accept: text/html\r\n"), 404, "NOT_FOUND");
        assertGoogleError(RawHttp.send(port, "FOO /healthz HTTP/1.1\r\nHost: localhost\r\nAccept: text/html\r\n\r\n"),
                404, "NOT_FOUND");
        assertGoogleError(RawHttp.send(port, "DELETE /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"), 404, "NOT_FOUND");
        assertGoogleError(get("/v1beta/models", "Accept: text/html\r\n"), 401, "UNAUTHENTICATED");
        // a chunked body that breaks off: Javalin reads the form, Jetty's parser fails on the chunk size
        String badChunk = "POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
        assertGoogleError(RawHttp.send(port, badChunk.getBytes(StandardCharsets.US_ASCII)), 400, "INVALID_ARGUMENT");
    }

    @Test
    void everyAnswerCarriesTheSecurityHeadersAndCredentialAnswersAreNotStored() throws Exception {
        RawHttp.Response health = get("/healthz");
        assertEquals(200, health.status());
        assertSecurityHeaders(health);
        assertNull(health.header("Strict-Transport-Security"), "no HSTS over plain HTTP");
        assertSecurityHeaders(get("/.well-known/openid-configuration"));

        String token = Callers.token(port, server.auth().store(), "headers-project");
        String bearer = "Authorization: Bearer " + token + "\r\n";
        for (String path : new String[]{"/v1beta/models", "/v1/tunedModels", "/v1beta/apiKeys", "/v1beta/nothing"}) {
            RawHttp.Response r = get(path, bearer);
            assertSecurityHeaders(r);
            assertEquals("no-store", r.header("Cache-Control"), path);
        }
        String body = "{\"displayName\": \"k\"}";
        RawHttp.Response key = RawHttp.send(port, "POST /v1beta/apiKeys HTTP/1.1\r\nHost: localhost\r\n" + bearer
                + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body);
        assertEquals(200, key.status(), key.body());
        assertTrue(key.json().has("keyString"));
        assertEquals("no-store", key.header("Cache-Control"));
        assertSecurityHeaders(key);

        String form = "grant_type=client_credentials&client_id=nobody&client_secret=x";
        RawHttp.Response denied = RawHttp.send(port, "POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + form.length() + "\r\n\r\n" + form);
        assertEquals(401, denied.status(), denied.body());
        assertEquals("no-store", denied.header("Cache-Control"));
        assertSecurityHeaders(denied);

        var client = server.auth().store().createClient("headers-project");
        String granted = "grant_type=client_credentials&client_id=" + client.clientId() + "&client_secret="
                + client.clientSecret();
        RawHttp.Response issued = RawHttp.send(port, "POST /oauth2/token HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " + granted.length() + "\r\n\r\n"
                + granted);
        assertEquals(200, issued.status(), issued.body());
        assertEquals("no-store", issued.header("Cache-Control"), "an access token is never cached");
        assertSecurityHeaders(issued);
    }
}
