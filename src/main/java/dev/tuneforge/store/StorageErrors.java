package dev.tuneforge.store;

import org.jdbi.v3.core.ConnectionException;

import java.sql.SQLException;
import java.util.Set;

/** Which database failures mean "the database cannot be used right now" (retry later) rather than a defect. */
public final class StorageErrors {
    /** SQLite's primary result codes for a busy, locked, read-only, failing, full or unopenable database. */
    private static final Set<Integer> SQLITE_UNAVAILABLE = Set.of(5, 6, 8, 10, 13, 14);

    private StorageErrors() {
    }

    /** Whether {@code failure} (or a cause) says the database is unreachable, full, read-only or busy. */
    public static boolean unavailable(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ConnectionException) {
                return true;
            }
            if (t instanceof org.sqlite.SQLiteException e) {
                return SQLITE_UNAVAILABLE.contains(e.getResultCode().code & 0xff);
            }
            if (t instanceof SQLException e && e.getSQLState() != null) {
                String state = e.getSQLState();
                // connection exceptions, insufficient resources (disk full, out of memory), operator intervention
                return state.startsWith("08") || state.startsWith("53") || state.startsWith("57");
            }
        }
        return false;
    }
}
