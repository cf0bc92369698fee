package dev.tuneforge.auth;

/**
 * An external OpenID Connect issuer whose JWT access tokens are accepted: its issuer URL, JWKS URL, the audience
 * tokens must carry, the claim listing the caller's projects, and for sharing the claims with the user's email
 * address (used unless {@code email_verified} is false) and its groups' addresses.
 */
public record ExternalIssuer(String issuer, String jwksUrl, String audience, String projectsClaim, String emailClaim,
                             String groupsClaim) {
    public ExternalIssuer {
        if (issuer == null || jwksUrl == null || audience == null) {
            throw new IllegalArgumentException("an external issuer needs issuer, jwksUrl and audience");
        }
        projectsClaim = projectsClaim == null ? "projects" : projectsClaim;
        emailClaim = emailClaim == null ? "email" : emailClaim;
        groupsClaim = groupsClaim == null ? "groups" : groupsClaim;
    }

    public ExternalIssuer(String issuer, String jwksUrl, String audience, String projectsClaim) {
        this(issuer, jwksUrl, audience, projectsClaim, null, null);
    }
}
