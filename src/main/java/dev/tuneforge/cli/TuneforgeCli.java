package dev.tuneforge.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tuneforge} command. */
@Command(name = "tuneforge", mixinStandardHelpOptions = true, version = "tuneforge 0.1.0",
        description = "Fine-tunes open-weight language models (LoRA) and serves them.",
        subcommands = {ServeCommand.class, DemoCommand.class, BenchCommand.class})
public final class TuneforgeCli implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new TuneforgeCli()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
