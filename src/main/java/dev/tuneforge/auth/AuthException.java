package dev.tuneforge.auth;

import dev.tuneforge.tuning.ErrorDetail;
import dev.tuneforge.tuning.ServiceException;

import java.util.List;
import java.util.Map;

/**
 * Missing or invalid credentials, or insufficient rights, with the code and {@code ErrorInfo} reason Google answers
 * the same mistake with (reasons from {@code google.api.ErrorReason}).
 */
public final class AuthException extends ServiceException {
    private AuthException(Code code, String message, List<ErrorDetail> details) {
        super(code, message, details);
    }

    private static AuthException withReason(Code code, String reason, Map<String, String> metadata, String message) {
        return new AuthException(code, message, List.of(new ErrorDetail.ErrorInfo(reason, metadata)));
    }

    /** No credentials where the method needs some (or only an API key where it needs an access token). */
    public static AuthException credentialsMissing(String message) {
        return withReason(Code.UNAUTHENTICATED, "CREDENTIALS_MISSING", Map.of(), message);
    }

    /** A bearer token that is not a valid access token of a trusted issuer (malformed, forged, revoked, ...). */
    public static AuthException invalidToken(String message) {
        return withReason(Code.UNAUTHENTICATED, "ACCESS_TOKEN_TYPE_UNSUPPORTED", Map.of(), message);
    }

    public static AuthException expiredToken(String message) {
        return withReason(Code.UNAUTHENTICATED, "ACCESS_TOKEN_EXPIRED", Map.of(), message);
    }

    /** An unknown or revoked API key: Google answers it 400 INVALID_ARGUMENT, not 401. */
    public static AuthException invalidApiKey(String message) {
        return withReason(Code.INVALID_ARGUMENT, "API_KEY_INVALID", Map.of(), message);
    }

    /** A valid token whose scopes do not cover the method. */
    public static AuthException scopeInsufficient(String message) {
        return withReason(Code.PERMISSION_DENIED, "ACCESS_TOKEN_SCOPE_INSUFFICIENT", Map.of(), message);
    }

    /** An {@code x-goog-user-project} the caller has no access to. */
    public static AuthException userProjectDenied(String project, String message) {
        return withReason(Code.PERMISSION_DENIED, "USER_PROJECT_DENIED", Map.of("consumer", "projects/" + project),
                message);
    }

    /** Credentials that stand for no project to act for. */
    public static AuthException consumerInvalid(String message) {
        return withReason(Code.PERMISSION_DENIED, "CONSUMER_INVALID", Map.of(), message);
    }

    /** UNAUTHENTICATED without a reason: for failures Google has no reason for. */
    public static AuthException unauthenticated(String message) {
        return new AuthException(Code.UNAUTHENTICATED, message, List.of());
    }

    /** PERMISSION_DENIED without a reason: the caller may not do this to this resource. */
    public static AuthException denied(String message) {
        return new AuthException(Code.PERMISSION_DENIED, message, List.of());
    }
}
