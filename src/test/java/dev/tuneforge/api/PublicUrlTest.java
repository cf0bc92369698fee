package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The discovery document's endpoints come from the configured public URL, never from the request's Host header. */
class PublicUrlTest {
    @TempDir
    Path dataDir;

    private static JsonNode discoveryWithForgedHost(int port) throws Exception {
        RawHttp.Response r = RawHttp.send(port, "GET /.well-known/openid-configuration HTTP/1.1\r\n"
                + "Host: evil.example\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\n\r\n");
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    @Test
    void aForgedHostHeaderGetsTheConfiguredUrl() throws Exception {
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                .withHttp(HttpSettings.defaults().withPublicBaseUrl("https://tuneforge.example.com/"));
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            JsonNode doc = discoveryWithForgedHost(server.port());
            assertEquals("https://tuneforge.example.com/oauth2/token", doc.get("token_endpoint").asText());
            assertEquals("https://tuneforge.example.com/oauth2/jwks", doc.get("jwks_uri").asText());
        }
    }

    @Test
    void withoutOneTheUrlIsWhereTheServerListens() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            String expected = "http://127.0.0.1:" + server.port();
            assertEquals(expected, server.publicBaseUrl());
            assertEquals(expected + "/oauth2/token", discoveryWithForgedHost(server.port()).get("token_endpoint").asText());
        }
    }

    @Test
    void derivedUrls() {
        assertEquals("http://localhost:8080", PublicBaseUrl.derive("0.0.0.0", 8080, false));
        assertEquals("https://localhost:8443", PublicBaseUrl.derive("::", 8443, true));
        assertEquals("http://[::1]:8080", PublicBaseUrl.derive("::1", 8080, false));
        assertEquals("https://tf.internal", PublicBaseUrl.derive("tf.internal", 443, true));
        assertEquals("http://10.1.2.3", PublicBaseUrl.derive("10.1.2.3", 80, false));
    }

    @Test
    void configuredUrlsAreChecked() {
        assertEquals("https://a.example/tuneforge", PublicBaseUrl.parse("https://a.example/tuneforge//", "x"));
        for (String bad : new String[]{"a.example", "ftp://a.example", "https://a.example/?q=1", "https://u:p@a.example",
                "http://", "not a url"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> PublicBaseUrl.parse(bad, "--public-url"), bad);
            assertTrue(e.getMessage().startsWith("--public-url: "), e.getMessage());
        }
    }
}
