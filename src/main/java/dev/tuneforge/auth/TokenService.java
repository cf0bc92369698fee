package dev.tuneforge.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.MalformedURLException;
import java.net.URI;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Date;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Issues short-lived RS256 JWT access tokens (client-credentials grant), validates bearer tokens — its own (also
 * against the database: {@link IssuedTokens}) and those of a configured external OpenID Connect issuer (checked
 * against that issuer's JWKS) — and revokes its own.
 */
public final class TokenService {
    private static final Logger LOG = LoggerFactory.getLogger(TokenService.class);
    public static final String AUDIENCE = "tuneforge";
    /** The claim carrying the client's token generation when the token was issued ({@link OAuthClient}). */
    static final String GENERATION_CLAIM = "token_generation";
    private final String issuer;
    private final SigningKeys keys;
    private final Duration ttl;
    private final ExternalIssuer external;
    private final DefaultJWTProcessor<SecurityContext> externalProcessor;
    private final IssuedTokens issuedTokens;

    public TokenService(String issuer, SigningKeys keys, Duration ttl, ExternalIssuer external, IssuedTokens issuedTokens) {
        this.issuer = issuer;
        this.issuedTokens = issuedTokens;
        this.keys = keys;
        this.ttl = ttl;
        this.external = external;
        this.externalProcessor = external == null ? null : processor(externalSource(external), external.issuer(), external.audience(),
                Set.of("sub", "exp", "iat"));
    }

    public String issuer() {
        return issuer;
    }

    public Duration ttl() {
        return ttl;
    }

    public SigningKeys keys() {
        return keys;
    }

    /** A token for the client, with its projects and token generation. */
    public String issue(OAuthClient client, Set<String> scopes) {
        return issue(client, scopes, Instant.now(), ttl);
    }

    /** A token issued at {@code issuedAt}, valid for {@code lifetime} (tests mint expired ones with it). */
    public String issue(OAuthClient client, Set<String> scopes, Instant issuedAt, Duration lifetime) {
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(issuer).subject(client.clientId()).audience(AUDIENCE)
                .issueTime(Date.from(issuedAt)).notBeforeTime(Date.from(issuedAt))
                .expirationTime(Date.from(issuedAt.plus(lifetime))).jwtID(UUID.randomUUID().toString())
                .claim("scope", String.join(" ", new TreeSet<>(scopes)))
                .claim("projects", List.copyOf(new TreeSet<>(client.projects())))
                .claim(GENERATION_CLAIM, client.tokenGeneration()).build();
        var key = keys.current();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.RS256).keyID(key.getKeyID())
                .type(JOSEObjectType.JWT).build(), claims);
        try {
            jwt.sign(new RSASSASigner(key));
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign token", e);
        }
        return jwt.serialize();
    }

    /**
     * The caller a bearer token stands for; UNAUTHENTICATED when it is malformed, expired, forged or foreign, and
     * for this server's own tokens also when revoked or when its client is gone, disabled or has rotated its secret.
     */
    public Caller verify(String token) {
        String tokenIssuer;
        try {
            tokenIssuer = SignedJWT.parse(token).getJWTClaimsSet().getIssuer();
        } catch (ParseException e) {
            throw AuthException.invalidToken("the access token is not a valid JWT");
        }
        if (issuer.equals(tokenIssuer)) {
            JWTClaimsSet claims = process(ownProcessor(), token);
            requireStanding(claims);
            return new Caller(claims.getSubject(), scopes(claims), projects(claims, "projects"), false,
                    Identities.clientAddress(claims.getSubject()), Set.of());
        }
        if (external != null && external.issuer().equals(tokenIssuer)) {
            JWTClaimsSet claims = process(externalProcessor, token);
            return new Caller(claims.getSubject(), scopes(claims), projects(claims, external.projectsClaim()), false,
                    verifiedEmail(claims), projects(claims, external.groupsClaim()));
        }
        throw AuthException.invalidToken("the access token comes from an unknown issuer");
    }

    /**
     * Revokes {@code token} for {@code clientId} (RFC 7009): only a valid token of this server issued to that client
     * is recorded; anything else is left alone, and the caller is not told which happened.
     */
    public void revoke(String token, String clientId) {
        JWTClaimsSet claims;
        try {
            if (!issuer.equals(SignedJWT.parse(token).getJWTClaimsSet().getIssuer())) {
                return;
            }
            claims = ownProcessor().process(token, null);
        } catch (ParseException | BadJOSEException | JOSEException e) {
            return;
        }
        if (clientId.equals(claims.getSubject())) {
            issuedTokens.revoke(claims.getJWTID(), clientId, claims.getExpirationTime().toInstant());
            LOG.info("revoked access token jti={} of client_id={}", claims.getJWTID(), clientId);
        }
    }

    private void requireStanding(JWTClaimsSet claims) {
        long generation;
        try {
            Long claimed = claims.getLongClaim(GENERATION_CLAIM);
            // tokens issued before generations existed were issued in the first one
            generation = claimed == null ? 1 : claimed;
        } catch (ParseException e) {
            throw AuthException.invalidToken("the access token is invalid (" + GENERATION_CLAIM + " is not a number)");
        }
        switch (issuedTokens.standing(claims.getSubject(), claims.getJWTID(), generation)) {
            case VALID -> {
            }
            case REVOKED -> throw AuthException.invalidToken("the access token has been revoked");
            case CLIENT_UNKNOWN -> throw AuthException.invalidToken("the access token's client no longer exists");
            case CLIENT_DISABLED -> throw AuthException.invalidToken("the access token's client is disabled");
            case SUPERSEDED -> throw AuthException.invalidToken("the access token was issued before its client's "
                    + "secret was rotated or the client was disabled");
        }
    }

    private static JWTClaimsSet process(DefaultJWTProcessor<SecurityContext> processor, String token) {
        try {
            return processor.process(token, null);
        } catch (BadJOSEException e) {
            if (e.getMessage() != null && e.getMessage().toLowerCase().contains("expired")) {
                throw AuthException.expiredToken("the access token has expired");
            }
            throw AuthException.invalidToken("the access token is invalid (" + e.getMessage() + ")");
        } catch (ParseException | JOSEException e) {
            throw AuthException.invalidToken("the access token cannot be verified");
        }
    }

    private DefaultJWTProcessor<SecurityContext> ownProcessor() {
        return processor(new ImmutableJWKSet<>(keys.publicKeys()), issuer, AUDIENCE, Set.of("sub", "exp", "iat", "jti"));
    }

    /** The external user's email address, unless the issuer says it is not verified (or the token has none). */
    private String verifiedEmail(JWTClaimsSet claims) {
        Object email = claims.getClaim(external.emailClaim());
        Object verified = claims.getClaim("email_verified");
        if (!(email instanceof String address) || address.isBlank() || !address.contains("@")
                || Boolean.FALSE.equals(verified) || "false".equals(verified)) {
            return null;
        }
        return Identities.normalized(address);
    }

    private static Set<String> scopes(JWTClaimsSet claims) {
        Object scope = claims.getClaim("scope");
        if (scope == null) {
            scope = claims.getClaim("scp");
        }
        Set<String> out = new HashSet<>();
        if (scope instanceof String s) {
            out.addAll(Arrays.asList(s.trim().split("\\s+")));
        } else if (scope instanceof List<?> l) {
            l.forEach(x -> out.add(String.valueOf(x)));
        }
        out.remove("");
        return Set.copyOf(out);
    }

    private static Set<String> projects(JWTClaimsSet claims, String claim) {
        Object v = claims.getClaim(claim);
        Set<String> out = new TreeSet<>();
        if (v instanceof String s) {
            out.addAll(Arrays.asList(s.trim().split("[\\s,]+")));
        } else if (v instanceof List<?> l) {
            l.forEach(x -> out.add(String.valueOf(x)));
        }
        out.remove("");
        return Set.copyOf(out);
    }

    private static DefaultJWTProcessor<SecurityContext> processor(JWKSource<SecurityContext> source, String iss, String aud,
                                                                  Set<String> requiredClaims) {
        DefaultJWTProcessor<SecurityContext> p = new DefaultJWTProcessor<>();
        p.setJWSKeySelector(new JWSVerificationKeySelector<>(Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256), source));
        p.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(aud,
                new JWTClaimsSet.Builder().issuer(iss).build(), requiredClaims));
        return p;
    }

    private static JWKSource<SecurityContext> externalSource(ExternalIssuer e) {
        try {
            return JWKSourceBuilder.create(URI.create(e.jwksUrl()).toURL()).retrying(true).build();
        } catch (MalformedURLException ex) {
            throw new IllegalArgumentException("external issuer jwksUrl is not a URL: " + e.jwksUrl());
        }
    }
}
