package dev.tuneforge.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;

/**
 * The exclusive hold of one server process on its data directory: two processes running jobs from one SQLite
 * database would both resume the same tuning job. The lock is an OS file lock on {@code DATA/tuneforge.lock},
 * released when the process ends however it ends; the file says who holds it, for the other process's error.
 * Commands that only read or add credentials (auth ...) do not take it.
 */
public final class DataDirectoryLock implements AutoCloseable {
    static final String FILE = "tuneforge.lock";
    private final FileChannel channel;
    private final FileLock lock;

    private DataDirectoryLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /** Takes the lock, or throws {@link IllegalStateException} naming the process that holds it. */
    public static DataDirectoryLock acquire(Path dataDir) {
        Path file = dataDir.resolve(FILE);
        OwnerOnly.createDirectories(dataDir);
        OwnerOnly.createFileIfAbsent(file);
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                String holder = Files.readString(file, StandardCharsets.UTF_8).trim();
                channel.close();
                throw new IllegalStateException("the data directory " + dataDir.toAbsolutePath() + " is in use by "
                        + (holder.isEmpty() ? "another Tuneforge process" : holder)
                        + "; stop that process or give this one another --data-dir");
            }
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(describeThisProcess().getBytes(StandardCharsets.UTF_8)), 0);
            channel.force(false);
            return new DataDirectoryLock(channel, lock);
        } catch (IOException e) {
            closeQuietly(channel);
            throw new UncheckedIOException("cannot lock the data directory " + dataDir.toAbsolutePath(), e);
        }
    }

    private static String describeThisProcess() {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "unknown host";
        }
        return "Tuneforge process " + ProcessHandle.current().pid() + " on " + host + " (started "
                + Instant.ofEpochMilli(ManagementFactory.getRuntimeMXBean().getStartTime()) + ")";
    }

    private static void closeQuietly(FileChannel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // nothing more to release
            }
        }
    }

    @Override
    public void close() {
        try {
            if (lock.isValid()) {
                channel.truncate(0);
                lock.release();
            }
        } catch (IOException ignored) {
            // the lock goes with the channel anyway
        } finally {
            closeQuietly(channel);
        }
    }
}
