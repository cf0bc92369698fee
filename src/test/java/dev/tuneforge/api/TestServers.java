package dev.tuneforge.api;

import dev.tuneforge.store.TestDatabase;

import java.nio.file.Path;

/** Server settings of the suites that run against both SQLite and PostgreSQL ({@link TestDatabase}). */
final class TestServers {
    private TestServers() {
    }

    /** The default settings with the bundled model, on the database of this test run for {@code dataDir}. */
    static ServerConfig config(Path dataDir) {
        return ServerConfig.defaults(dataDir, Path.of(".")).withDatabase(TestDatabase.of(dataDir));
    }
}
