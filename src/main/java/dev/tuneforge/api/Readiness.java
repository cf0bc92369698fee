package dev.tuneforge.api;

import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.PublicMessages;
import dev.tuneforge.tuning.TuningService;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Whether this server can do its work, and if not, why: the database answers, the artifact store answers, the
 * data directory takes a write, the tuning worker can write its jobs' progress. Nothing about tenants or their models.
 */
final class Readiness {
    /** A probe as large as a small write needs space for: a zero-byte file fits in a full file system's inode. */
    private static final int PROBE_BYTES = 4096;
    private final TuningService tuning;
    private final Path dataDir;
    private final ArtifactStore artifacts;

    Readiness(TuningService tuning, Path dataDir, ArtifactStore artifacts) {
        this.tuning = tuning;
        this.dataDir = dataDir;
        this.artifacts = artifacts;
    }

    /** What keeps the server from being ready; empty when it is. */
    List<String> problems() {
        List<String> problems = new ArrayList<>();
        try {
            tuning.store().ping();
        } catch (RuntimeException e) {
            problems.add("the database does not answer: " + PublicMessages.withoutPaths(e.getMessage()));
        }
        try {
            artifacts.check();
        } catch (RuntimeException e) {
            problems.add("the artifact store does not answer: " + PublicMessages.withoutPaths(e.getMessage()));
        }
        String write = probeWrite();
        if (write != null) {
            problems.add(write);
        }
        String worker = tuning.storageProblem();
        if (worker != null) {
            problems.add(worker);
        }
        return problems;
    }

    private String probeWrite() {
        Path probe = dataDir.resolve(".readiness-probe");
        try {
            try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer bytes = ByteBuffer.allocate(PROBE_BYTES);
                while (bytes.hasRemaining()) {
                    ch.write(bytes);
                }
            }
            return null;
        } catch (IOException e) {
            return "the data directory cannot be written: " + describe(e);
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // a read-only directory: reported above
            }
        }
    }

    private static String describe(IOException e) {
        String reason = e instanceof java.nio.file.FileSystemException fse && fse.getReason() != null
                ? fse.getReason() : e.getMessage();
        return PublicMessages.withoutPaths(reason == null ? e.getClass().getSimpleName() : reason);
    }
}
