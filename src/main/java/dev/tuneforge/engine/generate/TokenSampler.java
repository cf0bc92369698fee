package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;

import java.util.Random;

/** Picks the next token from float32 logits [vocab]: greedy, or temperature + top-k + top-p (nucleus) sampling. */
public final class TokenSampler {
    private final GenerationOptions options;
    private final Random random;

    TokenSampler(GenerationOptions options) {
        this.options = options;
        this.random = options.seed() == null ? new Random() : new Random(options.seed());
    }

    /**
     * The next token for float32 logits in an array (the single-token decoder's output): the largest, or a draw
     * from the softmax of logits / temperature over the {@code topK} largest (all when 0), cut to the smallest set of
     * most likely tokens whose probability reaches {@code topP}. Sorting the whole vocabulary with libtorch for
     * every token took 13 ms with Qwen2.5-0.5B's 152k tokens (a decoded token takes ~22 ms) and 4 ms with
     * SmolLM2's 49k; here only the candidates are ordered.
     */
    long next(float[] logits) {
        if (options.isGreedy()) {
            return argmax(logits);
        }
        int n = logits.length;
        int k = options.topK() > 0 && options.topK() < n ? options.topK() : n;
        double inverseTemperature = 1 / options.temperature();
        float max = logits[argmax(logits)];
        if (k < n) {
            int[] order = largest(logits, k);
            double[] weights = new double[k];
            double total = 0;
            for (int i = 0; i < k; i++) {
                weights[i] = Math.exp((logits[order[i]] - max) * inverseTemperature);
                total += weights[i];
            }
            return order[draw(weights, total)];
        }
        double[] all = new double[n];
        double total = 0;
        for (int i = 0; i < n; i++) {
            all[i] = Math.exp((logits[i] - max) * inverseTemperature);
            total += all[i];
        }
        if (options.topP() >= 1) {
            // every token stays a candidate: no order needed
            double r = random.nextDouble() * total;
            for (int i = 0; i < n; i++) {
                r -= all[i];
                if (r <= 0) {
                    return i;
                }
            }
            return argmax(logits);
        }
        int[] order = mostLikely(all, options.topP() * total);
        double[] weights = new double[order.length];
        for (int i = 0; i < order.length; i++) {
            weights[i] = all[order[i]];
        }
        // the cut is against the whole distribution's weight, as if every token were in the list
        return order[draw(weights, total)];
    }

    /**
     * A draw from {@code weights} (most likely first, summing to at most {@code total}, the weight of every
     * candidate), restricted to the first ones whose weight reaches topP of the total.
     */
    private int draw(double[] weights, double total) {
        double cut = options.topP() < 1 ? options.topP() * total : Double.POSITIVE_INFINITY;
        int keep = weights.length;
        double kept = 0;
        for (int i = 0; i < weights.length; i++) {
            kept += weights[i];
            if (kept >= cut) {
                keep = i + 1;
                break;
            }
        }
        double r = random.nextDouble() * kept;
        for (int i = 0; i < keep; i++) {
            r -= weights[i];
            if (r <= 0 && weights[i] > 0) {
                return i;
            }
        }
        // rounding left r above 0: the last candidate that has any weight (a masked token has none)
        for (int i = keep - 1; i > 0; i--) {
            if (weights[i] > 0) {
                return i;
            }
        }
        return 0;
    }

    /** Indices of the {@code k} largest values, largest first (the lower index first among equal values). */
    static int[] largest(float[] values, int k) {
        // a min-heap of the k largest seen so far, its root the smallest of them
        int[] heap = new int[k];
        int size = 0;
        for (int i = 0; i < values.length; i++) {
            if (size < k) {
                heap[size] = i;
                siftUp(values, heap, size++);
            } else if (values[i] > values[heap[0]]) {
                heap[0] = i;
                siftDown(values, heap, k);
            }
        }
        long[] keys = new long[k];
        for (int i = 0; i < k; i++) {
            keys[i] = sortKey(values[heap[i]], heap[i]);
        }
        return indicesDescending(keys);
    }

    /**
     * A key that sorts like {@code value}, then like {@code index} descending: the float's bits made to order like
     * the values (negative ones flipped) above the index counted down from the largest int.
     */
    private static long sortKey(float value, int index) {
        int bits = Float.floatToIntBits(value);
        bits ^= (bits >> 31) & Integer.MAX_VALUE;
        return (long) bits << 32 | (Integer.MAX_VALUE - index);
    }

    /** The indices in {@link #sortKey} keys, largest value first and the lower index first among equal values. */
    private static int[] indicesDescending(long[] keys) {
        java.util.Arrays.sort(keys);
        int[] out = new int[keys.length];
        for (int i = 0; i < keys.length; i++) {
            out[i] = Integer.MAX_VALUE - (int) keys[keys.length - 1 - i];
        }
        return out;
    }

    /** Orders the heap by value, ties broken towards the higher index being smaller (so lower indices stay). */
    private static boolean smaller(float[] values, int a, int b) {
        return values[a] < values[b] || values[a] == values[b] && a > b;
    }

    private static void siftUp(float[] values, int[] heap, int at) {
        while (at > 0) {
            int parent = (at - 1) / 2;
            if (!smaller(values, heap[at], heap[parent])) {
                return;
            }
            int t = heap[at];
            heap[at] = heap[parent];
            heap[parent] = t;
            at = parent;
        }
    }

    private static void siftDown(float[] values, int[] heap, int size) {
        int at = 0;
        while (true) {
            int smallest = at;
            int left = 2 * at + 1;
            int right = left + 1;
            if (left < size && smaller(values, heap[left], heap[smallest])) {
                smallest = left;
            }
            if (right < size && smaller(values, heap[right], heap[smallest])) {
                smallest = right;
            }
            if (smallest == at) {
                return;
            }
            int t = heap[at];
            heap[at] = heap[smallest];
            heap[smallest] = t;
            at = smallest;
        }
    }

    /**
     * Indices of the most likely tokens, most likely first, at least up to the first ones whose weights (at most 1,
     * the largest being 1) sum to {@code needed}: one pass sums the weights by binary exponent, the largest
     * exponents that together reach {@code needed} set the threshold, and only the tokens above it are sorted. A
     * peaked distribution sorts a handful of tokens; a flat one most of the vocabulary.
     */
    static int[] mostLikely(double[] weights, double needed) {
        double[] sums = new double[Double.MAX_EXPONENT - Double.MIN_EXPONENT + 2];
        for (double w : weights) {
            if (w > 0) {
                sums[Math.max(Double.MIN_EXPONENT, Math.getExponent(w)) - Double.MIN_EXPONENT + 1] += w;
            }
        }
        int bucket = sums.length - 1;
        double sum = sums[bucket];
        while (sum < needed && bucket > 0) {
            sum += sums[--bucket];
        }
        int lowest = bucket + Double.MIN_EXPONENT - 1;
        boolean everything = bucket == 0;
        int count = 0;
        for (double w : weights) {
            if (everything || atLeast(w, lowest)) {
                count++;
            }
        }
        long[] keys = new long[count];
        int c = 0;
        for (int i = 0; i < weights.length; i++) {
            if (everything || atLeast(weights[i], lowest)) {
                keys[c++] = sortKey((float) weights[i], i);
            }
        }
        return indicesDescending(keys);
    }

    /** Whether {@code w} is positive with a binary exponent of at least {@code exponent}. */
    private static boolean atLeast(double w, int exponent) {
        return w > 0 && Math.getExponent(w) >= exponent;
    }

    /** The index of the largest value, the first one on ties (as torch.argmax). */
    public static int argmax(float[] values) {
        int best = 0;
        for (int i = 1; i < values.length; i++) {
            if (values[i] > values[best]) {
                best = i;
            }
        }
        return best;
    }

    long next(Tensor logits) {
        if (options.isGreedy()) {
            return logits.argmax().item_long();
        }
        return next(Tensors.toFloats(logits));
    }
}
