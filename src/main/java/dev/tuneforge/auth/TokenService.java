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
 * Issues short-lived RS256 JWT access tokens (client-credentials grant) and validates bearer tokens: its own, and
 * those of a configured external OpenID Connect issuer (checked against that issuer's JWKS).
 */
public final class TokenService {
    public static final String AUDIENCE = "tuneforge";
    private final String issuer;
    private final SigningKeys keys;
    private final Duration ttl;
    private final ExternalIssuer external;
    private final DefaultJWTProcessor<SecurityContext> externalProcessor;

    public TokenService(String issuer, SigningKeys keys, Duration ttl, ExternalIssuer external) {
        this.issuer = issuer;
        this.keys = keys;
        this.ttl = ttl;
        this.external = external;
        this.externalProcessor = external == null ? null : processor(externalSource(external), external.issuer(), external.audience());
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

    public String issue(String subject, Set<String> projects, Set<String> scopes) {
        return issue(subject, projects, scopes, Instant.now(), ttl);
    }

    /** A token issued at {@code issuedAt}, valid for {@code lifetime} (tests mint expired ones with it). */
    public String issue(String subject, Set<String> projects, Set<String> scopes, Instant issuedAt, Duration lifetime) {
        JWTClaimsSet claims = new JWTClaimsSet.Builder().issuer(issuer).subject(subject).audience(AUDIENCE)
                .issueTime(Date.from(issuedAt)).notBeforeTime(Date.from(issuedAt))
                .expirationTime(Date.from(issuedAt.plus(lifetime))).jwtID(UUID.randomUUID().toString())
                .claim("scope", String.join(" ", new TreeSet<>(scopes)))
                .claim("projects", List.copyOf(new TreeSet<>(projects))).build();
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

    /** The caller a bearer token stands for; UNAUTHENTICATED when it is malformed, expired, forged or foreign. */
    public Caller verify(String token) {
        String tokenIssuer;
        try {
            tokenIssuer = SignedJWT.parse(token).getJWTClaimsSet().getIssuer();
        } catch (ParseException e) {
            throw AuthException.unauthenticated("the access token is not a valid JWT");
        }
        DefaultJWTProcessor<SecurityContext> processor;
        String projectsClaim = "projects";
        if (issuer.equals(tokenIssuer)) {
            processor = processor(new ImmutableJWKSet<>(keys.publicKeys()), issuer, AUDIENCE);
        } else if (external != null && external.issuer().equals(tokenIssuer)) {
            processor = externalProcessor;
            projectsClaim = external.projectsClaim();
        } else {
            throw AuthException.unauthenticated("the access token comes from an unknown issuer");
        }
        JWTClaimsSet claims;
        try {
            claims = processor.process(token, null);
        } catch (BadJOSEException e) {
            String why = e.getMessage() != null && e.getMessage().toLowerCase().contains("expired")
                    ? "the access token has expired" : "the access token is invalid (" + e.getMessage() + ")";
            throw AuthException.unauthenticated(why);
        } catch (ParseException | JOSEException e) {
            throw AuthException.unauthenticated("the access token cannot be verified");
        }
        return new Caller(claims.getSubject(), scopes(claims), projects(claims, projectsClaim), false);
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

    private static DefaultJWTProcessor<SecurityContext> processor(JWKSource<SecurityContext> source, String iss, String aud) {
        DefaultJWTProcessor<SecurityContext> p = new DefaultJWTProcessor<>();
        p.setJWSKeySelector(new JWSVerificationKeySelector<>(Set.of(JWSAlgorithm.RS256, JWSAlgorithm.ES256), source));
        p.setJWTClaimsSetVerifier(new DefaultJWTClaimsVerifier<>(aud,
                new JWTClaimsSet.Builder().issuer(iss).build(), Set.of("sub", "exp", "iat")));
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
