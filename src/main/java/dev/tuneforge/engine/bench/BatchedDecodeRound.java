package dev.tuneforge.engine.bench;

import dev.tuneforge.engine.generate.TokenSampler;
import dev.tuneforge.engine.lora.AdapterDtype;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.ServedAdapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.TeamBatchDecoder;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * The bench's batched-decode round: 1, 4 and 16 sequences decoding together through the batched decoder, each with
 * its own adapter, after a prompt: aggregate and per-sequence tokens/s of the decoding steps (the prompts are
 * prefilled first, in steps of at most the decoder's preferred rows, and timed apart); one and four sequences give
 * the median of three rounds.
 */
final class BatchedDecodeRound {
    static final int[] SEQUENCES = {1, 4, 16};
    private static final int WARM_UP_ROUNDS = 3;
    /** Measured rounds of up to {@link #FEW} sequences (short rounds, so the median of three); more get one. */
    private static final int FEW = 4;
    private final LlamaModel model;
    private final PrintStream out;

    BatchedDecodeRound(LlamaModel model, PrintStream out) {
        this.model = model;
        this.out = out;
    }

    /**
     * Measured rounds per count of sequences ({@link #medianRound}) after a warm-up; prints each and the speed-up
     * over one.
     */
    void run(int promptTokens, int newTokens) {
        try (BatchDecoder decoder = model.batchDecoder()) {
            if (decoder == null) {
                out.println("batched decode: not measured, " + TeamBatchDecoder.unavailableReason());
                return;
            }
            // as a server holds them by default (bf16 on a bf16 or int8 base)
            List<ServedAdapter> adapters = new ArrayList<>();
            for (int i = 0; i < SEQUENCES[SEQUENCES.length - 1]; i++) {
                adapters.add(ServedAdapter.of(LoraAdapter.initialize(model, LoraConfig.defaults(), 100 + i),
                        AdapterDtype.AUTO.bf16On(model.dtype())));
            }
            try {
                measureAll(decoder, adapters, promptTokens, newTokens);
            } finally {
                adapters.forEach(ServedAdapter::release);
            }
        }
    }

    /** Warm-up, then the measured rounds of every count of sequences, each with its own adapter. */
    private void measureAll(BatchDecoder decoder, List<ServedAdapter> adapters, int promptTokens, int newTokens) {
        // warm-up: the step's Java (inputs, logits, the greedy choice over the vocabulary) runs interpreted at
        // first; with 8 tokens of warm-up the one-sequence round, measured first, ran partly so
        for (int round = 0; round < WARM_UP_ROUNDS; round++) {
            measure(decoder, adapters.subList(0, 1), promptTokens, newTokens);
        }
        measure(decoder, adapters.subList(0, 4), promptTokens, 8);
        double single = 0;
        for (int count : SEQUENCES) {
            double[] rates = medianRound(decoder, adapters.subList(0, count), promptTokens, newTokens);
            single = count == 1 ? rates[0] : single;
            out.printf(Locale.ROOT, "decode %d sequence%s together (%s; %d-token prompts prefilled in %.0f ms, "
                            + "%d new tokens each, own adapter each, held in %s): %.1f tokens/s aggregate (%.2f× one "
                            + "sequence), %.1f tokens/s per sequence; KV in use %.1f MB%n", count,
                    count == 1 ? "" : "s", decoder.describe(), promptTokens, rates[2], newTokens,
                    adapters.getFirst().decodeWeights().bf16() ? "bf16" : "fp32", rates[0], rates[0] / single,
                    rates[1], rates[3] / 1e6);
        }
    }

    /** The round with the median aggregate rate of three where {@code adapters} are few, else of one. */
    private double[] medianRound(BatchDecoder decoder, List<ServedAdapter> adapters, int promptTokens, int newTokens) {
        int rounds = adapters.size() <= FEW ? 3 : 1;
        List<double[]> measured = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            measured.add(measure(decoder, adapters, promptTokens, newTokens));
        }
        measured.sort(java.util.Comparator.comparingDouble(r -> r[0]));
        return measured.get(rounds / 2);
    }

    /** {aggregate tokens/s, per-sequence tokens/s, prefill ms, KV bytes at the end} of one round. */
    private double[] measure(BatchDecoder decoder, List<ServedAdapter> adapters, int promptTokens, int newTokens) {
        int vocab = model.config().vocabSize();
        Random random = new Random(7);
        List<BatchDecoder.Sequence> sequences = new ArrayList<>();
        int[] next = new int[adapters.size()];
        try {
            for (ServedAdapter adapter : adapters) {
                sequences.add(decoder.open(adapter, promptTokens + newTokens));
            }
            long start = System.nanoTime();
            List<BatchDecoder.Row> rows = new ArrayList<>();
            List<Integer> owners = new ArrayList<>();
            for (int s = 0; s < sequences.size(); s++) {
                for (int p = 0; p < promptTokens; p++) {
                    if (rows.size() == decoder.preferredRowsPerStep()) {
                        takeNext(decoder.step(rows), owners, next);
                        rows.clear();
                        owners.clear();
                    }
                    rows.add(new BatchDecoder.Row(sequences.get(s), random.nextInt(vocab), p == promptTokens - 1));
                    owners.add(s);
                }
            }
            takeNext(decoder.step(rows), owners, next);
            double prefillMs = (System.nanoTime() - start) / 1e6;
            start = System.nanoTime();
            for (int t = 0; t < newTokens; t++) {
                rows.clear();
                owners.clear();
                for (int s = 0; s < sequences.size(); s++) {
                    rows.add(new BatchDecoder.Row(sequences.get(s), next[s], true));
                    owners.add(s);
                }
                takeNext(decoder.step(rows), owners, next);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long kv = decoder.kvBytesInUse();
            return new double[]{sequences.size() * newTokens / seconds, newTokens / seconds, prefillMs, kv};
        } finally {
            sequences.forEach(BatchDecoder.Sequence::close);
        }
    }

    /** Each row with logits gives its sequence's next token, greedily. */
    private static void takeNext(float[][] logits, List<Integer> owners, int[] next) {
        for (int r = 0; r < logits.length; r++) {
            if (logits[r] != null) {
                next[owners.get(r)] = TokenSampler.argmax(logits[r]);
            }
        }
    }
}
