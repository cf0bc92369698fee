package dev.tuneforge.store.artifacts;

import dev.tuneforge.store.OwnerOnly;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * Artifacts in a directory (the data directory's {@code tunedModels/} by default, or a shared mount):
 * {@code UID/adapter/} and {@code UID/checkpoint.safetensors}, owner-only.
 * <p>
 * Each save of an adapter goes into a directory of its own, {@code UID/adapter-VERSION/}, whose files never change
 * once written; {@code UID/adapter} is a symbolic link to the current one, replaced by an atomic rename once the
 * new files are on disk, after which older versions are deleted. A reader reads one version; if the link moved
 * while it read (so its files may have been deleted under it), it reads again. A checkpoint is written to a
 * temporary file and renamed over the previous one (a reader that opened the previous one keeps reading it whole).
 */
public final class FileArtifactStore implements ArtifactStore {
    static final String ADAPTER = "adapter";
    static final String CHECKPOINT = "checkpoint.safetensors";
    private static final int READ_ATTEMPTS = 3;
    private final Path root;

    public FileArtifactStore(Path root) {
        this.root = root;
    }

    @Override
    public void saveAdapter(String uid, Consumer<Path> writeInto) {
        Path dir = OwnerOnly.createDirectories(root.resolve(uid));
        String version = ADAPTER + "-" + UUID.randomUUID();
        Path files = dir.resolve(version);
        Path link = dir.resolve("." + version + ".link");
        try {
            OwnerOnly.createDirectories(files);
            writeInto.accept(files);
            syncFiles(files);
            Files.createSymbolicLink(link, Path.of(version));
            Path current = dir.resolve(ADAPTER);
            if (Files.isDirectory(current, LinkOption.NOFOLLOW_LINKS)) {
                // an adapter saved before adapters were versioned: a plain directory, which a link cannot replace
                Files.move(current, dir.resolve(ADAPTER + "-" + UUID.randomUUID()), StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(link, current, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(link);
            deleteQuietly(files);
            throw e instanceof IOException io ? new UncheckedIOException("cannot save the adapter in " + dir, io)
                    : (RuntimeException) e;
        }
        deleteVersionsBut(dir, version);
    }

    @Override
    public <T> T readAdapter(String uid, Function<Path, T> reader) {
        Path current = root.resolve(uid).resolve(ADAPTER);
        for (int attempt = 1; ; attempt++) {
            Path files = currentVersion(current);
            try {
                T result = reader.apply(files);
                if (files.equals(currentVersion(current))) {
                    return result;
                }
            } catch (RuntimeException e) {
                if (files.equals(currentVersionOrNull(current))) {
                    // the version read is still the current one: its files are what failed
                    throw e;
                }
            }
            if (attempt >= READ_ATTEMPTS) {
                throw new MissingArtifactException("the adapter was replaced " + READ_ATTEMPTS + " times while read");
            }
            // replaced while read (its files may have been deleted under the reader): read the new one
        }
    }

    private static Path currentVersion(Path current) {
        Path files = currentVersionOrNull(current);
        if (files == null) {
            throw new MissingArtifactException("no adapter is stored for this model");
        }
        return files;
    }

    private static Path currentVersionOrNull(Path current) {
        try {
            return current.toRealPath();
        } catch (IOException e) {
            return null;
        }
    }

    private static void deleteVersionsBut(Path dir, String keep) {
        try (Stream<Path> entries = Files.list(dir)) {
            for (Path p : entries.toList()) {
                String name = p.getFileName().toString();
                if (name.startsWith(ADAPTER + "-") && !name.equals(keep)) {
                    deleteQuietly(p);
                }
            }
        } catch (IOException ignored) {
            // an old version left behind is never read; the model's delete removes it
        }
    }

    @Override
    public void saveCheckpoint(String uid, Consumer<Path> writeTo) {
        Path dir = OwnerOnly.createDirectories(root.resolve(uid));
        Path partial = dir.resolve("." + CHECKPOINT + "." + UUID.randomUUID() + ".partial");
        try {
            writeTo.accept(partial);
            try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(partial, checkpoint(uid), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the checkpoint in " + dir, e);
        } finally {
            deleteQuietly(partial);
        }
    }

    @Override
    public <T> Optional<T> readCheckpoint(String uid, Function<Path, T> reader) {
        Path file = checkpoint(uid);
        return Files.isRegularFile(file) ? Optional.of(reader.apply(file)) : Optional.empty();
    }

    @Override
    public void deleteCheckpoint(String uid) {
        try {
            Files.deleteIfExists(checkpoint(uid));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void delete(String uid) {
        Path dir = root.resolve(uid);
        if (!Files.exists(dir)) {
            return;
        }
        try {
            // the link first: the adapter is gone for readers at once
            if (Files.isSymbolicLink(dir.resolve(ADAPTER))) {
                Files.delete(dir.resolve(ADAPTER));
            }
            deleteTree(dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + dir, e);
        }
    }

    @Override
    public void check() {
        OwnerOnly.createDirectories(root);
        if (!Files.isWritable(root)) {
            throw new ArtifactStoreException("the artifact directory " + root + " cannot be written");
        }
    }

    @Override
    public String describe() {
        return "directory " + root.toAbsolutePath();
    }

    private Path checkpoint(String uid) {
        return root.resolve(uid).resolve(CHECKPOINT);
    }

    /** Flushes the files to disk, so that a crash right after the rename cannot leave renamed but empty files. */
    private static void syncFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            }
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void deleteQuietly(Path dir) {
        if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
            try {
                deleteTree(dir);
            } catch (IOException ignored) {
                // a leftover partial directory is never read; the model's delete removes it
            }
        }
    }
}
