package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.tuneforge.auth.ExternalIssuer;
import dev.tuneforge.auth.Scopes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every access rule over real HTTP: tokens, scopes, API keys, projects, an external issuer. */
class AuthTest {
    private static final String EXTERNAL_ISSUER = "https://idp.example.test";
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static HttpServer idp;
    static RSAKey idpKey;
    static String p1Token;
    static String p1Model;

    @BeforeAll
    static void start() throws Exception {
        idpKey = new RSAKeyGenerator(2048).keyID("idp-1").generate();
        idp = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        byte[] jwks = new JWKSet(idpKey.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
        idp.createContext("/jwks", ex -> {
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, jwks.length);
            ex.getResponseBody().write(jwks);
            ex.close();
        });
        idp.start();
        ServerConfig config = TestServers.config(dataDir).withAuth(ServerConfig.Auth.defaults()
                .withExternal(new ExternalIssuer(EXTERNAL_ISSUER, "http://127.0.0.1:" + idp.getAddress().getPort() + "/jwks",
                        "tuneforge-api", "projects")));
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        p1Token = Callers.token(server.port(), server.auth().store(), "p1");
        Http p1 = new Http(server.port(), "p1", p1Token);
        JsonNode op = p1.post("/v1beta/tunedModels?tunedModelId=p1-model", SeedWalkthroughTest.SEED_BODY
                .replace("\"epoch_count\":5,", "\"epoch_count\":1,")).json();
        p1Model = op.get("metadata").get("tunedModel").asText();
        SeedWalkthroughTest.waitUntilDone(p1, op.get("name").asText());
    }

    @AfterAll
    static void stop() {
        server.close();
        idp.stop(0);
    }

    private static void expect(Http.Response r, int status, String code) {
        assertEquals(status, r.status(), r.body());
        assertEquals(code, r.json().get("error").get("status").asText(), r.body());
    }

    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}";

    @Test
    void noCredentialsIsUnauthenticated() {
        Http anonymous = Http.anonymous(server.port());
        expect(anonymous.get("/v1beta/tunedModels"), 401, "UNAUTHENTICATED");
        expect(anonymous.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY), 401, "UNAUTHENTICATED");
        expect(anonymous.post("/v1beta/" + p1Model + ":generateContent", GENERATE), 401, "UNAUTHENTICATED");
        expect(anonymous.get("/v1beta/models"), 401, "UNAUTHENTICATED");
        assertEquals(200, anonymous.get("/healthz").status());
    }

    @Test
    void badTokensAreUnauthenticated() {
        String expired = server.auth().tokens().issue(Callers.client(server.auth().store(), "p1"), Scopes.ALL,
                Instant.now().minus(Duration.ofHours(2)), Duration.ofHours(1));
        Http.Response r = new Http(server.port(), "p1", expired).get("/v1beta/tunedModels");
        expect(r, 401, "UNAUTHENTICATED");
        assertTrue(r.json().get("error").get("message").asText().contains("expired"), r.body());

        String[] parts = p1Token.split("\\.");
        String otherPayload = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(
                ("{\"iss\":\"tuneforge\",\"sub\":\"x\",\"aud\":\"tuneforge\",\"projects\":[\"p2\"],\"scope\":\""
                        + Scopes.TUNING + "\",\"exp\":" + (Instant.now().getEpochSecond() + 600) + ",\"iat\":"
                        + Instant.now().getEpochSecond() + "}").getBytes(StandardCharsets.UTF_8));
        expect(new Http(server.port(), "p2", parts[0] + "." + otherPayload + "." + parts[2]).get("/v1beta/tunedModels"),
                401, "UNAUTHENTICATED");
        expect(new Http(server.port(), "p1", "not-a-jwt").get("/v1beta/tunedModels"), 401, "UNAUTHENTICATED");

        Http.Response foreign = new Http(server.port(), "p1", externalToken("https://evil.example", "tuneforge-api",
                List.of("p1"), Scopes.TUNING)).get("/v1beta/tunedModels");
        expect(foreign, 401, "UNAUTHENTICATED");
        assertTrue(foreign.json().get("error").get("message").asText().contains("unknown issuer"));
    }

    @Test
    void aTokenWithoutATuningScopeCannotTune() {
        String readOnly = server.auth().tokens().issue(Callers.client(server.auth().store(), "p1"), Set.of("openid"));
        Http http = new Http(server.port(), "p1", readOnly);
        expect(http.get("/v1beta/tunedModels"), 403, "PERMISSION_DENIED");
        expect(http.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY), 403, "PERMISSION_DENIED");
        assertEquals(200, http.post("/v1beta/" + p1Model + ":generateContent", GENERATE).status());

        var c = server.auth().store().createClient("p1");
        Http.Response bad = Http.anonymous(server.port()).post("/oauth2/token", "grant_type=client_credentials&client_id="
                + c.clientId() + "&client_secret=" + c.clientSecret() + "&scope=email", "application/x-www-form-urlencoded");
        assertEquals(400, bad.status());
        assertEquals("invalid_scope", bad.json().get("error").asText());
        Http.Response wrongSecret = Http.anonymous(server.port()).post("/oauth2/token", "grant_type=client_credentials&client_id="
                + c.clientId() + "&client_secret=nope", "application/x-www-form-urlencoded");
        assertEquals(401, wrongSecret.status());
        assertEquals("invalid_client", wrongSecret.json().get("error").asText());
        String tuningOnly = Callers.token(server.port(), c.clientId(), c.clientSecret(), Scopes.TUNING);
        assertEquals(200, new Http(server.port(), "p1", tuningOnly).get("/v1beta/tunedModels").status());
    }

    @Test
    void apiKeysUseModelsButCannotTuneAndStopWorkingWhenRevoked() {
        Http p1 = new Http(server.port(), "p1", p1Token);
        JsonNode created = p1.post("/v1beta/apiKeys", "{\"displayName\": \"test key\"}").json();
        String key = created.get("keyString").asText();
        Http withKey = Http.withApiKey(server.port(), key);
        assertEquals(200, withKey.post("/v1beta/" + p1Model + ":generateContent", GENERATE).status());
        assertEquals(200, withKey.get("/v1beta/" + p1Model).status());
        assertEquals(200, withKey.post("/v1beta/" + p1Model + ":countTokens", GENERATE).status());
        assertEquals(200, Http.anonymous(server.port()).post("/v1beta/" + p1Model + ":generateContent?key=" + key, GENERATE).status());
        expect(withKey.get("/v1beta/tunedModels"), 401, "UNAUTHENTICATED");
        expect(withKey.post("/v1beta/tunedModels", SeedWalkthroughTest.SEED_BODY), 401, "UNAUTHENTICATED");

        JsonNode listed = p1.get("/v1beta/apiKeys").json().get("keys");
        assertFalse(listed.toString().contains(key), "listing never shows the key");
        String id = created.get("name").asText().substring("apiKeys/".length());
        assertEquals(200, p1.delete("/v1beta/apiKeys/" + id).status());
        Http.Response revoked = withKey.post("/v1beta/" + p1Model + ":generateContent", GENERATE);
        expect(revoked, 400, "INVALID_ARGUMENT"); // as Google answers an invalid API key, with reason API_KEY_INVALID
        assertFalse(revoked.body().contains(key), "errors never echo credentials");
    }

    @Test
    void projectsCannotSeeEachOther() {
        String p2Token = Callers.token(server.port(), server.auth().store(), "p2");
        Http p2 = new Http(server.port(), "p2", p2Token);
        expect(p2.get("/v1beta/" + p1Model), 404, "NOT_FOUND");
        expect(p2.post("/v1beta/" + p1Model + ":generateContent", GENERATE), 404, "NOT_FOUND");
        assertFalse(p2.get("/v1beta/tunedModels").body().contains("p1-model"));
        Http p2ActingForP1 = new Http(server.port(), "p1", p2Token);
        expect(p2ActingForP1.get("/v1beta/tunedModels"), 403, "PERMISSION_DENIED");
        expect(p2ActingForP1.post("/v1beta/" + p1Model + ":generateContent", GENERATE), 403, "PERMISSION_DENIED");
        String p2Key = p2.post("/v1beta/apiKeys", "{}").json().get("keyString").asText();
        expect(Http.withApiKey(server.port(), p2Key).post("/v1beta/" + p1Model + ":generateContent", GENERATE), 404, "NOT_FOUND");
    }

    @Test
    void externalIssuerTokensAreValidatedAgainstItsJwks() {
        String good = externalToken(EXTERNAL_ISSUER, "tuneforge-api", List.of("ext-project"), Scopes.TUNING);
        Http ext = new Http(server.port(), "ext-project", good);
        assertEquals(200, ext.get("/v1beta/tunedModels").status());
        expect(new Http(server.port(), "p1", good).get("/v1beta/tunedModels"), 403, "PERMISSION_DENIED");
        String wrongAudience = externalToken(EXTERNAL_ISSUER, "someone-else", List.of("ext-project"), Scopes.TUNING);
        expect(new Http(server.port(), "ext-project", wrongAudience).get("/v1beta/tunedModels"), 401, "UNAUTHENTICATED");
    }

    @Test
    void aTokenOfNoProjectIsConsumerInvalidAndOfSeveralNeedsTheHeader() {
        String none = externalToken(EXTERNAL_ISSUER, "tuneforge-api", List.of(), Scopes.TUNING);
        ErrorDetailsTest.errorInfo(new Http(server.port(), null, none).get("/v1beta/tunedModels"), 403,
                "PERMISSION_DENIED", "CONSUMER_INVALID");
        String several = externalToken(EXTERNAL_ISSUER, "tuneforge-api", List.of("ext-a", "ext-b"), Scopes.TUNING);
        JsonNode violation = ErrorDetailsTest.fieldViolation(new Http(server.port(), null, several)
                .get("/v1beta/tunedModels"));
        assertTrue(violation.get("description").asText().contains("x-goog-user-project is required"), violation.toString());
        assertEquals(200, new Http(server.port(), "ext-b", several).get("/v1beta/tunedModels").status());
    }

    @Test
    void rotatedKeysSignNewTokensAndOldTokensStayValid() {
        String before = Callers.token(server.port(), server.auth().store(), "p1");
        server.auth().tokens().keys().rotate();
        String after = Callers.token(server.port(), server.auth().store(), "p1");
        assertNotEquals(kid(before), kid(after));
        assertEquals(200, new Http(server.port(), "p1", before).get("/v1beta/tunedModels").status());
        assertEquals(200, new Http(server.port(), "p1", after).get("/v1beta/tunedModels").status());
        JsonNode jwks = Http.anonymous(server.port()).get("/oauth2/jwks").json();
        assertTrue(jwks.get("keys").size() >= 2);
        assertFalse(jwks.toString().contains("\"d\""), "only public keys are published");
    }

    @Test
    void credentialsNeverReachLogsOrStoredMetadata() throws Exception {
        var c = server.auth().store().createClient("p1");
        PrintStream old = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        String token;
        String key;
        try {
            System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
            token = Callers.token(server.port(), c.clientId(), c.clientSecret(), null);
            Http http = new Http(server.port(), "p1", token);
            key = http.post("/v1beta/apiKeys", "{}").json().get("keyString").asText();
            Http.anonymous(server.port()).post("/v1beta/" + p1Model + ":generateContent?key=" + key, GENERATE);
            Http.anonymous(server.port()).post("/v1beta/" + p1Model + ":generateContent?key=wrong-" + key, GENERATE);
        } finally {
            System.setErr(old);
        }
        String log = captured.toString(StandardCharsets.UTF_8);
        assertTrue(log.contains("request_id="), "the requests were logged");
        for (String secret : List.of(c.clientSecret(), token, key)) {
            assertFalse(log.contains(secret), "a credential appeared in the log");
        }
        String dbText;
        String wal = "";
        if (dev.tuneforge.store.TestDatabase.postgres()) {
            dbText = dev.tuneforge.store.TestDatabase.dump(server.database().jdbi());
        } else {
            dbText = new String(Files.readAllBytes(dataDir.resolve("tuneforge.db")), StandardCharsets.ISO_8859_1);
            wal = Files.exists(dataDir.resolve("tuneforge.db-wal"))
                    ? new String(Files.readAllBytes(dataDir.resolve("tuneforge.db-wal")), StandardCharsets.ISO_8859_1) : "";
        }
        for (String secret : List.of(c.clientSecret(), key)) {
            assertFalse(dbText.contains(secret) || wal.contains(secret), "a secret was stored in clear");
        }
    }

    private static String kid(String token) {
        try {
            return SignedJWT.parse(token).getHeader().getKeyID();
        } catch (java.text.ParseException e) {
            throw new AssertionError(e);
        }
    }

    private static String externalToken(String issuer, String audience, List<String> projects, String scope) {
        try {
            JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(issuer).subject("user@example.test").audience(audience)
                    .issueTime(new Date()).expirationTime(Date.from(Instant.now().plusSeconds(600)))
                    .claim("projects", projects).claim("scope", scope).build();
            SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(idpKey.getKeyID()).build(), claims);
            jwt.sign(new RSASSASigner(idpKey));
            return jwt.serialize();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
