package dev.tuneforge.cli;

import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;

/** {@code --database-url}: the shared PostgreSQL database of a cluster, instead of SQLite in the data directory. */
final class DatabaseOption {
    @Option(names = "--database-url", paramLabel = "URL", description = "jdbc:postgresql://HOST:PORT/DB[?user=U&password=P], "
            + "the database shared by a cluster's API and worker processes (default: database.url of the config, else "
            + "SQLite in the data directory); user and password also from TUNEFORGE_DATABASE_USER and "
            + "TUNEFORGE_DATABASE_PASSWORD")
    String url;

    /** The database this option names, else {@code configured}. */
    DatabaseSettings settings(DatabaseSettings configured) {
        return configured.overriddenBy(url, System.getenv());
    }

    /**
     * The existing database of a server (never a new, empty SQLite file: a mistyped data directory is an error);
     * PostgreSQL is migrated as the server would.
     */
    Database openExisting(Path dataDir) {
        DatabaseSettings settings = settings(DatabaseSettings.sqlite());
        if (!settings.shared() && !Files.isRegularFile(settings.sqliteFile(dataDir))) {
            throw new IllegalArgumentException("--data-dir " + dataDir + " has no " + DatabaseSettings.SQLITE_FILE
                    + ": is it the server's data directory? (or give --database-url)");
        }
        return Database.open(settings, dataDir);
    }

    /** The server's database, created when it does not exist yet. */
    Database open(Path dataDir) {
        return Database.open(settings(DatabaseSettings.sqlite()), dataDir);
    }
}
