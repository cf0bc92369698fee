package dev.tuneforge.store.artifacts;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The contract on the file system, plus its layout: adapters saved before versioning stay readable. */
class FileArtifactStoreTest extends ArtifactStoreContract {
    @Override
    ArtifactStore open(Path tmp) {
        return ArtifactStoreSettings.defaults().open(tmp.resolve("data"));
    }

    @Test
    void anAdapterInThePlainDirectoryOfEarlierVersionsIsReadAndReplacedByASave() throws Exception {
        Path legacy = Files.createDirectories(tmp.resolve("data/tunedModels/old/adapter"));
        Files.writeString(legacy.resolve("adapter_config.json"), "legacy");
        assertEquals("legacy", new String(store.readAdapter("old", ArtifactStoreContract::readAll)
                .get("adapter_config.json")));
        store.saveAdapter("old", dir -> write(dir, Map.of("adapter_config.json", bytes("new"))));
        assertEquals("new", new String(store.readAdapter("old", ArtifactStoreContract::readAll)
                .get("adapter_config.json")));
        assertTrue(Files.isSymbolicLink(legacy), "now a link to the saved version");
        try (var entries = Files.list(legacy.getParent())) {
            assertEquals(2, entries.count(), "the link and one version directory");
        }
    }
}
