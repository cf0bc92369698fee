package dev.tuneforge.auth;

/**
 * An external OpenID Connect issuer whose JWT access tokens are accepted: its issuer URL, JWKS URL, the audience
 * tokens must carry, and the claim listing the caller's projects.
 */
public record ExternalIssuer(String issuer, String jwksUrl, String audience, String projectsClaim) {
    public ExternalIssuer {
        if (issuer == null || jwksUrl == null || audience == null) {
            throw new IllegalArgumentException("an external issuer needs issuer, jwksUrl and audience");
        }
        projectsClaim = projectsClaim == null ? "projects" : projectsClaim;
    }
}
