package dev.tuneforge.engine.kernel;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Reading one row of a row-major weight matrix in native memory as float32, whatever it is stored in: an embedding
 * row for the decoders. Plain Java (no Vector API), so every decoder can use it.
 */
public final class MatrixRows {
    /** How a matrix's values are stored. */
    public enum Storage {
        FLOAT32,
        BFLOAT16,
        /** llama.cpp's Q8_0: per row ceil(cols / 32) blocks of {fp16 d, 32 int8 q}, a partial last block zero-padded */
        Q8_0
    }

    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED;

    private MatrixRows() {
    }

    /** Bytes of a Q8_0 row of {@code cols} columns: ceil(cols / 32) blocks of 34 bytes. */
    public static long q8RowBytes(long cols) {
        return (cols + 31) / 32 * 34;
    }

    /** Bytes of one row of {@code cols} columns stored as {@code storage}. */
    public static long rowBytes(Storage storage, long cols) {
        return switch (storage) {
            case FLOAT32 -> cols * 4;
            case BFLOAT16 -> cols * 2;
            case Q8_0 -> q8RowBytes(cols);
        };
    }

    /** Row {@code row} of the matrix {@code data} [rows, cols] into {@code out}, widened to float32 (Q8_0: d × q). */
    public static void read(MemorySegment data, Storage storage, int cols, long row, float[] out) {
        switch (storage) {
            case Q8_0 -> {
                long at = row * q8RowBytes(cols);
                for (int c = 0; c < cols; c += 32, at += 34) {
                    float d = Float.float16ToFloat(data.get(SHORT, at));
                    for (int i = 0; i < Math.min(32, cols - c); i++) {
                        out[c + i] = d * data.get(ValueLayout.JAVA_BYTE, at + 2 + i);
                    }
                }
            }
            case BFLOAT16 -> {
                long base = row * cols;
                for (int c = 0; c < cols; c++) {
                    out[c] = Float.intBitsToFloat(data.getAtIndex(SHORT, base + c) << 16);
                }
            }
            case FLOAT32 -> MemorySegment.copy(data, FLOAT, row * cols * Float.BYTES, out, 0, cols);
        }
    }
}
