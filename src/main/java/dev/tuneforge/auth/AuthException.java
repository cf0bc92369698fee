package dev.tuneforge.auth;

import dev.tuneforge.tuning.ServiceException;

/** Missing or invalid credentials (UNAUTHENTICATED) or insufficient rights (PERMISSION_DENIED). */
public final class AuthException extends ServiceException {
    private AuthException(Code code, String message) {
        super(code, message);
    }

    public static AuthException unauthenticated(String message) {
        return new AuthException(Code.UNAUTHENTICATED, message);
    }

    public static AuthException denied(String message) {
        return new AuthException(Code.PERMISSION_DENIED, message);
    }
}
