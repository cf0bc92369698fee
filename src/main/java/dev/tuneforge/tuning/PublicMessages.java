package dev.tuneforge.tuning;

import java.util.regex.Pattern;

/** Messages of internal failures made fit for callers: server file paths are left out. */
public final class PublicMessages {
    /** An absolute path: a slash-separated run of at least two segments, as file system exceptions print them. */
    private static final Pattern ABSOLUTE_PATH = Pattern.compile("(?<![\\w.:/])/[^\\s'\",;:()\\[\\]]+(?:/[^\\s'\",;:()\\[\\]]*)+");

    private PublicMessages() {
    }

    /** {@code message} with every absolute path replaced by the path's last segment; "" for null. */
    public static String withoutPaths(String message) {
        if (message == null) {
            return "";
        }
        return ABSOLUTE_PATH.matcher(message).replaceAll(m -> {
            String path = m.group();
            String trimmed = path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
            return java.util.regex.Matcher.quoteReplacement(trimmed.substring(trimmed.lastIndexOf('/') + 1));
        });
    }
}
