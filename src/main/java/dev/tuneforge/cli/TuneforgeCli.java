package dev.tuneforge.cli;

import dev.tuneforge.engine.kernel.ComputeThreads;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tuneforge} command. */
@Command(name = "tuneforge", mixinStandardHelpOptions = true, version = "tuneforge 0.1.0",
        description = "Fine-tunes open-weight language models (LoRA) and serves them.",
        subcommands = {ServeCommand.class, WorkerCommand.class, JobsCommand.class, DemoCommand.class, TuneCommand.class, GenerateCommand.class,
                ModelsCommand.class, AuthCommand.class, BenchCommand.class, BenchLatencyCommand.class, BenchServeCommand.class,
                BenchClusterCommand.class})
public final class TuneforgeCli implements Runnable {
    public static void main(String[] args) {
        try {
            ComputeThreads.count();
        } catch (ExceptionInInitializerError e) {
            System.err.println("error: " + e.getCause().getMessage());
            System.exit(2);
        }
        CommandLine cli = new CommandLine(new TuneforgeCli());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            if (e instanceof ApiClient.ApiError || e instanceof IllegalArgumentException
                    || e instanceof java.io.IOException || e instanceof dev.tuneforge.store.DatabaseUnavailableException
                    || e instanceof dev.tuneforge.store.artifacts.ArtifactStoreException) {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            }
            throw e;
        });
        System.exit(cli.execute(args));
    }

    /** The installation (where models/ lives): $TUNEFORGE_HOME, set by the launcher, else the working directory. */
    static java.nio.file.Path home() {
        String home = System.getenv("TUNEFORGE_HOME");
        return java.nio.file.Path.of(home == null || home.isBlank() ? "." : home);
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
