package dev.tuneforge.api;

import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.tuning.InvalidRequestException;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * The page token of tunedModels.list: the position after the last model of the page (its create time, id and internal
 * id, the list's order: a list may hold models of several projects, whose ids can repeat) and the filter it was
 * issued for. Pages stay stable while models are created or deleted; a token
 * this server did not issue, or one used with another filter, is INVALID_ARGUMENT.
 */
record TunedModelPageToken(String createTime, String id, String uid, String filter) {
    private static final String VERSION = "t2";
    private static final Pattern UID = Pattern.compile("[a-z0-9_-]{1,80}");
    private static final Pattern ID = Pattern.compile("[a-z]([a-z0-9-]{0,78}[a-z0-9])?");

    String encode() {
        return PageTokenText.encode(VERSION, createTime, id, uid, filterKey(filter));
    }

    TunedModelStore.ListPosition position() {
        return new TunedModelStore.ListPosition(createTime, id, uid);
    }

    /** The token {@code token} (null when there is none) sent with {@code filter}. */
    static TunedModelPageToken parse(String token, String filter) {
        if (token == null) {
            return null;
        }
        String[] parts = PageTokenText.decode(token);
        if (parts == null || parts.length != 5 || !parts[0].equals(VERSION) || !ID.matcher(parts[2]).matches()
                || !UID.matcher(parts[3]).matches() || !PageTokenText.isInstant(parts[1])) {
            throw notIssued();
        }
        if (!parts[4].equals(filterKey(filter))) {
            throw new InvalidRequestException("page_token was issued for another filter; send the filter of the "
                    + "first page with every page");
        }
        return new TunedModelPageToken(parts[1], parts[2], parts[3], filter);
    }

    private static InvalidRequestException notIssued() {
        return new InvalidRequestException("page_token is not a token this server issued for tunedModels.list");
    }

    private static String filterKey(String filter) {
        String normalized = filter == null ? "" : String.join(" ", filter.trim().toLowerCase(java.util.Locale.ROOT).split("\\s+"));
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(normalized.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
