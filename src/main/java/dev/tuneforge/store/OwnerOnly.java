package dev.tuneforge.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Files and directories only their owner may read: the data directory holds training data (in the database),
 * adapters and signing keys. The permissions are given at creation, whatever the process's umask; on file systems
 * without POSIX permissions they are left as they are.
 */
public final class OwnerOnly {
    private static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OTHERS = Set.of(PosixFilePermission.GROUP_READ,
            PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    private OwnerOnly() {
    }

    /** Creates {@code dir} and its missing parents, each new one owner-only; existing ones are left alone. */
    public static Path createDirectories(Path dir) {
        Path absolute = dir.toAbsolutePath().normalize();
        if (Files.isDirectory(absolute)) {
            return dir;
        }
        Path parent = absolute.getParent();
        if (parent != null) {
            createDirectories(parent);
        }
        try {
            Files.createDirectory(absolute, attributes(absolute.getParent(), DIRECTORY));
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(absolute)) {
                throw new UncheckedIOException("cannot create directory " + absolute + ": a file is in the way", e);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create directory " + absolute, e);
        }
        return dir;
    }

    /** Creates the empty file {@code file} owner-only unless it exists. */
    public static void createFileIfAbsent(Path file) {
        if (Files.exists(file)) {
            return;
        }
        try {
            Files.createFile(file, attributes(file.toAbsolutePath().getParent(), FILE));
        } catch (FileAlreadyExistsException e) {
            // created meanwhile by another process: fine
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
    }

    /** Whether users other than the owner have any access to {@code path} (false where permissions are unknown). */
    public static boolean othersHaveAccess(Path path) {
        PosixFileAttributeView view = Files.getFileAttributeView(path, PosixFileAttributeView.class);
        if (view == null || !Files.exists(path)) {
            return false;
        }
        try {
            Set<PosixFilePermission> permissions = view.readAttributes().permissions();
            return permissions.stream().anyMatch(OTHERS::contains);
        } catch (IOException e) {
            return false;
        }
    }

    private static FileAttribute<?>[] attributes(Path parent, Set<PosixFilePermission> permissions) {
        boolean posix = parent != null && Files.getFileAttributeView(parent, PosixFileAttributeView.class) != null;
        return posix ? new FileAttribute<?>[]{PosixFilePermissions.asFileAttribute(permissions)} : new FileAttribute<?>[0];
    }
}
