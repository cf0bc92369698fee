package dev.tuneforge.api;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Base64;

/**
 * The text of a list's page token: its fields joined by newlines, in unpadded URL-safe Base64. What the fields are,
 * and which values a list accepts, is each list's own (TunedModelPageToken, PermissionRoutes.PageToken).
 */
final class PageTokenText {
    private PageTokenText() {
    }

    static String encode(String... fields) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString(String.join("\n", fields).getBytes(StandardCharsets.UTF_8));
    }

    /** The token's fields, or null when it is not Base64 at all. */
    static String[] decode(String token) {
        try {
            return new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\n", -1);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    static boolean isInstant(String field) {
        try {
            Instant.parse(field);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
