package dev.tuneforge.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A {@code tuneforge} command run as a child process through the launcher script, on this process's own classes
 * ({@code TUNEFORGE_CLASSPATH}), so that the child's memory is its own and the launcher's settings (glibc, OpenMP)
 * apply to it as to any server. The launcher execs the JVM, so the child's pid is the server's.
 */
final class ServeProcess implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("Tuneforge listening on (https?://[^ ]+)");
    private final Process process;
    private final Path log;
    private final String baseUrl;

    private ServeProcess(Process process, Path log, String baseUrl) {
        this.process = process;
        this.log = log;
        this.baseUrl = baseUrl;
    }

    /** Starts {@code serve} on a free port and waits until it listens (base models load before it does). */
    static ServeProcess start(Path launcher, Path dataDir, Path config, Path log, String javaOpts)
            throws IOException, InterruptedException {
        Process p = launcher(launcher, javaOpts, List.of("serve", "--port", "0", "--data-dir", dataDir.toString(),
                "--config", config.toString())).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (true) {
            Matcher m = LISTENING.matcher(Files.readString(log));
            if (m.find()) {
                return new ServeProcess(p, log, m.group(1));
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly().waitFor();
                throw new IOException("serve did not start (" + (p.isAlive() ? "timed out" : "exit " + p.exitValue())
                        + "); its output (" + log + "):\n" + tail(Files.readString(log)));
            }
            Thread.sleep(100);
        }
    }

    /** Runs another command through the launcher and returns its standard output; fails with its output otherwise. */
    static String run(Path launcher, List<String> args) throws IOException, InterruptedException {
        Path err = Files.createTempFile("tuneforge-cli", ".err");
        try {
            Process p = launcher(launcher, null, args).redirectError(err.toFile()).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (p.waitFor() != 0) {
                throw new IOException("tuneforge " + String.join(" ", args) + " failed: " + out + Files.readString(err));
            }
            return out;
        } finally {
            Files.deleteIfExists(err);
        }
    }

    private static ProcessBuilder launcher(Path launcher, String javaOpts, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(launcher.toString());
        command.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.put("TUNEFORGE_CLASSPATH", System.getProperty("java.class.path"));
        if (javaOpts != null) {
            env.put("TUNEFORGE_JAVA_OPTS", javaOpts);
        }
        return pb;
    }

    String baseUrl() {
        return baseUrl;
    }

    long pid() {
        return process.pid();
    }

    /** Resident memory now (VmRSS) and its peak (VmHWM), in bytes, from /proc; -1 where unreadable. */
    long[] residentAndPeak() {
        long rss = -1;
        long hwm = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid()), "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                } else if (line.startsWith("VmHWM:")) {
                    hwm = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return new long[]{-1, -1};
        }
        return new long[]{rss, hwm};
    }

    /** Resets the peak resident size to the current one (Linux: "5" into clear_refs); false where not allowed. */
    boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc", Long.toString(pid()), "clear_refs"), "5");
            return true;
        } catch (IOException | SecurityException e) {
            return false;
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }

    String output() throws IOException {
        return Files.readString(log);
    }

    private static String tail(String s) {
        return s.length() <= 4000 ? s : s.substring(s.length() - 4000);
    }
}
