package dev.tuneforge.store;

import org.junit.jupiter.api.Test;

import java.net.ServerSocket;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PostgreSQL as the database: one migration history, and bad settings refused at once with a clear reason. */
class DatabaseTest {
    @Test
    void theMigrationsThatBuildSqliteBuildPostgresqlToo() {
        try (Database db = Database.open(TestPostgres.shared().newDatabase(), null)) {
            assertEquals(Database.Dialect.POSTGRESQL, db.dialect());
            var versions = db.jdbi().withHandle(h -> h.createQuery("SELECT version FROM flyway_schema_history "
                    + "WHERE success ORDER BY installed_rank").mapTo(String.class).list());
            assertTrue(versions.containsAll(java.util.List.of("1", "2", "3", "4", "5", "6")), versions.toString());
            var tables = db.jdbi().withHandle(h -> h.createQuery("SELECT table_name FROM information_schema.tables "
                    + "WHERE table_schema = 'public'").mapTo(String.class).set());
            assertTrue(tables.containsAll(java.util.Set.of("tuned_models", "tuning_snapshots", "oauth_clients",
                    "revoked_tokens", "scheduled_tasks")), tables.toString());
        }
    }

    @Test
    void anUnreachableServerIsAnErrorNamingItNotAHang() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        long start = System.nanoTime();
        var e = assertThrows(DatabaseUnavailableException.class, () -> Database.open(DatabaseSettings.of(
                "jdbc:postgresql://127.0.0.1:" + closedPort + "/tuneforge?user=tf&password=hunter2", Map.of()), null));
        assertTrue((System.nanoTime() - start) / 1e9 < 30, "took too long to fail");
        assertTrue(e.getMessage().startsWith("cannot connect to the database jdbc:postgresql://127.0.0.1:" + closedPort
                + "/tuneforge?user=tf&password=***"), e.getMessage());
        assertTrue(e.getMessage().endsWith(": Connection refused"), e.getMessage());
        assertFalse(e.getMessage().contains("hunter2"));
    }

    @Test
    void aWrongPasswordIsAnErrorSayingSo() {
        String url = TestPostgres.shared().url("postgres").replace("password=" + TestPostgres.PASSWORD, "");
        var e = assertThrows(DatabaseUnavailableException.class, () -> Database.open(DatabaseSettings.of(url,
                Map.of("TUNEFORGE_DATABASE_USER", "postgres", "TUNEFORGE_DATABASE_PASSWORD", "wrong-secret")), null));
        assertTrue(e.getMessage().contains("password authentication failed for user \"postgres\""), e.getMessage());
        assertFalse(e.getMessage().contains("wrong-secret"));
    }

    @Test
    void theEnvironmentSuppliesUserAndPasswordTheUrlLacks() {
        String url = TestPostgres.shared().url("postgres").replaceAll("\\?.*", "");
        try (Database db = Database.open(DatabaseSettings.of(url, Map.of("TUNEFORGE_DATABASE_USER", "postgres",
                "TUNEFORGE_DATABASE_PASSWORD", TestPostgres.PASSWORD)), null)) {
            assertEquals(Integer.valueOf(1), db.jdbi().withHandle(h -> h.createQuery("SELECT 1").mapTo(Integer.class).one()));
        }
    }

    @Test
    void aUrlOfAnotherDatabaseIsRefusedNamingTheSetting() {
        var e = assertThrows(IllegalArgumentException.class, () -> DatabaseSettings.of("jdbc:mysql://db/x", Map.of()));
        assertTrue(e.getMessage().startsWith("database url must start with jdbc:postgresql://"), e.getMessage());
    }
}
