package dev.tuneforge.tuning;

/** Google's two spellings of a field name: requests may use snake_case, everything inside uses lowerCamelCase. */
public final class FieldNames {
    private FieldNames() {
    }

    /** {@code top_p} → {@code topP}; a name without underscores, or an {@code @type}, is left as it is. */
    public static String camelCase(String name) {
        if (name.indexOf('_') < 0 || name.startsWith("@")) {
            return name;
        }
        StringBuilder sb = new StringBuilder(name.length());
        boolean upper = false;
        for (char c : name.toCharArray()) {
            if (c == '_') {
                upper = sb.length() > 0;
            } else {
                sb.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return sb.toString();
    }
}
