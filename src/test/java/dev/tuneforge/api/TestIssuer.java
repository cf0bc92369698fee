package dev.tuneforge.api;

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

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;

/** An external OpenID issuer for tests: a real JWKS endpoint on a random port, and tokens signed with its key. */
final class TestIssuer implements AutoCloseable {
    static final String ISSUER = "https://idp.example.test";
    static final String AUDIENCE = "tuneforge-api";
    private final RSAKey key;
    private final HttpServer jwks;

    TestIssuer() throws Exception {
        key = new RSAKeyGenerator(2048).keyID("idp-1").generate();
        jwks = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        byte[] body = new JWKSet(key.toPublicJWK()).toString().getBytes(StandardCharsets.UTF_8);
        jwks.createContext("/jwks", ex -> {
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        jwks.start();
    }

    ExternalIssuer config() {
        return new ExternalIssuer(ISSUER, "http://127.0.0.1:" + jwks.getAddress().getPort() + "/jwks", AUDIENCE,
                "projects", "email", "groups");
    }

    /** A token of user {@code subject} with {@code scope}, in {@code projects}, carrying further claims. */
    String token(String subject, List<String> projects, String scope, Map<String, Object> claims) {
        JWTClaimsSet.Builder b = new JWTClaimsSet.Builder().issuer(ISSUER).subject(subject).audience(AUDIENCE)
                .issueTime(new Date()).expirationTime(Date.from(Instant.now().plusSeconds(600)))
                .claim("projects", projects).claim("scope", scope);
        claims.forEach(b::claim);
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID()).build(), b.build());
        try {
            jwt.sign(new RSASSASigner(key));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
        return jwt.serialize();
    }

    @Override
    public void close() throws IOException {
        jwks.stop(0);
    }
}
