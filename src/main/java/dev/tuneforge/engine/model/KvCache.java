package dev.tuneforge.engine.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

/** Keys and values of earlier positions, one preallocated buffer per layer, for one sequence. */
public final class KvCache {
    private final Tensor[] keys;
    private final Tensor[] values;
    private final int capacity;
    private int length;

    public KvCache(ModelConfig config, int capacity, torch.ScalarType dtype) {
        this.capacity = capacity;
        keys = new Tensor[config.numLayers()];
        values = new Tensor[config.numLayers()];
        long[] shape = {1, config.numKvHeads(), capacity, config.headDim()};
        for (int l = 0; l < keys.length; l++) {
            keys[l] = torch.zeros(shape, new org.bytedeco.pytorch.TensorOptions(dtype));
            values[l] = torch.zeros(shape, new org.bytedeco.pytorch.TensorOptions(dtype));
        }
    }

    public int length() {
        return length;
    }

    public int capacity() {
        return capacity;
    }

    /** Stores k/v of positions start..start+n-1 in {@code layer} and returns all keys/values up to them. */
    Tensor[] append(int layer, long start, Tensor k, Tensor v) {
        long n = k.size(2);
        if (start + n > capacity) {
            throw new IllegalStateException("KV cache full: " + (start + n) + " > " + capacity);
        }
        keys[layer].narrow(2, start, n).copy_(k);
        values[layer].narrow(2, start, n).copy_(v);
        return new Tensor[]{keys[layer].narrow(2, 0, start + n), values[layer].narrow(2, 0, start + n)};
    }

    void advanceTo(int newLength) {
        this.length = newLength;
    }
}
