package dev.tuneforge.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

import javax.sql.DataSource;
import java.nio.file.Path;
import java.util.Map;

/**
 * The metadata database: SQLite in the data directory by default, or a shared PostgreSQL server (through a HikariCP
 * pool); one Flyway migration history for both. Migrations are portable SQL; the few column types that differ (the
 * job engine's table) come from the placeholders of {@link Dialect}.
 */
public final class Database implements AutoCloseable {
    private final DataSource dataSource;
    private final Dialect dialect;
    private final Jdbi jdbi;

    /** What differs between the two databases, as Flyway placeholders ({@code ${blob}}, {@code ${timestamp}}). */
    public enum Dialect {
        SQLITE(Map.of("blob", "BLOB", "timestamp", "TIMESTAMP", "boolean", "BOOLEAN")),
        POSTGRESQL(Map.of("blob", "BYTEA", "timestamp", "TIMESTAMP WITH TIME ZONE", "boolean", "BOOLEAN"));

        private final Map<String, String> placeholders;

        Dialect(Map<String, String> placeholders) {
            this.placeholders = placeholders;
        }
    }

    private Database(DataSource dataSource, Dialect dialect) {
        this.dataSource = dataSource;
        this.dialect = dialect;
        Flyway.configure().dataSource(dataSource).locations("classpath:db/migration")
                .placeholders(dialect.placeholders).load().migrate();
        this.jdbi = Jdbi.create(dataSource);
    }

    /** Opens (and migrates) the database {@code settings} name; SQLite's file lies in {@code dataDir} unless named. */
    public static Database open(DatabaseSettings settings, Path dataDir) {
        return settings.shared() ? postgres(settings) : sqlite(settings.sqliteFile(dataDir));
    }

    /** Opens (creating owner-only and migrating when needed) the SQLite database file {@code file}. */
    public static Database sqlite(Path file) {
        // the database holds training data: owner-only, as its -wal and -shm files will be (SQLite copies the mode)
        OwnerOnly.createDirectories(file.toAbsolutePath().getParent());
        OwnerOnly.createFileIfAbsent(file);
        SQLiteConfig config = new SQLiteConfig();
        config.setJournalMode(SQLiteConfig.JournalMode.WAL);
        config.setBusyTimeout(10_000);
        // a deferred transaction that reads and then writes fails at once with SQLITE_BUSY when another connection
        // wrote in between; immediate transactions take the write lock first and wait for it (busy timeout)
        config.setTransactionMode(SQLiteConfig.TransactionMode.IMMEDIATE);
        config.enforceForeignKeys(true);
        config.setSynchronous(SQLiteConfig.SynchronousMode.NORMAL);
        SQLiteDataSource ds = new SQLiteDataSource(config);
        ds.setUrl("jdbc:sqlite:" + file.toAbsolutePath());
        return new Database(ds, Dialect.SQLITE);
    }

    /**
     * Connects to PostgreSQL and migrates it. Fails within seconds, naming the database (never its password) and
     * the server's reason, when it cannot be reached or refuses the login.
     */
    public static Database postgres(DatabaseSettings settings) {
        HikariConfig config = new HikariConfig();
        config.setPoolName("tuneforge-db");
        config.setJdbcUrl(settings.url());
        if (settings.user() != null && !settings.url().contains("user=")) {
            config.setUsername(settings.user());
        }
        if (settings.password() != null && !settings.url().contains("password=")) {
            config.setPassword(settings.password());
        }
        config.setMaximumPoolSize(16);
        config.setConnectionTimeout(10_000);
        // the driver's own limits, so that an address that drops packets fails as fast as one that refuses
        config.addDataSourceProperty("connectTimeout", "10");
        config.addDataSourceProperty("loginTimeout", "10");
        config.addDataSourceProperty("ApplicationName", "tuneforge");
        HikariDataSource ds;
        try {
            ds = new HikariDataSource(config);
        } catch (RuntimeException e) {
            throw new DatabaseUnavailableException("cannot connect to the database " + settings + ": " + rootMessage(e), e);
        }
        try {
            return new Database(ds, Dialect.POSTGRESQL);
        } catch (RuntimeException e) {
            ds.close();
            throw new DatabaseUnavailableException("cannot migrate the database " + settings + ": " + rootMessage(e), e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    public Jdbi jdbi() {
        return jdbi;
    }

    public DataSource dataSource() {
        return dataSource;
    }

    public Dialect dialect() {
        return dialect;
    }

    /** Closes the connection pool (PostgreSQL); SQLite opens a connection per use and holds none. */
    @Override
    public void close() {
        if (dataSource instanceof HikariDataSource pool) {
            pool.close();
        }
    }
}
