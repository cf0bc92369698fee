package dev.tuneforge.tuning;

import java.security.SecureRandom;
import java.util.Locale;

/** Ids as the Gemini API makes them: the display name slugged, plus a random suffix. */
public final class TunedModelIds {
    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
    private static final SecureRandom RANDOM = new SecureRandom();

    private TunedModelIds() {
    }

    public static String fromDisplayName(String displayName) {
        String slug = displayName == null ? "" : displayName.toLowerCase(Locale.ROOT)
                .replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
        if (slug.isEmpty() || !Character.isLetter(slug.charAt(0))) {
            slug = "tuned-model" + (slug.isEmpty() ? "" : "-" + slug);
        }
        if (slug.length() > 26) {
            slug = slug.substring(0, 26).replaceAll("-+$", "");
        }
        return slug + "-" + random(12);
    }

    /**
     * A new internal id (see {@code TunedModelRecord.uid}): the underscore keeps it apart from every public id
     * (which has none), so it never names the files of a model created before internal ids existed.
     */
    public static String uid() {
        return "tm_" + random(20);
    }

    public static String random(int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
        }
        return sb.toString();
    }
}
