package dev.tuneforge.store;

import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteDataSource;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A database from before sharing (V5) gains, for every tuned model, its project's OWNER permission. */
class PermissionMigrationTest {
    @TempDir
    Path dir;

    @Test
    void everyExistingModelIsOwnedByItsProject() throws Exception {
        Path file = dir.resolve("tuneforge.db");
        SQLiteDataSource old = new SQLiteDataSource();
        old.setUrl("jdbc:sqlite:" + file);
        Flyway.configure().dataSource(old).locations("classpath:db/migration").target("5").load().migrate();
        try (Connection c = old.getConnection(); Statement s = c.createStatement()) {
            for (String[] m : new String[][]{{"legacy", "Team-A"}, {"tm_abc", "team-b"}}) {
                s.executeUpdate("INSERT INTO tuned_models (uid, id, project, operation_id, base_model, state, create_time, "
                        + "update_time, epoch_count, batch_size, effective_learning_rate, training_examples, total_steps) "
                        + "VALUES ('" + m[0] + "', 'same-id', '" + m[1] + "', 'op', 'models/x', 'ACTIVE', "
                        + "'2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, 1, 0.001, '[]', 1)");
            }
        }

        TunedModelStore store = new TunedModelStore(Database.sqlite(file));
        List<Permission> legacy = store.permissions().list("legacy", null, 10);
        assertEquals(List.of(new Permission("creator", Permission.GranteeType.GROUP, "team-a@projects.tuneforge",
                Permission.Role.OWNER, "2026-01-01T00:00:00Z")), legacy);
        assertEquals(1, store.permissions().list("tm_abc", null, 10).size());

        List<TunedModelStore.Accessible> forA = store.accessible("same-id",
                new Principals(null, Set.of("team-a@projects.tuneforge")));
        assertEquals(1, forA.size());
        assertEquals("legacy", forA.get(0).model().uid());
        assertEquals(Permission.Role.OWNER, forA.get(0).role());
        assertTrue(store.accessible("same-id", new Principals(null, Set.of("team-c@projects.tuneforge"))).isEmpty());

        assertTrue(store.delete("legacy"));
        assertTrue(store.permissions().list("legacy", null, 10).isEmpty(), "a deleted model's permissions go with it");
    }
}
