package dev.tuneforge.engine.model;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * A base model's matrices as the decoders read them (per layer q/k/v and gate/up stacked; the embedding and an untied
 * head; Q8_0 blocks for an int8 base),
 * kept in a file of a cache directory and memory-mapped: the first load writes the file through its mapping, later
 * loads (this process or another, on one machine) map it and read nothing else of the checkpoint's matrices, so the
 * page cache holds one copy for every process serving that base and a restart does not stack or quantize again.
 *
 * <p>A file is named by a digest of what it was made from (the checkpoint's files, config.json among them: paths,
 * sizes and modification times; the dtype; the layout's version): a changed checkpoint gets a new file, and the
 * files of its earlier versions (the same paths and dtype, recorded in each header) are removed — no load can want
 * them again, and a process that still maps one keeps its pages until it ends. Its header is written last, after
 * the matrices reached the disk, so a load interrupted midway leaves a file that is not used. Mappings live as long
 * as the process (base models are never unloaded).
 */
public final class PreparedWeights {
    private static final Logger LOG = LoggerFactory.getLogger(PreparedWeights.class);
    /** Changes whenever the matrices' layout in the arena changes. */
    private static final String LAYOUT = "tuneforge prepared weights 2: per layer qkv, o, gate/up, down; embedding; untied head; Q8_0 34-byte blocks";
    private static final byte[] MAGIC = "TFPW0002".getBytes(StandardCharsets.US_ASCII);
    /** The header's page; the matrices start page-aligned after it. */
    static final int HEADER_BYTES = 4096;
    /** Free space left on the disk beyond the file before one is written. */
    private static final long SPARE_BYTES = 256L << 20;

    private final Path file;
    private final Path partial;
    private final MemorySegment matrices;
    private final boolean ready;
    private final String key;
    private final String origin;

    private PreparedWeights(Path file, Path partial, MemorySegment matrices, boolean ready, String key, String origin) {
        this.file = file;
        this.partial = partial;
        this.matrices = matrices;
        this.ready = ready;
        this.key = key;
        this.origin = origin;
    }

    /**
     * The prepared matrices of the checkpoint made of the files {@code sources} (its config.json among them) in
     * {@code storage} dtype ({@code bytes} of them), mapped from {@code directory}: {@link #ready} where a complete file was there, else a new
     * file to be filled through {@link #matrices} and then {@link #complete}d. Null where none can be had (the
     * directory cannot be written, the disk lacks the room): the caller holds the matrices in memory instead.
     */
    static PreparedWeights open(Path directory, List<Path> sources, String storage, long bytes) {
        String key = key(sources, storage);
        String origin = origin(sources, storage);
        Path file = directory.resolve(key + ".weights");
        try {
            Files.createDirectories(directory);
            removeAbandoned(directory);
            removeSuperseded(directory, key, origin);
            if (Files.isRegularFile(file)) {
                PreparedWeights existing = mapExisting(file, key, origin, bytes);
                if (existing != null) {
                    return existing;
                }
                LOG.warn("{}: not a complete prepared copy of this checkpoint (cut short, or written by an earlier "
                        + "version of Tuneforge); preparing it again", file);
            }
            long usable = Files.getFileStore(directory).getUsableSpace();
            if (usable < bytes + HEADER_BYTES + SPARE_BYTES) {
                LOG.warn("{}: {} MB free, too little to prepare {} MB of weights there; holding them in memory",
                        directory, usable >> 20, bytes >> 20);
                return null;
            }
            Path partial = directory.resolve(key + ".partial-" + ProcessHandle.current().pid());
            try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                allocate(channel, HEADER_BYTES + bytes);
                MemorySegment mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, HEADER_BYTES + bytes,
                        Arena.global());
                return new PreparedWeights(file, partial, mapped.asSlice(HEADER_BYTES, bytes), false, key, origin);
            } catch (IOException e) {
                Files.deleteIfExists(partial);
                throw e;
            }
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("{}: cannot prepare the weights there ({}); holding them in memory", directory, e.toString());
            return null;
        }
    }

    /**
     * Writes the file's blocks before it is mapped: a write through the mapping to a block the disk cannot allocate
     * would kill the process (SIGBUS), where this fails with an IOException (the load then holds the matrices in
     * memory). Costs one more write of the base's bytes, on the first load only.
     */
    private static void allocate(FileChannel channel, long size) throws IOException {
        ByteBuffer zeros = ByteBuffer.allocateDirect(8 << 20);
        for (long at = 0; at < size; ) {
            zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
            at += channel.write(zeros, at);
        }
    }

    /**
     * The complete file's matrices, mapped read-only (the base is frozen: nothing writes them, and a stray write would
     * fault rather than change the file every process shares); null where its header does not match.
     */
    private static PreparedWeights mapExisting(Path file, String key, String origin, long bytes) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            if (channel.size() != HEADER_BYTES + bytes) {
                return null;
            }
            if (!header(key, origin, bytes).equals(readStart(channel, HEADER_BYTES))) {
                return null;
            }
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, HEADER_BYTES + bytes, Arena.global());
            return new PreparedWeights(file, null, mapped.asSlice(HEADER_BYTES, bytes), true, key, origin);
        }
    }

    /**
     * Removes what loads that died left: a partial file whose process is gone. (A complete file of a checkpoint that
     * has since changed stays: it is named by what it was made from, and another process may still map it.)
     */
    private static void removeAbandoned(Path directory) throws IOException {
        try (var files = Files.list(directory)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                int at = name.lastIndexOf(".partial-");
                if (at < 0) {
                    continue;
                }
                try {
                    long pid = Long.parseLong(name.substring(at + ".partial-".length()));
                    if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        continue;
                    }
                } catch (NumberFormatException e) {
                    // not one of ours
                    continue;
                }
                Files.deleteIfExists(f);
                LOG.info("{}: removed, left by a load that did not finish", f);
            }
        }
    }

    /** Whether the matrices are already in the file (else they are to be written into {@link #matrices}). */
    boolean ready() {
        return ready;
    }

    /** The matrices' bytes: mapped from the file, 64-byte aligned. */
    MemorySegment matrices() {
        return matrices;
    }

    Path file() {
        return file;
    }

    /** After every matrix was written: flushes them, writes the header and gives the file its name. */
    void complete() {
        if (ready) {
            return;
        }
        try {
            matrices.force();
            try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
                ByteBuffer header = header(key, origin, matrices.byteSize());
                while (header.hasRemaining()) {
                    channel.write(header, header.position());
                }
                channel.force(true);
            }
            try {
                Files.move(partial, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING);
            }
            LOG.info("prepared the base's matrices in {} ({} MB): later loads map it", file, matrices.byteSize() >> 20);
        } catch (IOException e) {
            // the mapping still holds the matrices: this process runs on; the next load prepares them again
            LOG.warn("{}: could not keep the prepared weights ({})", file, e.toString());
            abandon();
        }
    }

    /** Removes the unfinished file (the load failed); the mapping stays valid for whatever still points into it. */
    void abandon() {
        if (partial != null) {
            try {
                Files.deleteIfExists(partial);
            } catch (IOException e) {
                LOG.warn("{}: could not remove ({})", partial, e.toString());
            }
        }
    }

    /** MAGIC, the matrices' bytes, the key and the origin (each as its length and ASCII), zeros to the page's end. */
    private static ByteBuffer header(String key, String origin, long bytes) {
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        header.put(MAGIC).putLong(bytes);
        for (String s : List.of(key, origin)) {
            byte[] b = s.getBytes(StandardCharsets.US_ASCII);
            header.putInt(b.length).put(b);
        }
        return header.clear();
    }

    /** Up to the first {@code bytes} of the file, ready to read (little-endian). */
    private static ByteBuffer readStart(FileChannel channel, int bytes) throws IOException {
        ByteBuffer start = ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
        while (start.hasRemaining() && channel.read(start) >= 0) {
            // a regular file reads whole
        }
        return start.flip();
    }

    /** The origin written in the header of {@code file}, or null where it has none of this version's headers. */
    private static String originOf(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer header = readStart(channel, 256);
            byte[] magic = new byte[MAGIC.length];
            if (header.remaining() < MAGIC.length + 12) {
                return null;
            }
            header.get(magic).getLong();
            if (!java.util.Arrays.equals(magic, MAGIC)) {
                return null;
            }
            String origin = null;
            for (int field = 0; field < 2; field++) {
                int length = header.remaining() >= 4 ? header.getInt() : -1;
                if (length < 0 || length > header.remaining()) {
                    return null;
                }
                byte[] b = new byte[length];
                header.get(b);
                origin = new String(b, StandardCharsets.US_ASCII);
            }
            return origin;
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * Removes the complete files of earlier versions of this checkpoint in this dtype (same origin, another key): its
     * files changed since, so no load will ask for them again. A process still mapping one keeps its pages (the
     * file's blocks are freed when the last mapping goes).
     */
    private static void removeSuperseded(Path directory, String key, String origin) throws IOException {
        try (var files = Files.list(directory)) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (!name.endsWith(".weights") || name.equals(key + ".weights") || !origin.equals(originOf(f))) {
                    continue;
                }
                Files.deleteIfExists(f);
                LOG.info("{}: removed, prepared from an earlier version of the checkpoint now prepared as {}", f,
                        key + ".weights");
            }
        }
    }

    /**
     * A digest of which checkpoint, in which dtype, the matrices are made from (the files' real paths, not their
     * sizes and times): the same for every version of one checkpoint.
     */
    static String origin(List<Path> sources, String storage) {
        return digest(d -> {
            d.update(storage.getBytes(StandardCharsets.UTF_8));
            for (Path source : sources) {
                d.update(source.toRealPath().toString().getBytes(StandardCharsets.UTF_8));
                d.update((byte) 0);
            }
        });
    }

    /** A digest of what the prepared matrices are made from. */
    static String key(List<Path> sources, String storage) {
        return digest(d -> {
            d.update(LAYOUT.getBytes(StandardCharsets.UTF_8));
            d.update(storage.getBytes(StandardCharsets.UTF_8));
            for (Path source : sources) {
                Path real = source.toRealPath();
                d.update(real.toString().getBytes(StandardCharsets.UTF_8));
                d.update(ByteBuffer.allocate(16).putLong(Files.size(real))
                        .putLong(Files.getLastModifiedTime(real).toMillis()).array());
            }
        });
    }

    /** What a digest is made of (it may read the files it names). */
    private interface DigestInput {
        void into(MessageDigest digest) throws IOException;
    }

    /** The first 16 bytes of the SHA-256 of {@code input}, in hex. */
    private static String digest(DigestInput input) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            input.into(digest);
            return HexFormat.of().formatHex(digest.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
