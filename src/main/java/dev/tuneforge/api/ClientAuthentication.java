package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.ClientVerification;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.auth.OAuthClient;
import io.javalin.http.Context;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * Client authentication at the token and revocation endpoints: client id and secret as form fields
 * ({@code client_secret_post}) or HTTP Basic ({@code client_secret_basic}), behind the login throttle.
 */
final class ClientAuthentication {
    private final AuthStore store;
    private final LoginThrottle throttle;

    ClientAuthentication(AuthStore store, LoginThrottle throttle) {
        this.store = store;
        this.throttle = throttle;
    }

    /** The authenticated client; an {@link OAuthException} (401 invalid_client, 429 slow_down) otherwise. */
    OAuthClient authenticate(Context ctx) {
        String clientId = ctx.formParam("client_id");
        String secret = ctx.formParam("client_secret");
        String authorization = ctx.header("Authorization");
        boolean basic = authorization != null && authorization.regionMatches(true, 0, "Basic ", 0, 6);
        if (basic) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(authorization.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw OAuthException.invalidClient("malformed Basic credentials", true);
            }
            int colon = decoded.indexOf(':');
            if (colon > 0) {
                clientId = URLDecoder.decode(decoded.substring(0, colon), StandardCharsets.UTF_8);
                secret = URLDecoder.decode(decoded.substring(colon + 1), StandardCharsets.UTF_8);
            }
        }
        if (clientId == null || secret == null) {
            throw OAuthException.invalidClient("client_id and client_secret are required", basic);
        }
        String address = ClientAddress.of(ctx);
        var wait = throttle.blocked(clientId, address);
        if (wait.isPresent()) {
            throw OAuthException.slowDown(wait.get());
        }
        return switch (store.verifyClient(clientId, secret)) {
            case ClientVerification.Verified v -> {
                throttle.succeeded(clientId, address);
                yield v.client();
            }
            case ClientVerification.Disabled d -> throw OAuthException.invalidClient("client '" + d.clientId()
                    + "' is disabled", basic);
            case ClientVerification.Rejected r -> {
                throttle.failed(clientId, address);
                throw OAuthException.invalidClient("unknown client or wrong secret", basic);
            }
        };
    }
}
