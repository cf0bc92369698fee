package dev.tuneforge.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Files of tuned models under the data directory: the PEFT adapter and the training checkpoint. */
public final class ArtifactStore {
    private final Path root;

    public ArtifactStore(Path dataDir) {
        this.root = dataDir.resolve("tunedModels");
    }

    public Path adapterDir(String id) {
        return root.resolve(id).resolve("adapter");
    }

    public Path checkpoint(String id) {
        return root.resolve(id).resolve("checkpoint.safetensors");
    }

    public boolean hasAdapter(String id) {
        return Files.isRegularFile(adapterDir(id).resolve("adapter_config.json"));
    }

    public void deleteCheckpoint(String id) {
        try {
            Files.deleteIfExists(checkpoint(id));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes every file of the tuned model. */
    public void delete(String id) {
        Path dir = root.resolve(id);
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }
}
