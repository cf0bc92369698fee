package dev.tuneforge.engine.bench;

import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;

/**
 * Measures LoRA training and decode speed of a model built from a config with random weights, and this machine's
 * limits (matmul peak, memory read bandwidth) in the same run, and reports utilisation against them.
 */
public final class Benchmark {
    private final ModelConfig config;
    private final ScalarType dtype;
    private final int steps;
    private final PrintStream out;

    public record Result(double trainTokensPerSecond64, double trainTokensPerSecond256, double decodeTokensPerSecond,
                         double timeToFirstTokenMs, double fp32Gflops, double bf16Gflops, double readGBps,
                         double mfu256, double decodeBandwidthUtilisation) {
    }

    public Benchmark(ModelConfig config, ScalarType dtype, int steps, PrintStream out) {
        this.config = config;
        this.dtype = dtype;
        this.steps = steps;
        this.out = out;
    }

    public Result run() {
        out.printf(Locale.ROOT, "threads: %d, base weights: %s, LoRA rank 8 on all projections + stop-token row (fp32), gradient step%n",
                torch.get_num_threads(), dtype);
        double fp32 = matmulGflops(ScalarType.Float);
        double bf16 = matmulGflops(ScalarType.BFloat16);
        double bandwidth = readBandwidthGBps();
        out.printf(Locale.ROOT, "machine: matmul peak fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s; memory read %.1f GB/s%n",
                fp32, bf16, bandwidth);

        LlamaModel model = LlamaModel.random(config, dtype, 1);
        LoraAdapter adapter = LoraAdapter.initialize(model, LoraConfig.defaults().withTrainableTokens(
                config.eosTokenIds().isEmpty() ? new long[0] : new long[]{config.eosTokenIds().get(0)}), 1);
        long n = config.matmulParameterCount();
        out.printf(Locale.ROOT, "model: %,d parameters (%,d in matmuls), %d layers, hidden %d, vocab %d; "
                        + "weights %.1f MB; adapter %,d trainable parameters%n",
                config.parameterCount(), n, config.numLayers(), config.hiddenSize(), config.vocabSize(),
                model.weightBytes() / 1e6, adapter.parameterCount());
        out.println("training FLOPs per token = 4·N + 12·L·T·(heads·head_dim)  "
                + "(forward 2N, backward through the frozen weights 2N; attention QK and AV, forward + 2× backward)");
        double[] t64 = trainThroughput(model, adapter, 64);
        double[] t256 = trainThroughput(model, adapter, 256);
        double mfu64 = t64[2] / (bf16 * 1e9);
        double mfu256 = t256[2] / (bf16 * 1e9);
        out.printf(Locale.ROOT, "train batch 4 × 64:  %.3f s/step, %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%% of bf16 peak%n",
                t64[0], t64[1], t64[2] / 1e9, mfu64 * 100);
        out.printf(Locale.ROOT, "train batch 4 × 256: %.3f s/step, %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%% of bf16 peak%n",
                t256[0], t256[1], t256[2] / 1e9, mfu256 * 100);

        adapter.parametersChanged();
        double[] decode = decode(model, adapter);
        double bytesPerToken = model.weightBytes() - (config.tieWordEmbeddings() ? 0
                : (double) config.vocabSize() * config.hiddenSize() * model.embedTokens().element_size());
        double achieved = bytesPerToken * decode[1] / 1e9;
        double utilisation = achieved / bandwidth;
        out.printf(Locale.ROOT, "decode batch 1, 32-token prompt, 128 new tokens: time to first token %.1f ms, "
                        + "%.1f tokens/s, weights read %.1f MB/token = %.1f GB/s, %.1f%% of read bandwidth%n",
                decode[0], decode[1], bytesPerToken / 1e6, achieved, utilisation * 100);
        out.printf(Locale.ROOT, "peak resident memory: %.0f MB%n", peakRssBytes() / 1e6);
        return new Result(t64[1], t256[1], decode[1], decode[0], fp32, bf16, bandwidth, mfu256, utilisation);
    }

    /** Returns {seconds per step, tokens per second, FLOP/s}. */
    private double[] trainThroughput(LlamaModel model, LoraAdapter adapter, int seqLen) {
        int batch = 4;
        Random random = new Random(seqLen);
        long[] ids = new long[batch * seqLen];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = random.nextInt(config.vocabSize());
        }
        var params = adapter.namedParameters().values().toArray(new Tensor[0]);
        Runnable step = () -> {
            try (PointerScope scope = new PointerScope()) {
                Tensor input = Tensors.longs(ids, batch, seqLen);
                Tensor hidden = model.forward(input, 0, null, adapter);
                Tensor logits = model.logits(hidden.narrow(1, 0, seqLen - 1).reshape(-1, config.hiddenSize()), adapter);
                Tensor targets = input.narrow(1, 1, seqLen - 1).reshape(-1);
                Tensor loss = torch.cross_entropy(logits, targets);
                loss.backward();
                torch.clip_grad_norm_(new TensorVector(params), 1.0);
                try (NoGradGuard g = new NoGradGuard()) {
                    for (Tensor p : params) {
                        p.sub_(p.grad().mul(new org.bytedeco.pytorch.Scalar(1e-4)));
                        p.grad().zero_();
                    }
                }
                loss.item_double();
            }
        };
        step.run();
        long start = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            step.run();
        }
        double seconds = (System.nanoTime() - start) / 1e9 / steps;
        double tokens = batch * seqLen;
        double flopsPerToken = 4.0 * config.matmulParameterCount()
                + 12.0 * config.numLayers() * seqLen * config.numHeads() * config.headDim();
        return new double[]{seconds, tokens / seconds, flopsPerToken * tokens / seconds};
    }

    /** Returns {time to first token in ms, decode tokens per second}. */
    private double[] decode(LlamaModel model, LoraAdapter adapter) {
        int promptLen = 32;
        int newTokens = 128;
        Random random = new Random(3);
        long[] prompt = new long[promptLen];
        for (int i = 0; i < promptLen; i++) {
            prompt[i] = random.nextInt(config.vocabSize());
        }
        double ttft = 0;
        double rate = 0;
        for (int round = 0; round < 2; round++) {
            try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
                KvCache cache = new KvCache(config, promptLen + newTokens, model.dtype());
                long t0 = System.nanoTime();
                long next;
                try (PointerScope s = new PointerScope()) {
                    Tensor h = model.forward(Tensors.longs(prompt, 1, promptLen), 0, cache, adapter);
                    next = model.logits(h.select(1, promptLen - 1), adapter).argmax().item_long();
                }
                long t1 = System.nanoTime();
                for (int i = 1; i < newTokens; i++) {
                    try (PointerScope s = new PointerScope()) {
                        Tensor h = model.forward(Tensors.longs(new long[]{next}, 1, 1), promptLen + i - 1, cache, adapter);
                        next = model.logits(h.select(1, 0), adapter).argmax().item_long();
                    }
                }
                long t2 = System.nanoTime();
                ttft = (t1 - t0) / 1e6;
                rate = (newTokens - 1) / ((t2 - t1) / 1e9);
            }
        }
        return new double[]{ttft, rate};
    }

    static double matmulGflops(ScalarType type) {
        int n = 2048;
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor a = torch.randn(new long[]{n, n}, new TensorOptions(ScalarType.Float)).to(type);
            Tensor b = torch.randn(new long[]{n, n}, new TensorOptions(ScalarType.Float)).to(type);
            Tensor c = torch.matmul(a, b);
            for (int i = 0; i < 2; i++) {
                try (PointerScope s = new PointerScope()) {
                    torch.matmul(a, b);
                }
            }
            int iterations = 8;
            long start = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                try (PointerScope s = new PointerScope()) {
                    torch.matmul(a, b);
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            c.sum().item_double();
            return 2.0 * n * n * n * iterations / seconds / 1e9;
        }
    }

    static double readBandwidthGBps() {
        long elements = 256L * 1024 * 1024; // 1 GiB of float32, far beyond the caches
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor t = torch.ones(new long[]{elements}, new TensorOptions(ScalarType.Float));
            t.sum().item_double();
            double best = 0;
            for (int i = 0; i < 5; i++) {
                long start = System.nanoTime();
                try (PointerScope s = new PointerScope()) {
                    t.sum().item_double();
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                best = Math.max(best, elements * 4.0 / seconds / 1e9);
            }
            return best;
        }
    }

    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
