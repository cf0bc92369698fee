package dev.tuneforge.tuning;

import com.github.kagkarlsson.scheduler.jdbc.DefaultJdbcCustomization;

/**
 * db-scheduler on SQLite, which it does not know: its defaults but for the row limit, which SQLite writes
 * {@code LIMIT n} (not the ANSI {@code FETCH FIRST n ROWS ONLY}). Times are stored as UTC epoch milliseconds
 * (sqlite-jdbc's timestamps). SQLite serves one process, so the engine's locking is never contended there.
 */
final class SqliteJdbcCustomization extends DefaultJdbcCustomization {
    SqliteJdbcCustomization() {
        super(true);
    }

    @Override
    public String getName() {
        return "SQLite";
    }

    @Override
    public String getQueryLimitPart(int limit) {
        return " LIMIT " + limit;
    }
}
