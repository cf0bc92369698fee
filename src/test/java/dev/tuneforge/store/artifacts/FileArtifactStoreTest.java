package dev.tuneforge.store.artifacts;

import java.nio.file.Path;

class FileArtifactStoreTest extends ArtifactStoreContract {
    @Override
    ArtifactStore open(Path tmp) {
        return ArtifactStoreSettings.defaults().open(tmp.resolve("data"));
    }
}
