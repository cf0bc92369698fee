package dev.tuneforge.store.artifacts;

import java.nio.file.Path;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The files of tuned models, by the model's internal id (uid): the PEFT adapter and the training checkpoint.
 * <p>
 * Every implementation guarantees: a saved adapter becomes visible complete or not at all (a reader never sees some
 * of its files, or files of two saves mixed); a checkpoint is replaced as a whole, and a reader gets one complete
 * checkpoint, never part of one. Failures to reach the store throw {@link ArtifactStoreException}, an
 * {@link java.io.UncheckedIOException}, so that tuning jobs treat them as storage outages and retry.
 */
public interface ArtifactStore extends AutoCloseable {

    /** Writes the adapter through {@code writeInto} (given an empty local directory) and publishes it atomically. */
    void saveAdapter(String uid, Consumer<Path> writeInto);

    /**
     * Hands a local directory holding the model's complete adapter files to {@code reader} and returns its result;
     * the directory may be gone after the call. Throws {@link MissingArtifactException} when no adapter is stored.
     */
    <T> T readAdapter(String uid, Function<Path, T> reader);

    /** Writes the checkpoint through {@code writeTo} (given a local file path) and replaces the stored one at once. */
    void saveCheckpoint(String uid, Consumer<Path> writeTo);

    /** Hands the model's complete checkpoint, as a local file, to {@code reader}; empty when there is none. */
    <T> Optional<T> readCheckpoint(String uid, Function<Path, T> reader);

    void deleteCheckpoint(String uid);

    /** Removes every file of the tuned model; the adapter disappears first, at once. */
    void delete(String uid);

    /** Throws {@link ArtifactStoreException} with a clear reason unless the store answers and can be used. */
    void check();

    /** Where the artifacts are, for logs and errors (no credentials). */
    String describe();

    @Override
    default void close() {
    }
}
