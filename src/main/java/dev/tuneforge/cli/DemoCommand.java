package dev.tuneforge.cli;

import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.StepReport;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.engine.train.TrainingOptions;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Tunes the bundled model on the seed's 15 examples and prints what the tuned model answers. */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Tune a base model on the tutorial's 15 number examples, then print its answers.")
public final class DemoCommand implements Runnable {
    @Option(names = "--model", description = "Hugging Face model directory (default: ${DEFAULT-VALUE})")
    Path model = Path.of("models/stories-260k");

    @Option(names = "--epochs", description = "epochs (default: ${DEFAULT-VALUE})")
    int epochs = 50;

    @Option(names = "--batch-size", description = "batch size (default: ${DEFAULT-VALUE})")
    int batchSize = 4;

    @Option(names = "--learning-rate", description = "learning rate (default: ${DEFAULT-VALUE})")
    double learningRate = 0.001;

    @Option(names = "--seed", description = "random seed (default: ${DEFAULT-VALUE})")
    long seed = 42;

    @Option(names = "--save", description = "directory to save the adapter to (PEFT format)")
    Path save;

    @Override
    public void run() {
        try (BaseModel base = BaseModel.load(model)) {
            long[] added = base.promptFormat().addedTokenIds();
            TrainingOptions options = TrainingOptions.defaults().withEpochs(epochs).withBatchSize(batchSize)
                    .withLearningRate(learningRate).withSeed(seed)
                    .withLora(LoraConfig.defaults().withTrainableTokens(added));
            List<TrainingExample> examples = SeedExamples.NUMBERS;
            LoraTrainer trainer = new LoraTrainer(base.model(), base.promptFormat(), examples, options);
            System.out.printf(Locale.ROOT, "Tuning %s on %d examples: %d epochs, batch %d, learning rate %s, "
                            + "LoRA rank %d on %s, trainable token rows %s -> %d steps%n",
                    model, examples.size(), epochs, batchSize, learningRate, options.lora().rank(),
                    options.lora().targetModules().size() + " projections", java.util.Arrays.toString(added),
                    trainer.totalSteps());
            List<StepReport> reports = new ArrayList<>();
            try (ProgressBar bar = new ProgressBarBuilder().setTaskName("tuning").setInitialMax(trainer.totalSteps())
                    .setStyle(ProgressBarStyle.ASCII).continuousUpdate().build()) {
                trainer.train(r -> {
                    reports.add(r);
                    bar.stepTo(r.step());
                    bar.setExtraMessage(String.format(Locale.ROOT, "epoch %d loss %.4f", r.epoch(), r.meanLoss()));
                });
            }
            printEpochLosses(reports);
            LoraAdapter adapter = trainer.adapter();
            if (save != null) {
                dev.tuneforge.engine.lora.PeftAdapterFormat.save(adapter, save, model.toString());
                System.out.println("Adapter saved to " + save);
            }
            GenerationOptions greedy = GenerationOptions.greedy(32);
            int exact = 0;
            System.out.println("\nTraining inputs (greedy):");
            for (TrainingExample e : examples) {
                GenerationResult r = base.answer(e.input(), adapter, greedy, t -> { });
                boolean ok = r.text().equals(e.output());
                exact += ok ? 1 : 0;
                System.out.printf(Locale.ROOT, "  %-12s -> %-18s %-10s %s%n", e.input(), quote(r.text()),
                        r.finishReason(), ok ? "exact" : "expected " + quote(e.output()));
            }
            System.out.printf(Locale.ROOT, "  %d of %d reproduced exactly%n", exact, examples.size());
            System.out.println("\nHeld-out inputs (a 260K-parameter model does not generalise; shown as they come):");
            for (String input : SeedExamples.HELD_OUT) {
                GenerationResult r = base.answer(input, adapter, greedy, t -> { });
                System.out.printf(Locale.ROOT, "  %-12s -> %-18s %s%n", input, quote(r.text()), r.finishReason());
            }
        }
    }

    private static void printEpochLosses(List<StepReport> reports) {
        StringBuilder sb = new StringBuilder("Mean loss per epoch:");
        int epoch = 0;
        double sum = 0;
        int n = 0;
        for (StepReport r : reports) {
            if (r.epoch() != epoch && n > 0) {
                sb.append(String.format(Locale.ROOT, " %d:%.3f", epoch, sum / n));
                sum = 0;
                n = 0;
            }
            epoch = r.epoch();
            sum += r.meanLoss();
            n++;
        }
        sb.append(String.format(Locale.ROOT, " %d:%.3f", epoch, sum / n));
        System.out.println(sb);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
