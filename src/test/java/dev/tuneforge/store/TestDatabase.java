package dev.tuneforge.store;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The database the suites that run on both run against: SQLite in the data directory, or, with the system property
 * {@code tuneforge.test.database=postgresql} (the pom's second surefire run), a fresh database on the test JVM's
 * PostgreSQL server per data directory (a test that restarts its server on one data directory finds its data again).
 */
public final class TestDatabase {
    private static final Map<Path, DatabaseSettings> BY_DATA_DIR = new ConcurrentHashMap<>();

    private TestDatabase() {
    }

    public static boolean postgres() {
        return "postgresql".equals(System.getProperty("tuneforge.test.database"));
    }

    /** The database of the server whose data directory is {@code dataDir}. */
    public static DatabaseSettings of(Path dataDir) {
        return postgres() ? BY_DATA_DIR.computeIfAbsent(dataDir.toAbsolutePath(), d -> TestPostgres.shared().newDatabase())
                : DatabaseSettings.sqlite();
    }

    /** The tables of the database {@code h} is connected to, but Flyway's own, by name. */
    public static java.util.List<String> tables(org.jdbi.v3.core.Handle h) {
        String sql = postgres()
                ? "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                : "SELECT name FROM sqlite_master WHERE type = 'table'";
        return h.createQuery(sql).mapTo(String.class).list().stream().filter(t -> !t.startsWith("flyway")).sorted()
                .toList();
    }

    /** Every row of every table of the database (but Flyway's), as text. */
    public static String dump(org.jdbi.v3.core.Jdbi jdbi) {
        StringBuilder out = new StringBuilder();
        jdbi.useHandle(h -> {
            for (String table : tables(h)) {
                out.append(table).append(": ");
                h.createQuery("SELECT * FROM " + table + " ORDER BY 1, 2").mapToMap().forEach(out::append);
                out.append('\n');
            }
        });
        return out.toString();
    }

    /** Opens that database directly (tests that look at or change stored rows). */
    public static Database open(Path dataDir) {
        return Database.open(of(dataDir), dataDir);
    }
}
