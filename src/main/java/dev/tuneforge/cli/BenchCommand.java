package dev.tuneforge.cli;

import picocli.CommandLine.Command;

/** Placeholder replaced below. */
@Command(name = "bench")
public final class BenchCommand implements Runnable {
    @Override
    public void run() {
    }
}
