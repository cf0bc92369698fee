package dev.tuneforge.cli;

import dev.tuneforge.engine.bench.Benchmark;
import dev.tuneforge.engine.model.ModelConfig;
import org.bytedeco.pytorch.global.torch.ScalarType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.List;

/** Prints training and decode speed of models built from configs with random weights. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark LoRA training and decoding on models with random weights built from config.json files.")
public final class BenchCommand implements Runnable {
    @Parameters(arity = "1..*", paramLabel = "CONFIG", description = "Hugging Face config.json files")
    List<Path> configs;

    @Option(names = "--dtype", description = "base weight dtype: bf16, fp32, int8 (Q8_0 blocks), or auto: bf16 where "
            + "the CPU multiplies bf16 in hardware (AVX512-BF16/AMX), else fp32 (default: ${DEFAULT-VALUE})")
    String dtype = "auto";

    @Option(names = "--steps", description = "measured training steps per shape; 0 skips training "
            + "(default: ${DEFAULT-VALUE})")
    int steps = 3;

    @Override
    public void run() {
        ScalarType type;
        try {
            type = dev.tuneforge.engine.model.WeightDtype.parse(dtype, "--dtype");
        } catch (IllegalArgumentException e) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this), e.getMessage());
        }
        if (steps < 0) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--steps must be 0 or more, got " + steps);
        }
        dev.tuneforge.engine.kernel.OpenMpWaitPolicy.chooseFor(List.of(type));
        for (Path config : configs) {
            System.out.println("== " + config);
            new Benchmark(ModelConfig.read(config), type, steps, System.out).run();
        }
    }
}
