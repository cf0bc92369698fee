package dev.tuneforge.store;

import org.flywaydb.core.Flyway;
import org.jdbi.v3.core.Jdbi;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteDataSource;

import javax.sql.DataSource;
import java.nio.file.Path;

/** The metadata database: SQLite in the data directory by default, schema versioned by Flyway migrations. */
public final class Database {
    private final Jdbi jdbi;

    private Database(DataSource dataSource) {
        Flyway.configure().dataSource(dataSource).locations("classpath:db/migration").load().migrate();
        this.jdbi = Jdbi.create(dataSource);
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
        return new Database(ds);
    }

    public Jdbi jdbi() {
        return jdbi;
    }
}
