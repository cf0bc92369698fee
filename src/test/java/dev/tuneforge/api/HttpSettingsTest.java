package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config file's "http" section: values, defaults, and errors that name the key. */
class HttpSettingsTest {
    @TempDir
    Path dir;

    private ServerConfig read(String http) throws IOException {
        Path file = dir.resolve("tuneforge.json");
        Files.writeString(file, "{\"baseModels\": [{\"id\": \"stories-260k\", \"path\": \"models/stories-260k\"}]"
                + (http == null ? "" : ", \"http\": " + http) + "}");
        return ServerConfig.read(file, dir.resolve("data"));
    }

    private String error(String http) {
        return assertThrows(IllegalArgumentException.class, () -> read(http)).getMessage();
    }

    @Test
    void absentSectionIsTheDefaults() throws IOException {
        HttpSettings h = read(null).http();
        assertNull(h.publicBaseUrl());
        assertNull(h.tls());
        assertTrue(h.trustedProxies().isEmpty());
        assertEquals(Duration.ofSeconds(30), h.idleTimeout());
        assertEquals(Duration.ofSeconds(15), h.headerTimeout());
        assertEquals(4L * 1024 * 1024, h.maxBodyBytes());
        assertEquals(64L * 1024 * 1024, h.maxTuningBodyBytes());
        assertEquals(HttpSettings.defaults(), ServerConfig.defaults(dir, dir).http());
    }

    @Test
    void valuesAreRead() throws IOException {
        HttpSettings h = read("{\"publicBaseUrl\": \"https://tf.example.com/\", \"trusted_proxies\": [\"10.0.0.0/8\", \"::1\"],"
                + "\"idleTimeoutSeconds\": 60, \"headerTimeoutSeconds\": 2.5, \"maxBodyBytes\": 1000, \"maxTuningBodyBytes\": 2000,"
                + "\"tls\": {\"certificateChain\": \"certs/chain.pem\", \"privateKey\": \"certs/key.pem\"}}").http();
        assertEquals("https://tf.example.com", h.publicBaseUrl());
        assertEquals(2, h.trustedProxies().size());
        assertTrue(h.trustedProxies().get(1).contains(InetAddress.getByName("::1")));
        assertEquals(Duration.ofSeconds(60), h.idleTimeout());
        assertEquals(Duration.ofMillis(2500), h.headerTimeout());
        assertEquals(1000, h.maxBodyBytes());
        assertEquals(2000, h.maxTuningBodyBytes());
        assertEquals(dir.resolve("certs/chain.pem").toAbsolutePath(), h.tls().certificateChain().toAbsolutePath());
        assertTrue(h.servesTls());
    }

    @Test
    void badValuesNameTheKey() {
        assertTrue(error("{\"publicBaseUrl\": \"tf.example.com\"}").contains("http.publicBaseUrl: 'tf.example.com' must be"));
        assertTrue(error("{\"trustedProxies\": \"10.0.0.0/8\"}").contains("http.trustedProxies must be a list"));
        assertTrue(error("{\"trustedProxies\": [\"10.0.0.0/8\", \"proxy.local\"]}").contains("http.trustedProxies[1]: "
                + "'proxy.local' is not an IP address or CIDR range"));
        assertTrue(error("{\"idleTimeoutSeconds\": 0}").contains("http.idleTimeoutSeconds must be a number of seconds above 0"));
        assertTrue(error("{\"headerTimeoutSeconds\": \"ten\"}").contains("http.headerTimeoutSeconds must be"));
        assertTrue(error("{\"maxBodyBytes\": -1}").contains("http.maxBodyBytes must be a whole number of bytes above 0"));
        assertTrue(error("{\"maxTuningBodyBytes\": 1.5}").contains("http.maxTuningBodyBytes must be"));
        assertTrue(error("{\"tsl\": {}}").contains("http has an unknown key 'tsl'"));
        assertTrue(error("{\"tls\": {\"certificateChain\": \"a.pem\"}}").contains("http.tls needs both certificateChain and privateKey"));
        assertTrue(error("{\"tls\": {\"keystore\": \"a.p12\", \"privateKey\": \"k.pem\"}}").contains("not both"));
        assertTrue(error("{\"tls\": {\"keystore\": 5}}").contains("http.tls.keystore must be a string"));
        assertTrue(error("{\"tls\": {\"certificate\": \"a.pem\"}}").contains("http.tls has an unknown key 'certificate'"));
        assertTrue(error("[]").contains("http must be an object"));
        assertTrue(error("{\"idleTimeoutSeconds\": 0}").startsWith(dir.resolve("tuneforge.json").toString()),
                "the message names the file too");
    }
}
