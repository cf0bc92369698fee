package dev.tuneforge.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS from a PKCS#12 keystore or PEM files, with certificates made at test time by the JDK's keytool; clear errors
 * naming the setting for files and passwords that will not do.
 */
class TlsTest {
    private static final String PASSWORD = "test-password";

    @TempDir
    static Path keys;
    @TempDir
    Path dataDir;

    static Path rsaKeystore;
    static Path ecKeystore;

    @BeforeAll
    static void makeCertificates() throws Exception {
        rsaKeystore = keytool("rsa.p12", "-keyalg", "RSA", "-keysize", "2048");
        ecKeystore = keytool("ec.p12", "-keyalg", "EC", "-groupname", "secp256r1");
    }

    /** A self-signed certificate for localhost and 127.0.0.1 in a new PKCS#12 keystore. */
    private static Path keytool(String name, String... keyOptions) throws Exception {
        Path file = keys.resolve(name);
        List<String> command = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "keytool").toString(), "-genkeypair", "-alias", "server",
                "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
                "-storetype", "PKCS12", "-keystore", file.toString(), "-storepass", PASSWORD, "-keypass", PASSWORD));
        command.addAll(List.of(keyOptions));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        return file;
    }

    private static KeyStore load(Path p12) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(p12)) {
            ks.load(in, PASSWORD.toCharArray());
        }
        return ks;
    }

    private static String pem(String label, byte[] der) {
        return "-----BEGIN " + label + "-----\n" + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(der) + "\n-----END " + label + "-----\n";
    }

    /** The keystore's certificate chain and PKCS#8 key as PEM files, as openssl would write them. */
    private static TlsSettings pemFiles(Path p12, String prefix) throws Exception {
        KeyStore ks = load(p12);
        StringBuilder chain = new StringBuilder();
        for (Certificate c : ks.getCertificateChain("server")) {
            chain.append(pem("CERTIFICATE", c.getEncoded()));
        }
        Path certFile = Files.writeString(keys.resolve(prefix + "-chain.pem"), chain);
        PrivateKey key = (PrivateKey) ks.getKey("server", PASSWORD.toCharArray());
        Path keyFile = Files.writeString(keys.resolve(prefix + "-key.pem"), pem("PRIVATE KEY", key.getEncoded()));
        return TlsSettings.pem(certFile, keyFile);
    }

    /** An HTTPS client that trusts exactly the keystore's certificate. */
    private static HttpClient trusting(Path p12) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("server", load(p12).getCertificate("server"));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ssl = SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        return HttpClient.newBuilder().sslContext(ssl).build();
    }

    private void servesHttps(TlsSettings tls, Path trusted) throws Exception {
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of(".")).withHttp(HttpSettings.defaults().withTls(tls));
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            String base = "https://127.0.0.1:" + server.port();
            assertEquals(base, server.publicBaseUrl());
            HttpClient client = trusting(trusted);
            HttpResponse<String> health = client.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, health.statusCode(), health.body());
            assertEquals("max-age=31536000", health.headers().firstValue("Strict-Transport-Security").orElse(null));
            assertEquals("nosniff", health.headers().firstValue("X-Content-Type-Options").orElse(null));
            assertTrue(health.sslSession().orElseThrow().getProtocol().matches("TLSv1\\.[23]"));
            HttpResponse<String> discovery = client.send(HttpRequest.newBuilder(URI.create(base
                    + "/.well-known/openid-configuration")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(base + "/oauth2/token", new ObjectMapper().readTree(discovery.body()).get("token_endpoint").asText());
        }
    }

    @Test
    void servesHttpsFromAPkcs12Keystore() throws Exception {
        servesHttps(TlsSettings.pkcs12(rsaKeystore, PASSWORD), rsaKeystore);
    }

    @Test
    void servesHttpsFromPemFiles() throws Exception {
        servesHttps(pemFiles(ecKeystore, "ec"), ecKeystore);
        servesHttps(pemFiles(rsaKeystore, "rsa"), rsaKeystore);
    }

    private static String startupError(TlsSettings tls) {
        return assertThrows(IllegalArgumentException.class, () -> TlsKeyStores.load(tls)).getMessage();
    }

    @Test
    void badFilesAndPasswordsAreNamedAtStartup() throws Exception {
        TlsSettings pem = pemFiles(rsaKeystore, "errors");
        Path missing = keys.resolve("missing.pem");
        assertTrue(startupError(TlsSettings.pem(missing, pem.privateKey())).startsWith("http.tls.certificateChain: " + missing
                + " does not exist"));
        assertTrue(startupError(TlsSettings.pem(pem.certificateChain(), missing)).startsWith("http.tls.privateKey: "));
        assertTrue(startupError(TlsSettings.pem(pem.privateKey(), pem.privateKey())).contains("has no PEM certificate"));
        assertTrue(startupError(TlsSettings.pem(pem.certificateChain(), pem.certificateChain())).contains("has no PEM private key"));
        TlsSettings other = pemFiles(ecKeystore, "other");
        String mismatch = startupError(TlsSettings.pem(pem.certificateChain(), other.privateKey()));
        assertTrue(mismatch.startsWith("http.tls.privateKey: "), mismatch);
        Path pkcs1 = Files.writeString(keys.resolve("pkcs1.pem"), "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n");
        assertTrue(startupError(TlsSettings.pem(pem.certificateChain(), pkcs1)).contains("openssl pkcs8 -topk8"));

        assertTrue(startupError(TlsSettings.pkcs12(rsaKeystore, "wrong")).startsWith("http.tls.keystorePassword: wrong password"));
        assertTrue(startupError(TlsSettings.pkcs12(missing, PASSWORD)).startsWith("http.tls.keystore: " + missing));
        assertTrue(startupError(TlsSettings.pkcs12(pem.certificateChain(), PASSWORD)).startsWith("http.tls.keystore: "));

        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                .withHttp(HttpSettings.defaults().withTls(TlsSettings.pkcs12(rsaKeystore, "wrong")));
        assertThrows(IllegalArgumentException.class, () -> new TuneforgeServer(config).close());
    }

    @Test
    void theKeystorePasswordMayComeFromTheEnvironment() throws Exception {
        Path file = keys.resolve("tuneforge.json");
        Files.writeString(file, "{\"baseModels\": [{\"id\": \"stories-260k\", \"path\": \"models/stories-260k\"}],"
                + "\"http\": {\"tls\": {\"keystore\": \"rsa.p12\"}}}");
        var tlsNode = GoogleJson.parseBody(Files.readString(file)).get("http");
        HttpSettings fromEnv = HttpSettings.read(tlsNode, keys, Map.of(TlsSettings.KEYSTORE_PASSWORD_ENV, PASSWORD));
        assertEquals(PASSWORD, fromEnv.tls().keystorePassword());
        assertEquals(rsaKeystore, fromEnv.tls().keystore());
        assertTrue(!fromEnv.tls().toString().contains(PASSWORD), "the password stays out of logs");
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> HttpSettings.read(tlsNode, keys, Map.of()));
        assertTrue(none.getMessage().contains("http.tls.keystorePassword is not set"), none.getMessage());
    }

    @Test
    void theConsoleSessionCookieIsSecureAndHostPrefixedOverHttps() throws Exception {
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                .withHttp(HttpSettings.defaults().withTls(TlsSettings.pkcs12(rsaKeystore, PASSWORD)));
        try (TuneforgeServer server = new TuneforgeServer(config).start("127.0.0.1", 0)) {
            var c = server.auth().store().createClient("p");
            String origin = "https://127.0.0.1:" + server.port();
            HttpResponse<String> r = trusting(rsaKeystore).send(HttpRequest.newBuilder(URI.create(origin + "/console/session"))
                    .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin)
                    .POST(HttpRequest.BodyPublishers.ofString("client_id=" + c.clientId() + "&client_secret=" + c.clientSecret()))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());
            String cookie = r.headers().firstValue("Set-Cookie").orElseThrow();
            assertTrue(cookie.startsWith("__Host-tuneforge_console=") && cookie.endsWith("; Secure")
                    && cookie.contains("; Path=/;") && cookie.contains("; HttpOnly") && !cookie.contains("Domain"), cookie);
        }
    }
}
