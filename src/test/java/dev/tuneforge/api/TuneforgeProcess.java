package dev.tuneforge.api;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A {@code tuneforge} command in a JVM of its own (serve, worker), its output in a log file, killed at will. */
final class TuneforgeProcess implements AutoCloseable {
    private final Process process;
    private final Path log;

    private TuneforgeProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
    }

    static TuneforgeProcess start(Path log, String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules",
                "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.tuneforge.cli.TuneforgeCli"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        return new TuneforgeProcess(pb.start(), log);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Waits until the server answers /healthz on {@code port}. */
    TuneforgeProcess awaitHealthy(int port) throws Exception {
        long deadline = System.currentTimeMillis() + 120_000;
        while (true) {
            if (!process.isAlive()) {
                throw new AssertionError("the process ended: " + output());
            }
            try {
                if (Http.anonymous(port).get("/healthz").status() == 200) {
                    return this;
                }
            } catch (AssertionError notYet) {
                if (System.currentTimeMillis() > deadline) {
                    throw new AssertionError("the server did not start: " + output());
                }
            }
            Thread.sleep(100);
        }
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process.isAlive();
    }

    /** SIGKILL: no shutdown hook runs, nothing is flushed or released. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
    }

    String output() throws IOException {
        return Files.exists(log) ? Files.readString(log) : "";
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, java.util.concurrent.TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
        }
    }
}
