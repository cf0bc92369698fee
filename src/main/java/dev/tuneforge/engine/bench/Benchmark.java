package dev.tuneforge.engine.bench;

import dev.tuneforge.engine.generate.TokenSampler;
import dev.tuneforge.engine.kernel.ComputeThreads;
import dev.tuneforge.engine.kernel.CoreToCoreLatency;
import dev.tuneforge.engine.kernel.CpuSteal;
import dev.tuneforge.engine.kernel.OpenMpWaitPolicy;
import dev.tuneforge.engine.kernel.ProcessMemory;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.kernel.RowParallel;
import dev.tuneforge.engine.model.AdapterWeights;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.train.AdamW;
import dev.tuneforge.engine.train.TrainingStep;
import dev.tuneforge.engine.tokenizer.PromptFormat.TrainingSequence;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Measures LoRA training and decode speed of a model built from a config with random weights, and this machine's
 * limits (matmul peak, memory read bandwidth) in the same run, and reports utilisation against them.
 */
public final class Benchmark {
    private static final int TRAIN_TOKENS_SHORT = 64;
    private static final int TRAIN_TOKENS_LONG = 256;
    private static final int DECODE_PROMPT = 32;
    /** A long context too, where attention over the cached positions is a good part of a token's time. */
    private static final int LONG_DECODE_PROMPT = 1024;
    private static final int DECODE_TOKENS = 128;
    /** New tokens of each sequence in the batched-decode round. */
    private static final int BATCHED_DECODE_TOKENS = 64;
    private static final int WARM_UP_STEPS = 3;
    private final ModelConfig config;
    private final ScalarType dtype;
    private final int steps;
    private final PrintStream out;

    public record Result(double trainTokensPerSecond64, double trainTokensPerSecond256, double decodeTokensPerSecond,
                         double timeToFirstTokenMs, double fp32Gflops, double bf16Gflops, double readGBps,
                         double mfu256, double decodeBandwidthUtilisation) {
    }

    /** Measured rounds of the single-token decoder after a short prompt. */
    private static final int DECODER_ROUNDS = 5;
    /** The JIT compiled for 10-45 ms a round until about the seventh (SmolLM2), on one of the cores that decode. */
    private static final int DECODER_WARM_UP = 8;

    public Benchmark(ModelConfig config, ScalarType dtype, int steps, PrintStream out) {
        this.config = config;
        this.dtype = dtype;
        this.steps = steps;
        this.out = out;
    }

    public Result run() {
        int positions = steps > 0 ? Math.max(TRAIN_TOKENS_LONG, DECODE_PROMPT + DECODE_TOKENS) : DECODE_PROMPT + DECODE_TOKENS;
        if (config.maxPositionEmbeddings() < positions) {
            throw new IllegalArgumentException("the benchmark needs " + positions + " positions, the config's "
                    + "max_position_embeddings is " + config.maxPositionEmbeddings());
        }
        ComputeThreads.applyToLibtorch();
        out.printf(Locale.ROOT, "threads: %d (%s), base weights: %s, LoRA rank 8 on all projections + stop-token row "
                        + "(fp32), gradient step%n", torch.get_num_threads(), OpenMpWaitPolicy.describe(),
                dev.tuneforge.engine.model.WeightDtype.name(dtype));
        CpuSteal.Snapshot beforeFp32 = CpuSteal.now();
        double fp32 = matmulGflops(ScalarType.Float);
        CpuSteal.Snapshot beforeBf16 = CpuSteal.now();
        double bf16 = matmulGflops(ScalarType.BFloat16);
        CpuSteal.Snapshot afterPeaks = CpuSteal.now();
        double bandwidth = readBandwidthGBps();
        out.printf(Locale.ROOT, "machine: matmul peak fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s (%s / %s of the CPU time "
                        + "stolen meanwhile); memory read %.1f GB/s; core-to-core round trip %.0f ns%n", fp32, bf16,
                percent(beforeFp32.stolenShareUntil(beforeBf16)), percent(beforeBf16.stolenShareUntil(afterPeaks)),
                bandwidth, roundTripNanos());

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
        // utilisation against the peak of the dtype the base weights are in
        boolean bf16Base = dtype.value == ScalarType.BFloat16.value;
        double peak = bf16Base ? bf16 : fp32;
        String peakName = bf16Base ? "bf16" : "fp32";
        TrainingThroughput t64 = TrainingThroughput.NOT_MEASURED;
        TrainingThroughput t256 = TrainingThroughput.NOT_MEASURED;
        if (steps > 0) {
            // the trainer's optimizer, with its gradient clipping
            AdamW optimizer = new AdamW(adapter.namedParameters(), 1e-4, 0.01);
            t64 = trainThroughput(model, adapter, optimizer, TRAIN_TOKENS_SHORT);
            t256 = trainThroughput(model, adapter, optimizer, TRAIN_TOKENS_LONG);
            // this shared machine's limits drift by tens of percent within minutes: measured again right after
            // training, and the higher of the two is the reference
            CpuSteal.Snapshot beforeAgain = CpuSteal.now();
            double again = matmulGflops(dev.tuneforge.engine.model.WeightDtype.compute(dtype));
            out.printf(Locale.ROOT, "matmul peak %s again after training: %.1f GFLOP/s (%s of the CPU time stolen)%n",
                    peakName, again, percent(beforeAgain.stolenShareUntil(CpuSteal.now())));
            peak = Math.max(peak, again);
            printTraining(TRAIN_TOKENS_SHORT, t64, peak, peakName);
            printTraining(TRAIN_TOKENS_LONG, t256, peak, peakName);
        }
        double mfu256 = t256.flopsPerSecond() / (peak * 1e9);

        adapter.parametersChanged();
        // every token reads the base's weights (the embedding table only for one row) and all of the adapter's
        double baseBytes = model.weightBytes() - (config.tieWordEmbeddings() ? 0 : (double) model.embeddingBytes());
        double adapterBytes = adapter.decodeWeights().bytesReadPerToken();
        double bytesPerToken = baseBytes + adapterBytes;
        out.printf(Locale.ROOT, "decode reads %.1f MB/token: base %.1f MB + adapter %.1f MB (float32 LoRA pairs and "
                + "head rows)%n", bytesPerToken / 1e6, baseBytes / 1e6, adapterBytes / 1e6);
        DecodeRounds viaTorch = decodeRounds(model, adapter, null, DECODE_PROMPT, 1, 1, true);
        printDecode("libtorch ops", viaTorch, bytesPerToken);
        SingleTokenDecoder decoder = model.decoder();
        DecodeRounds decode = viaTorch;
        if (decoder != null) {
            decode = decodeRounds(model, adapter, decoder, DECODE_PROMPT, DECODER_WARM_UP, DECODER_ROUNDS, true);
            printDecode("single-token decoder (" + decoder.loop() + ", " + RowParallel.threads()
                    + " threads; median of " + DECODER_ROUNDS + " rounds after " + DECODER_WARM_UP
                    + " warm-up rounds; the JIT compiled for " + decode.compilationMillis()
                    + " ms in the measured rounds)", decode, bytesPerToken);
        }
        if (decoder != null && config.maxPositionEmbeddings() >= LONG_DECODE_PROMPT + DECODE_TOKENS) {
            // the decoder is warm from the rounds above: three measured rounds, no warm-up
            DecodeRounds longContext = decodeRounds(model, adapter, decoder, LONG_DECODE_PROMPT, 0, 3, false);
            out.printf(Locale.ROOT, "decode batch 1, %d-token prompt, %d new tokens, single-token decoder: time to "
                            + "first token %.1f ms, %.1f tokens/s (%.0f%% of the rate after a %d-token prompt; "
                            + "attention reads every layer's cached keys and values)%n", LONG_DECODE_PROMPT,
                    DECODE_TOKENS, longContext.timeToFirstTokenMs(), longContext.tokensPerSecond(),
                    longContext.tokensPerSecond() / decode.tokensPerSecond() * 100, DECODE_PROMPT);
        }
        new BatchedDecodeRound(model, out).run(DECODE_PROMPT, BATCHED_DECODE_TOKENS);
        out.printf(Locale.ROOT, "peak resident memory: %.0f MB%n", ProcessMemory.peakResident() / 1e6);
        return new Result(t64.tokensPerSecond(), t256.tokensPerSecond(), decode.tokensPerSecond(), decode.timeToFirstTokenMs(), fp32, bf16,
                median(decode.bandwidths()), mfu256, decode.utilisation(bytesPerToken));
    }

    private void printDecode(String path, DecodeRounds decode, double bytesPerToken) {
        double achieved = bytesPerToken * decode.tokensPerSecond() / 1e9;
        StringBuilder rounds = new StringBuilder();
        double[] bandwidths = decode.bandwidths();
        for (int i = 0; i < decode.rates().length; i++) {
            rounds.append(String.format(Locale.ROOT, "%s%.1f tokens/s at %.1f GB/s (%.1f before, %.1f after; core-to-core "
                            + "round trip %.0f ns before; %s of the CPU time stolen) = %.1f%%", i == 0 ? "" : "; ",
                    decode.rates()[i], bandwidths[i], decode.bandwidthsBefore()[i], decode.bandwidthsAfter()[i],
                    decode.roundTripsNanos()[i], percent(decode.stolenShares()[i]),
                    bytesPerToken * decode.rates()[i] / 1e9 / bandwidths[i] * 100));
        }
        out.printf(Locale.ROOT, "decode batch 1, 32-token prompt, 128 new tokens, %s: time to first token %.1f ms, "
                        + "%.1f tokens/s, weights read %.1f MB/token = %.1f GB/s, %.1f%% of the read bandwidth "
                        + "(median over the rounds, each against the higher of the bandwidths measured just before and "
                        + "after it; %s over the %d of %d rounds where those two agree within 10%%, %s over the %d of "
                        + "them with under %s of the CPU time stolen: %s)%n",
                path, decode.timeToFirstTokenMs(), decode.tokensPerSecond(), bytesPerToken / 1e6, achieved,
                decode.utilisation(bytesPerToken) * 100, figure(decode.steadyUtilisation(bytesPerToken)),
                decode.steadyRounds(), decode.rates().length, figure(decode.undisturbedUtilisation(bytesPerToken)),
                decode.undisturbedRounds(), percent(CpuSteal.UNDISTURBED_BELOW), rounds);
    }

    /** A training shape's median step (over {@code stepsCounted} of the measured steps) and the rates it gives. */
    record TrainingThroughput(double secondsPerStep, double tokensPerSecond, double flopsPerSecond, int stepsCounted) {
        static final TrainingThroughput NOT_MEASURED = new TrainingThroughput(0, 0, 0, 0);
    }

    private void printTraining(int seqLen, TrainingThroughput measured, double peak, String peakName) {
        out.printf(Locale.ROOT, "train batch 4 × %d:%s median %.3f s/step over %s, %.0f tokens/s, %.1f GFLOP/s, MFU %.1f%% "
                        + "of %s peak%n", seqLen, seqLen < 100 ? " " : "", measured.secondsPerStep(),
                measured.stepsCounted() == steps ? "all " + steps + " steps" : String.format(Locale.ROOT,
                        "the %d of %d steps with under %s of the CPU time stolen", measured.stepsCounted(), steps,
                        percent(CpuSteal.UNDISTURBED_BELOW)),
                measured.tokensPerSecond(), measured.flopsPerSecond() / 1e9,
                measured.flopsPerSecond() / (peak * 1e9) * 100, peakName);
    }

    private static String percent(double share) {
        return Double.isNaN(share) ? "n/a" : String.format(Locale.ROOT, "%.1f%%", share * 100);
    }

    private static String figure(double share) {
        return Double.isNaN(share) ? "no figure" : percent(share);
    }

    /**
     * The median over the steps during which the hypervisor took under {@link CpuSteal#UNDISTURBED_BELOW} of the CPU
     * time, or over all steps where none was.
     */
    private TrainingThroughput trainThroughput(LlamaModel model, LoraAdapter adapter, AdamW optimizer, int seqLen) {
        int batch = 4;
        Random random = new Random(seqLen);
        List<TrainingSequence> sequences = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            long[] ids = new long[seqLen];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = random.nextInt(config.vocabSize());
            }
            // the loss on every next token
            sequences.add(new TrainingSequence(ids, 1));
        }
        // as LoraTrainer runs a step: microbatches side by side, LoRA dropout 0.05 with the step's masks
        TrainingStep trainingStep = new TrainingStep(model, adapter, optimizer, 0);
        long[] stepNumber = {0};
        int[] microbatches = {1};
        Runnable step = () -> {
            microbatches[0] = trainingStep.forwardBackward(sequences, stepNumber[0]++).microbatches();
            optimizer.update(1.0);
        };
        // steady state, as in a job's hundreds of steps: the first steps of a new shape are slower (SmolLM2 bf16
        // 4 × 64 on Zen 4: 0.87 and 0.81 s after one warm-up step, then 0.64–0.70 s), likely first-use costs such
        // as growing the heap
        for (int i = 0; i < WARM_UP_STEPS; i++) {
            step.run();
        }
        double[] times = new double[steps];
        double[] stolen = new double[steps];
        for (int i = 0; i < steps; i++) {
            CpuSteal.Snapshot cpu = CpuSteal.now();
            long start = System.nanoTime();
            step.run();
            times[i] = (System.nanoTime() - start) / 1e9;
            stolen[i] = cpu.stolenShareUntil(CpuSteal.now());
        }
        // the median: on a shared machine single steps vary by ±20%
        double[] counted = undisturbedOrAll(times, stolen);
        double seconds = median(counted);
        out.printf(Locale.ROOT, "  4 × %d steps (%d microbatch%s side by side) after %d warm-up steps: %s s; CPU time "
                        + "stolen: %s%n", seqLen, microbatches[0], microbatches[0] == 1 ? "" : "es", WARM_UP_STEPS,
                java.util.Arrays.stream(times).mapToObj(t -> String.format(Locale.ROOT, "%.2f", t))
                        .collect(java.util.stream.Collectors.joining(", ")),
                java.util.Arrays.stream(stolen).mapToObj(Benchmark::percent)
                        .collect(java.util.stream.Collectors.joining(", ")));
        double tokens = batch * seqLen;
        double flopsPerToken = 4.0 * config.matmulParameterCount()
                + 12.0 * config.numLayers() * seqLen * config.numHeads() * config.headDim();
        return new TrainingThroughput(seconds, tokens / seconds, flopsPerToken * tokens / seconds, counted.length);
    }

    /** The values measured while under {@link CpuSteal#UNDISTURBED_BELOW} of the CPU time was stolen; all if none was. */
    static double[] undisturbedOrAll(double[] values, double[] stolenShares) {
        double[] undisturbed = java.util.stream.IntStream.range(0, values.length)
                .filter(i -> CpuSteal.undisturbed(stolenShares[i])).mapToDouble(i -> values[i]).toArray();
        return undisturbed.length > 0 ? undisturbed : values;
    }

    /**
     * Measured decode rounds: per round, the time to first token (ms), the decode rate (tokens/s) and, where asked
     * for, this machine's read bandwidth measured just before and just after the round (the higher of the two, GB/s):
     * on a shared machine it moved between 35 and 76 GB/s within minutes, at times from one round to the next, so a
     * figure from the start of the run, or one for all rounds, says little. Also the core-to-core round trip measured
     * just before each round ({@link CoreToCoreLatency}), which shows where the VM has placed its cores; the share of
     * the CPU time the hypervisor gave to others during each round ({@link CpuSteal}); and the milliseconds the JIT
     * spent compiling during the rounds (on one of the cores that decode).
     */
    record DecodeRounds(double[] timesToFirstToken, double[] rates, double[] bandwidthsBefore,
                        double[] bandwidthsAfter, double[] roundTripsNanos, double[] stolenShares,
                        long compilationMillis) {
        /** Per round, the higher of the bandwidths measured just before and just after it. */
        double[] bandwidths() {
            double[] higher = new double[rates.length];
            for (int i = 0; i < rates.length; i++) {
                higher[i] = Math.max(bandwidthsBefore[i], bandwidthsAfter[i]);
            }
            return higher;
        }

        /** Whether the bandwidth measured before and after round i agree within 10% (no phase change seen). */
        boolean steady(int i) {
            return Math.abs(bandwidthsBefore[i] - bandwidthsAfter[i])
                    <= 0.1 * Math.max(bandwidthsBefore[i], bandwidthsAfter[i]);
        }

        /** Whether round i is {@link #steady} and the hypervisor left the CPUs alone during it ({@link CpuSteal}). */
        boolean undisturbed(int i) {
            return steady(i) && CpuSteal.undisturbed(stolenShares[i]);
        }

        double timeToFirstTokenMs() {
            return median(timesToFirstToken);
        }

        double tokensPerSecond() {
            return median(rates);
        }

        /** The median over the rounds of the bytes read per second against the bandwidth around each round. */
        double utilisation(double bytesPerToken) {
            double[] bandwidths = bandwidths();
            double[] shares = new double[rates.length];
            for (int i = 0; i < rates.length; i++) {
                shares[i] = bytesPerToken * rates[i] / 1e9 / bandwidths[i];
            }
            return median(shares);
        }

        /** As {@link #utilisation} over the {@link #steady} rounds only; NaN when there is none. */
        double steadyUtilisation(double bytesPerToken) {
            return utilisationOver(this::steady, bytesPerToken);
        }

        /** As {@link #utilisation} over the {@link #undisturbed} rounds only; NaN when there is none. */
        double undisturbedUtilisation(double bytesPerToken) {
            return utilisationOver(this::undisturbed, bytesPerToken);
        }

        private double utilisationOver(java.util.function.IntPredicate rounds, double bytesPerToken) {
            double[] bandwidths = bandwidths();
            double[] shares = roundsWhere(rounds).mapToDouble(i -> bytesPerToken * rates[i] / 1e9 / bandwidths[i])
                    .toArray();
            return shares.length == 0 ? Double.NaN : median(shares);
        }

        long steadyRounds() {
            return roundsWhere(this::steady).count();
        }

        long undisturbedRounds() {
            return roundsWhere(this::undisturbed).count();
        }

        private java.util.stream.IntStream roundsWhere(java.util.function.IntPredicate rounds) {
            return java.util.stream.IntStream.range(0, rates.length).filter(rounds);
        }
    }

    /**
     * The prompt through libtorch, then one token at a time through the single-token decoder ({@code decoder}
     * non-null) or through libtorch: {@code warmUp} rounds, then {@code measured} rounds. The decoder's caller is
     * Java: its first round runs partly interpreted and the second one still partly in code compiled before the JIT
     * had seen it whole (SmolLM2: 94 tokens/s in the second round, 105-117 after), and the JIT went on compiling for
     * 10-45 ms a round until about the seventh, on one of the two cores that decode, so the decoder gets
     * {@link #DECODER_WARM_UP} rounds (the measurements between rounds included); libtorch's ops are compiled code
     * from the start.
     */
    private DecodeRounds decodeRounds(LlamaModel model, LoraAdapter adapter, SingleTokenDecoder decoder, int promptLen,
                                      int warmUp, int measured, boolean withBandwidth) {
        Random random = new Random(3);
        long[] prompt = new long[promptLen];
        for (int i = 0; i < promptLen; i++) {
            prompt[i] = random.nextInt(config.vocabSize());
        }
        AdapterWeights weights = decoder == null ? null : adapter.decodeWeights();
        for (int round = 0; round < warmUp; round++) {
            if (withBandwidth) {
                // the measurements around the measured rounds warm up too: their code compiles in the background
                readBandwidthGBps();
                roundTripNanos();
            }
            decodeRound(model, adapter, decoder, weights, prompt);
        }
        double[] ttfts = new double[measured];
        double[] rates = new double[measured];
        double[] before = new double[measured];
        double[] after = new double[measured];
        double[] roundTrips = new double[measured];
        double[] stolen = new double[measured];
        long compiling = 0;
        for (int round = 0; round < measured; round++) {
            if (withBandwidth) {
                before[round] = readBandwidthGBps();
                roundTrips[round] = roundTripNanos();
            }
            long compiled = compilationMillis();
            CpuSteal.Snapshot cpu = CpuSteal.now();
            double[] timed = decodeRound(model, adapter, decoder, weights, prompt);
            stolen[round] = cpu.stolenShareUntil(CpuSteal.now());
            compiling += compilationMillis() - compiled;
            ttfts[round] = timed[0];
            rates[round] = timed[1];
            if (withBandwidth) {
                after[round] = readBandwidthGBps();
            }
        }
        return new DecodeRounds(ttfts, rates, before, after, roundTrips, stolen, compiling);
    }

    /** One round: the time to first token (ms) and the rate of the following tokens (tokens/s). */
    private double[] decodeRound(LlamaModel model, LoraAdapter adapter, SingleTokenDecoder decoder,
                                 AdapterWeights weights, long[] prompt) {
        int promptLen = prompt.length;
        int newTokens = DECODE_TOKENS;
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            KvCache cache = model.newCache(promptLen + newTokens);
            SingleTokenDecoder.State state = decoder == null ? null : decoder.newState(cache);
            long t0 = System.nanoTime();
            long next;
            try (PointerScope s = new PointerScope()) {
                Tensor h = model.forward(Tensors.longs(prompt, 1, promptLen), 0, cache, adapter);
                next = model.logits(h.select(1, promptLen - 1), adapter).argmax().item_long();
            }
            long t1 = System.nanoTime();
            for (int i = 1; i < newTokens; i++) {
                int position = promptLen + i - 1;
                if (decoder != null) {
                    next = TokenSampler.argmax(decoder.next(state, (int) next, position, cache, weights));
                    continue;
                }
                try (PointerScope s = new PointerScope()) {
                    Tensor h = model.forward(Tensors.longs(new long[]{next}, 1, 1), position, cache, adapter);
                    next = model.logits(h.select(1, 0), adapter).argmax().item_long();
                }
            }
            long t2 = System.nanoTime();
            return new double[]{(t1 - t0) / 1e6, (newTokens - 1) / ((t2 - t1) / 1e9)};
        }
    }

    /** Milliseconds the JIT has spent compiling so far (0 where the JVM does not say). */
    private static long compilationMillis() {
        java.lang.management.CompilationMXBean jit = java.lang.management.ManagementFactory.getCompilationMXBean();
        return jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : 0;
    }

    static double median(double[] values) {
        double[] sorted = values.clone();
        java.util.Arrays.sort(sorted);
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /**
     * Peak matmul rate for {@code type}: 2048² matrices, or 512² where a probe shows the type is emulated (bf16 on
     * CPUs without AVX512-BF16/AMX runs at a few GFLOP/s, and a 2048² product would take minutes).
     */
    static double matmulGflops(ScalarType type) {
        double probe = matmulGflops(type, 512, 0.3);
        return probe < 20 ? probe : matmulGflops(type, 2048, 1.0);
    }

    private static double matmulGflops(ScalarType type, int n, double minSeconds) {
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor a = torch.randn(new long[]{n, n}, new TensorOptions(ScalarType.Float)).to(type);
            Tensor b = torch.randn(new long[]{n, n}, new TensorOptions(ScalarType.Float)).to(type);
            try (PointerScope s = new PointerScope()) {
                torch.matmul(a, b);
            }
            int iterations = 0;
            long start = System.nanoTime();
            double seconds;
            do {
                try (PointerScope s = new PointerScope()) {
                    torch.matmul(a, b);
                }
                iterations++;
                seconds = (System.nanoTime() - start) / 1e9;
            } while (seconds < minSeconds);
            return 2.0 * n * n * n * iterations / seconds / 1e9;
        }
    }

    /** The core-to-core round trip (see {@link CoreToCoreLatency}): 21 batches of 2,000 trips, ~10–30 ms. */
    static double roundTripNanos() {
        return CoreToCoreLatency.roundTripNanos(2_000);
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
}
