package dev.tuneforge.engine.kernel;

import java.lang.foreign.MemorySegment;

/**
 * Elements of a row-major matrix in native memory (an adapter's low-rank A or Bᵀ), float32 or bfloat16, read as
 * float32: a bf16 element widens exactly, so every product runs the same float32 arithmetic on the stored values
 * whichever the storage.
 */
public record NativeMatrix(MemorySegment data, boolean bf16) {

    public int elementBytes() {
        return bf16 ? 2 : Float.BYTES;
    }

    public long elements() {
        return data.byteSize() / elementBytes();
    }

    /** Σ x[i] · element[from + i] for i < n. */
    public float dot(float[] x, long from, int n) {
        return bf16 ? VectorMath.dotBf16(x, 0, data, from, n) : VectorMath.dot(x, 0, data, from, n);
    }

    /** out[outOff + i] += Σ_k w[wOff + k] · element[k · n + i] for i < n: this matrix as [rank, n] rows. */
    public void addScaledRows(float[] out, int outOff, float[] w, int wOff, int rank, int n) {
        if (bf16) {
            VectorMath.addScaledRowsBf16(out, outOff, w, wOff, data, rank, n);
        } else {
            VectorMath.addScaledRows(out, outOff, w, wOff, data, rank, n);
        }
    }
}
