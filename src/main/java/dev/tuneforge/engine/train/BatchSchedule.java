package dev.tuneforge.engine.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Which examples each step trains on. The epochs' shuffled orders are laid end to end and cut into batches, so a
 * batch may straddle two epochs and total steps = ceil(examples × epochs / batch size), as the Gemini API counts
 * (15 examples, 5 epochs, batch 2 → 38 steps). Each epoch's order depends only on (seed, epoch), so any step's
 * batch can be recomputed when resuming.
 */
public final class BatchSchedule {
    private final int examples;
    private final int epochs;
    private final int batchSize;
    private final long seed;

    public BatchSchedule(int examples, int epochs, int batchSize, long seed) {
        if (examples < 1) {
            throw new IllegalArgumentException("at least one training example is needed");
        }
        this.examples = examples;
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.seed = seed;
    }

    public static int totalSteps(int examples, int epochs, int batchSize) {
        return (int) ((long) examples * epochs + batchSize - 1) / batchSize;
    }

    public int totalSteps() {
        return totalSteps(examples, epochs, batchSize);
    }

    /** Example indices of 1-based {@code step}. */
    public int[] batch(int step) {
        long first = (long) (step - 1) * batchSize;
        long end = Math.min(first + batchSize, (long) examples * epochs);
        int[] out = new int[(int) (end - first)];
        List<Integer> order = null;
        int orderEpoch = -1;
        for (long slot = first; slot < end; slot++) {
            int epoch = (int) (slot / examples);
            if (epoch != orderEpoch) {
                order = epochOrder(epoch);
                orderEpoch = epoch;
            }
            out[(int) (slot - first)] = order.get((int) (slot % examples));
        }
        return out;
    }

    /** 1-based epoch that {@code step}'s last example belongs to. */
    public int epochOf(int step) {
        long last = Math.min((long) step * batchSize, (long) examples * epochs) - 1;
        return (int) (last / examples) + 1;
    }

    private List<Integer> epochOrder(int epoch) {
        List<Integer> order = new ArrayList<>(examples);
        for (int i = 0; i < examples; i++) {
            order.add(i);
        }
        Collections.shuffle(order, new Random(seed * 1_000_003L + epoch));
        return order;
    }
}
