package dev.tuneforge.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Files of tuned models under the data directory, by the model's internal id: the PEFT adapter and the training
 * checkpoint, in owner-only directories.
 */
public final class ArtifactStore {
    private final Path root;

    public ArtifactStore(Path dataDir) {
        this.root = dataDir.resolve("tunedModels");
    }

    /** Creates the model's directory (owner-only) before its files are written. */
    public void prepare(String uid) {
        OwnerOnly.createDirectories(root.resolve(uid));
    }

    public Path adapterDir(String uid) {
        return root.resolve(uid).resolve("adapter");
    }

    public Path checkpoint(String uid) {
        return root.resolve(uid).resolve("checkpoint.safetensors");
    }

    public void deleteCheckpoint(String uid) {
        try {
            Files.deleteIfExists(checkpoint(uid));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Removes every file of the tuned model. */
    public void delete(String uid) {
        Path dir = root.resolve(uid);
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
