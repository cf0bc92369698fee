package dev.tuneforge.engine.model;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * llama.cpp's Q8_0 format: each row of a [rows, cols] matrix as cols / 32 blocks of {fp16 scale d, 32 int8 q}, 34
 * bytes per 32 weights, with d = max|w| / 127 and q = round(w / d) (rounding half away from zero, as
 * {@code quantize_row_q8_0_ref}), so w ≈ d q. A matrix is held as a uint8 tensor [rows, rowBytes(cols)]. Where cols
 * is not a multiple of 32 (stories-260k's intermediate size, 172) the row's last block is partial: its q are zero past
 * the last column (llama.cpp refuses such a row; here the same kernels read it, the missing columns of x as zeros).
 */
public final class Q8Blocks {
    public static final int BLOCK = 32;
    public static final int BLOCK_BYTES = 34;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private Q8Blocks() {
    }

    public static long rowBytes(long cols) {
        return dev.tuneforge.engine.kernel.MatrixRows.q8RowBytes(cols);
    }

    /** Quantizes the float32 matrix {@code w} [rows, cols] (contiguous) into {@code out}, rows one after another. */
    public static void quantize(Tensor w, MemorySegment out) {
        long rows = w.size(0);
        long cols = w.size(1);
        MemorySegment in = MemorySegment.ofAddress(w.data_ptr().address()).reinterpret(rows * cols * Float.BYTES);
        float[] block = new float[BLOCK];
        long at = 0;
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c += BLOCK) {
                int n = (int) Math.min(BLOCK, cols - c);
                java.util.Arrays.fill(block, n, BLOCK, 0f);
                MemorySegment.copy(in, FLOAT, (r * cols + c) * Float.BYTES, block, 0, n);
                at = quantizeBlock(block, out, at);
            }
        }
    }

    /** One block of 32 at byte {@code at} of {@code out}; returns the next block's offset. */
    static long quantizeBlock(float[] block, MemorySegment out, long at) {
        float max = 0;
        for (float v : block) {
            max = Math.max(max, Math.abs(v));
        }
        float d = max / 127f;
        float inverse = d != 0 ? 1f / d : 0f;
        out.set(SHORT, at, Float.floatToFloat16(d));
        for (int i = 0; i < BLOCK; i++) {
            out.set(ValueLayout.JAVA_BYTE, at + 2 + i, (byte) roundHalfAway(block[i] * inverse));
        }
        return at + BLOCK_BYTES;
    }

    /** C's roundf: to the nearest integer, halves away from zero. */
    private static int roundHalfAway(float v) {
        float a = Math.abs(v);
        float whole = (float) Math.floor(a);
        if (a - whole >= 0.5f) {
            whole += 1;
        }
        return (int) Math.copySign(whole, v);
    }

    /** The matrix {@code q8} [rows, rowBytes(cols)] as {@code dtype} [rows, cols]: d × q, exact in float32. */
    public static Tensor dequantize(Tensor q8, long cols, ScalarType dtype) {
        long rows = q8.size(0);
        if (dev.tuneforge.engine.kernel.WeightMatrix.q8Available() && q8.is_contiguous()) {
            // one native pass instead of libtorch's five
            Tensor w = torch.empty(new long[]{rows, cols}, new TensorOptions(ScalarType.Float),
                    new org.bytedeco.pytorch.MemoryFormatOptional());
            dev.tuneforge.engine.kernel.WeightMatrix.dequantizeQ8(q8.data_ptr().address(), (int) cols, rows,
                    w.data_ptr().address());
            return dtype.value == ScalarType.Float.value ? w : w.to(dtype);
        }
        return dequantizeByLibtorch(q8, cols, dtype);
    }

    /** As {@link #dequantize} with libtorch's ops, where the native library does not run. */
    static Tensor dequantizeByLibtorch(Tensor q8, long cols, ScalarType dtype) {
        long rows = q8.size(0);
        long blocks = q8.size(1) / BLOCK_BYTES;
        Tensor split = q8.view(rows, blocks, BLOCK_BYTES);
        Tensor scales = split.narrow(2, 0, 2).contiguous().view(ScalarType.Half).to(ScalarType.Float);
        Tensor values = split.narrow(2, 2, BLOCK).view(ScalarType.Char).to(ScalarType.Float);
        Tensor w = values.mul_(scales).view(rows, blocks * BLOCK);
        if (cols != blocks * BLOCK) {
            w = w.narrow(1, 0, cols).contiguous();
        }
        return dtype.value == ScalarType.Float.value ? w : w.to(dtype);
    }
}
