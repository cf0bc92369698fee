package dev.tuneforge.store;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.Map;

/**
 * Which database a process uses: the embedded SQLite file in the data directory (the default, one process), or a
 * PostgreSQL server shared by any number of API and worker processes ({@code jdbc:postgresql://host:port/db}). The
 * user and password come from the URL ({@code ?user=...&password=...}) or else from {@code TUNEFORGE_DATABASE_USER}
 * and {@code TUNEFORGE_DATABASE_PASSWORD}.
 */
public record DatabaseSettings(String url, String user, String password) {
    public static final String SQLITE_FILE = "tuneforge.db";

    public DatabaseSettings {
        if (url != null && !url.startsWith("jdbc:postgresql://") && !url.startsWith("jdbc:sqlite:")) {
            throw new IllegalArgumentException("database url must start with jdbc:postgresql:// (or jdbc:sqlite:), got "
                    + redact(url));
        }
    }

    /** The embedded default: SQLite in the data directory. */
    public static DatabaseSettings sqlite() {
        return new DatabaseSettings(null, null, null);
    }

    /**
     * {@code url} (null: SQLite in the data directory) with the user and password of the environment when the URL
     * has none.
     */
    public static DatabaseSettings of(String url, Map<String, String> env) {
        if (url == null || url.isBlank()) {
            return sqlite();
        }
        return new DatabaseSettings(url.trim(), env.get("TUNEFORGE_DATABASE_USER"), env.get("TUNEFORGE_DATABASE_PASSWORD"));
    }

    /** The config file's {@code "database": {"url": ...}} (absent: SQLite). */
    public static DatabaseSettings read(JsonNode database, Map<String, String> env) {
        if (database.isMissingNode() || database.isNull()) {
            return sqlite();
        }
        if (!database.isObject()) {
            throw new IllegalArgumentException("database must be an object like {\"url\": \"jdbc:postgresql://...\"}");
        }
        for (var it = database.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!key.equals("url")) {
                throw new IllegalArgumentException("database." + key + " is not a setting; database.url is (user and "
                        + "password go in the URL or TUNEFORGE_DATABASE_USER / TUNEFORGE_DATABASE_PASSWORD)");
            }
        }
        JsonNode url = database.path("url");
        if (!url.isTextual()) {
            throw new IllegalArgumentException("database.url must be a string, not " + url);
        }
        return of(url.asText(), env);
    }

    /** This, unless {@code overrideUrl} (a command-line option) names another database. */
    public DatabaseSettings overriddenBy(String overrideUrl, Map<String, String> env) {
        return overrideUrl == null ? this : of(overrideUrl, env);
    }

    /** Whether this is a server other processes can share (PostgreSQL), not the embedded SQLite file. */
    public boolean shared() {
        return url != null && url.startsWith("jdbc:postgresql://");
    }

    /** The SQLite file: the URL's, or tuneforge.db in {@code dataDir}. */
    public Path sqliteFile(Path dataDir) {
        return url == null ? dataDir.resolve(SQLITE_FILE) : Path.of(url.substring("jdbc:sqlite:".length()));
    }

    /** Where the database is, for messages: never a password. */
    public String describe(Path dataDir) {
        return shared() ? redact(url) : "SQLite " + sqliteFile(dataDir).toAbsolutePath();
    }

    static String redact(String url) {
        return url.replaceAll("(?i)(password=)[^&;]*", "$1***").replaceAll("//([^/@:]+):[^/@]*@", "//$1:***@");
    }

    @Override
    public String toString() {
        return url == null ? "SQLite" : redact(url);
    }
}
