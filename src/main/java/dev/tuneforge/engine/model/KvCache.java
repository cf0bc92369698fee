package dev.tuneforge.engine.model;

import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Keys and values of earlier positions for one sequence: one preallocated (uncleared) buffer per layer, laid out
 * [1, kvHeads, capacity, headDim], in bfloat16 for a bf16 model (as Hugging Face keeps the cache in the model's
 * dtype: a bf16 model's keys and values are bf16 when computed, and attention reads half the bytes) and in float32
 * otherwise; attention's arithmetic is float32 either way. The single-token decoder reads and writes the same
 * buffers the libtorch forward pass fills.
 */
public final class KvCache {
    private final Tensor[] keys;
    private final Tensor[] values;
    private final long[] keyAddresses;
    private final long[] valueAddresses;
    private final int capacity;
    private final int kvHeads;
    private final int headDim;
    private final ScalarType dtype;
    private int length;

    /** A cache in {@code dtype}: float32 or bfloat16 ({@link LlamaModel#newCache} picks the model's). */
    public KvCache(ModelConfig config, int capacity, ScalarType dtype) {
        // compared by value: JavaCPP hands out enum constants from native code as fresh instances
        if (dtype.value != ScalarType.Float.value && dtype.value != ScalarType.BFloat16.value) {
            throw new IllegalArgumentException("a KV cache holds float32 or bfloat16, not " + dtype);
        }
        this.dtype = dtype.value == ScalarType.Float.value ? ScalarType.Float : ScalarType.BFloat16;
        this.capacity = capacity;
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        int layers = config.numLayers();
        keys = new Tensor[layers];
        values = new Tensor[layers];
        keyAddresses = new long[layers];
        valueAddresses = new long[layers];
        long[] shape = {1, config.numKvHeads(), capacity, config.headDim()};
        for (int l = 0; l < layers; l++) {
            keys[l] = torch.empty(shape, new TensorOptions(dtype), new MemoryFormatOptional());
            values[l] = torch.empty(shape, new TensorOptions(dtype), new MemoryFormatOptional());
            keyAddresses[l] = keys[l].data_ptr().address();
            valueAddresses[l] = values[l].data_ptr().address();
        }
    }

    /** Bytes its buffers hold (keys and values of every layer, for its whole capacity). */
    public long bytes() {
        return 2L * keys.length * kvHeads * (long) capacity * headDim * elementBytes();
    }

    /**
     * Frees its buffers now rather than when the garbage collector finds them unreachable (a server's caches come
     * and go with its requests); the cache must not be used after.
     */
    public void release() {
        for (int l = 0; l < keys.length; l++) {
            keys[l].close();
            values[l].close();
        }
    }

    /** Number of positions stored. */
    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** The dtype keys and values are stored in: float32 or bfloat16. */
    public ScalarType dtype() {
        return dtype;
    }

    /** Whether keys and values are stored in bfloat16 (else float32). */
    boolean bfloat16() {
        return dtype == ScalarType.BFloat16;
    }

    /** Bytes of one stored key or value element. */
    int elementBytes() {
        return bfloat16() ? 2 : 4;
    }

    int kvHeads() {
        return kvHeads;
    }

    int headDim() {
        return headDim;
    }

    /** Stores k/v of positions start..start+n-1 in {@code layer} and returns all keys/values up to them. */
    Tensor[] append(int layer, long start, Tensor k, Tensor v) {
        long n = k.size(2);
        checkContinues(start);
        checkRoom(start + n);
        keys[layer].narrow(2, start, n).copy_(k);
        values[layer].narrow(2, start, n).copy_(v);
        return new Tensor[]{keys[layer].narrow(2, 0, start + n), values[layer].narrow(2, 0, start + n)};
    }

    /** Address of the keys of {@code layer} ([kvHeads, capacity, headDim]), valid while this cache is reachable. */
    long keyAddress(int layer) {
        return keyAddresses[layer];
    }

    long valueAddress(int layer) {
        return valueAddresses[layer];
    }

    /**
     * Positions are stored one after another: the buffers are not cleared (clearing them cost SmolLM2 5–8 ms a
     * request at 1024 positions, 18–36 ms at 8192), so a position after a gap would attend to whatever memory held.
     */
    void checkContinues(long start) {
        if (start > length) {
            throw new IllegalStateException("position " + start + " would leave a gap: " + length + " positions stored");
        }
    }

    void checkRoom(long positions) {
        if (positions > capacity) {
            throw new IllegalStateException("KV cache full: " + positions + " > " + capacity);
        }
    }

    void advanceTo(int newLength) {
        this.length = newLength;
    }
}
