package dev.tuneforge.store;

/** The database named in the settings cannot be used: unreachable, the login refused, or its schema not migrated. */
public final class DatabaseUnavailableException extends RuntimeException {
    public DatabaseUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
