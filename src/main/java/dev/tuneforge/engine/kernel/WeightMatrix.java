package dev.tuneforge.engine.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A row-major [rows, cols] matrix of float32 or bfloat16 values, or of Q8_0 blocks (native loop only), in native memory (a libtorch tensor's storage,
 * which must outlive this view), multiplied by float32 vectors with the Vector API. Decoding one token reads every
 * weight once, so these products are bound by memory bandwidth: each core reads its rows as two sequential streams.
 */
public final class WeightMatrix {
    /** The widest vectors this CPU has (512 bits with AVX-512, else 256); bf16 loads are half as wide. */
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = F.vectorBitSize() == 512 ? IntVector.SPECIES_512 : IntVector.SPECIES_256;
    /** bf16 values for two float vectors, read by one load (512 bits with AVX-512). */
    private static final VectorSpecies<Short> WIDE = F.vectorBitSize() == 512 ? ShortVector.SPECIES_512 : ShortVector.SPECIES_256;
    private static final int LANES = F.length();
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /**
     * Weights of each of its two streams a core claims at a time, so that claiming costs little against reading
     * them (one stream per core: 8–32 KB blocks decoded within 2% of one fixed share per core; two streams: 32 KB
     * each ran ~2% faster than 16 KB).
     */
    private static final int BLOCK_BYTES = 32 * 1024;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final boolean bf16;
    /** Q8_0 blocks (34 bytes per 32 weights), multiplied by the native loop against x quantized per block. */
    private final boolean q8;
    /** Row pairs a core claims at a time: {@link #BLOCK_BYTES} of each of its two streams. */
    private final int blockPairs;
    /** Whether the row pairs run {@link NativeRowPairs}' loop rather than the Java one. */
    private final boolean nativeLoop;

    private WeightMatrix(MemorySegment data, int rows, int cols, boolean bf16, boolean nativeLoop) {
        this(data, rows, cols, bf16, false, nativeLoop);
    }

    private WeightMatrix(MemorySegment data, int rows, int cols, boolean bf16, boolean q8, boolean nativeLoop) {
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.bf16 = bf16;
        this.q8 = q8;
        this.blockPairs = Math.max(2, (int) (BLOCK_BYTES / (q8 ? MatrixRows.q8RowBytes(cols) : (long) cols * (bf16 ? 2 : 4))));
        this.nativeLoop = nativeLoop;
    }

    /**
     * A matrix of Q8_0 blocks at {@code address}: only where the native Q8_0 loop runs ({@link #q8Available()}); the
     * decoders have no Java loop for it.
     */
    public static WeightMatrix q8(long address, int rows, int cols) {
        if (!q8Available()) {
            throw new IllegalStateException("Q8_0 matrices need the native loop: " + loopStatus());
        }
        return new WeightMatrix(MemorySegment.ofAddress(address).reinterpret(rows * MatrixRows.q8RowBytes(cols)), rows,
                cols, false,
                true, true);
    }

    /**
     * Dequantizes the Q8_0 matrix at {@code address} ([rows, cols]) into the float32 memory at {@code out}, in one
     * native pass; only where {@link #q8Available()}.
     */
    public static void dequantizeQ8(long address, int cols, long rows, long out) {
        NativeRowPairs.q8Dequantize(address, cols, rows, out);
    }

    /** Whether this matrix holds Q8_0 blocks. */
    public boolean isQ8() {
        return q8;
    }

    /** How Q8_0 products are computed in this process. */
    public static String q8LoopStatus() {
        return q8Available() ? "Q8_0 rows: x quantized per block of 32, exact integer block dot products ("
                + (NativeRowPairs.q8UsesVnni() ? "AVX512-VNNI" : "vpmaddubsw; this CPU has no AVX512-VNNI") + ")"
                : "Q8_0 rows unavailable: " + loopStatus();
    }

    /** Whether Q8_0 matrices can be multiplied here: the native loop runs and has them. */
    public static boolean q8Available() {
        return NativeRowPairs.available() && NativeRowPairs.q8Available();
    }

    /** A float32 matrix at {@code address}. */
    public static WeightMatrix float32(long address, int rows, int cols) {
        return new WeightMatrix(MemorySegment.ofAddress(address).reinterpret((long) rows * cols * 4), rows, cols, false,
                NativeRowPairs.available());
    }

    /** A bfloat16 matrix at {@code address}. */
    public static WeightMatrix bfloat16(long address, int rows, int cols) {
        return new WeightMatrix(MemorySegment.ofAddress(address).reinterpret((long) rows * cols * 2), rows, cols, true,
                NativeRowPairs.available());
    }

    /** The same matrix, its rows run by the Java loop (the fallback, kept under test). */
    public WeightMatrix withJavaLoop() {
        if (q8) {
            throw new UnsupportedOperationException("Q8_0 matrices have no Java loop");
        }
        return new WeightMatrix(data, rows, cols, bf16, false);
    }

    /** Whether this matrix's products run the native loop ({@link #loopStatus()}). */
    public boolean usesNativeLoop() {
        return nativeLoop;
    }

    /** Which loop products run in this process, and why not the native one. */
    public static String loopStatus() {
        return NativeRowPairs.status();
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    public long bytes() {
        return data.byteSize();
    }

    /**
     * y[0, rows) = this · x, parallel over rows. Row r of the top half goes with row r of the bottom half, so that
     * each core reads two streams far apart (see {@link #multiplyRowPairs}); an odd last row pairs with itself.
     */
    public void multiply(float[] x, float[] y) {
        multiply(x, y, null, null, null);
    }

    /**
     * As {@link #multiply(float[], float[])}, and in the same parallel job {@code extraY[i] = extraRows[i] · x} for
     * the rows {@code extraRows} ([n, cols], row-major, float32 or bf16; null for none): an adapter's down (A) rows, which
     * read the same input. The cores take them on after the matrix's rows, so that they are read at the speed of
     * two cores rather than by the calling core alone. {@code scratch} (null for none) is room for x's columns as the
     * native bf16 loop reads them, at least {@link #cols()} floats: a decoder passes the same one for every product
     * instead of a fresh array each time (null, or one too short: a fresh array).
     */
    public void multiply(float[] x, float[] y, NativeMatrix extraRows, float[] extraY, float[] scratch) {
        // the native loop reads and writes the arrays without bounds checks
        if (x.length < cols || y.length < rows) {
            throw new IllegalArgumentException("a " + rows + "×" + cols + " product needs x of at least " + cols
                    + " and y of at least " + rows + " elements, got " + x.length + " and " + y.length);
        }
        int half = rows / 2;
        int extra = extraRows == null ? 0 : (int) (extraRows.elements() / cols);
        if (q8) {
            multiplyQ8(x, y, extraRows, extraY, half, extra);
            return;
        }
        float[] regrouped = nativeLoop && bf16
                ? NativeRowPairs.evenOdd(x, cols, scratch != null && scratch.length >= cols ? scratch : new float[cols])
                : null;
        if (extra == 0) {
            RowParallel.forRows(half, blockPairs, (from, to) -> multiplyRowPairs(x, regrouped, y, from, to, half));
        } else {
            RowParallel.forRows(half + extra, blockPairs, (from, to) -> {
                if (from < half) {
                    multiplyRowPairs(x, regrouped, y, from, Math.min(to, half), half);
                }
                for (int i = Math.max(from, half) - half; i < to - half; i++) {
                    extraY[i] = extraRows.dot(x, (long) i * cols, cols);
                }
            });
        }
        if (rows % 2 == 1) {
            multiplyRowPairs(x, regrouped, y, rows - 1, rows, 0);
        }
    }

    /** As {@link #multiply} for Q8_0 blocks: x quantized once, then the rows in pairs across the cores. */
    private void multiplyQ8(float[] x, float[] y, NativeMatrix extraRows, float[] extraY, int half, int extra) {
        byte[] quantized = new byte[(int) NativeRowPairs.q8ActivationBytes(cols)];
        NativeRowPairs.q8Quantize(x, cols, quantized);
        RowParallel.forRows(half + extra, blockPairs, (from, to) -> {
            if (from < half) {
                NativeRowPairs.q8RowPairs(data, cols, quantized, y, from, Math.min(to, half), half);
            }
            for (int i = Math.max(from, half) - half; i < to - half; i++) {
                extraY[i] = extraRows.dot(x, (long) i * cols, cols);
            }
        });
        if (rows % 2 == 1) {
            NativeRowPairs.q8RowPairs(data, cols, quantized, y, rows - 1, rows, 0);
        }
    }

    /** Row {@code row} as float32 into {@code out}. */
    public void row(int row, float[] out) {
        MatrixRows.read(data, q8 ? MatrixRows.Storage.Q8_0 : bf16 ? MatrixRows.Storage.BFLOAT16
                : MatrixRows.Storage.FLOAT32, cols, row, out);
    }


    /**
     * Rows [from, to) and [from + offset, to + offset) two at a time, each pair's lines loaded side by side: every
     * core reads two sequential streams half a matrix apart. One stream per core was what held the products back:
     * a plain read of 256 MB by two threads ran at ~50 GB/s with one stream each and ~58 with two (libtorch's sum:
     * ~60), and SmolLM2's 121 products streamed at 52.3 against 44.9 GB/s (median of 134 rounds alternated in one
     * process, the VM's fast-memory phase). Rows next to each other as the pair read at ~20 GB/s: the two streams
     * then interleave within the same pages.
     */
    private void multiplyRowPairs(float[] x, float[] regrouped, float[] y, int from, int to, int offset) {
        if (nativeLoop) {
            NativeRowPairs.rowPairs(bf16, data, cols, x, regrouped, y, from, to, offset);
            return;
        }
        if (bf16) {
            multiplyBf16RowPairs(data, cols, x, y, from, to, offset);
        } else {
            multiplyFloatRowPairs(data, cols, x, y, from, to, offset);
        }
    }

    private static void multiplyFloatRowPairs(MemorySegment data, int cols, float[] x, float[] y, int from, int to,
                                              int offset) {
        int unrolled = cols - cols % (2 * LANES);
        int vectorCols = cols - cols % LANES;
        for (int r = from; r < to; r++) {
            int q = r + offset;
            long first = (long) r * cols * 4;
            long second = (long) q * cols * 4;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            int c = 0;
            for (; c < unrolled; c += 2 * LANES) {
                FloatVector x0 = FloatVector.fromArray(F, x, c);
                FloatVector x1 = FloatVector.fromArray(F, x, c + LANES);
                a0 = loadFloats(data, first + 4L * c).fma(x0, a0);
                a1 = loadFloats(data, first + 4L * (c + LANES)).fma(x1, a1);
                b0 = loadFloats(data, second + 4L * c).fma(x0, b0);
                b1 = loadFloats(data, second + 4L * (c + LANES)).fma(x1, b1);
            }
            for (; c < vectorCols; c += LANES) {
                FloatVector x0 = FloatVector.fromArray(F, x, c);
                a0 = loadFloats(data, first + 4L * c).fma(x0, a0);
                b0 = loadFloats(data, second + 4L * c).fma(x0, b0);
            }
            float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
            float t = b0.add(b1).reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                s += data.getAtIndex(FLOAT, (long) r * cols + c) * x[c];
                t += data.getAtIndex(FLOAT, (long) q * cols + c) * x[c];
            }
            y[r] = s;
            y[q] = t;
        }
    }

    /**
     * As {@link #multiplyFloatRowPairs} for bfloat16, with one wide load per row and step (a whole cache line with
     * AVX-512) widened in two halves: with one stream per core that read ~48 GB/s against ~40 for two half-width
     * loads. Static, with the segment and width as parameters: as an instance method reading the fields, the
     * single-stream loop streamed ~6% slower.
     */
    private static void multiplyBf16RowPairs(MemorySegment data, int cols, float[] x, float[] y, int from, int to,
                                             int offset) {
        int unrolled = cols - cols % (2 * LANES);
        int vectorCols = cols - cols % LANES;
        for (int r = from; r < to; r++) {
            int q = r + offset;
            long first = (long) r * cols * 2;
            long second = (long) q * cols * 2;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            int c = 0;
            for (; c < unrolled; c += 2 * LANES) {
                ShortVector wideA = ShortVector.fromMemorySegment(WIDE, data, first + 2L * c, ByteOrder.LITTLE_ENDIAN);
                ShortVector wideB = ShortVector.fromMemorySegment(WIDE, data, second + 2L * c, ByteOrder.LITTLE_ENDIAN);
                FloatVector x0 = FloatVector.fromArray(F, x, c);
                FloatVector x1 = FloatVector.fromArray(F, x, c + LANES);
                a0 = widen(wideA, 0).fma(x0, a0);
                a1 = widen(wideA, 1).fma(x1, a1);
                b0 = widen(wideB, 0).fma(x0, b0);
                b1 = widen(wideB, 1).fma(x1, b1);
            }
            for (; c < vectorCols; c += LANES) {
                FloatVector x0 = FloatVector.fromArray(F, x, c);
                a0 = VectorMath.bf16Floats(data, first + 2L * c).fma(x0, a0);
                b0 = VectorMath.bf16Floats(data, second + 2L * c).fma(x0, b0);
            }
            float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
            float t = b0.add(b1).reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                s += Float.intBitsToFloat(data.getAtIndex(SHORT, (long) r * cols + c) << 16) * x[c];
                t += Float.intBitsToFloat(data.getAtIndex(SHORT, (long) q * cols + c) << 16) * x[c];
            }
            y[r] = s;
            y[q] = t;
        }
    }

    private static FloatVector loadFloats(MemorySegment data, long byteOffset) {
        return FloatVector.fromMemorySegment(F, data, byteOffset, ByteOrder.LITTLE_ENDIAN);
    }

    /** Half {@code part} (0 or 1) of a wide bf16 load as float32: bf16 is the upper half of a float32. */
    private static FloatVector widen(ShortVector wide, int part) {
        return ((IntVector) wide.convertShape(VectorOperators.S2I, I, part)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

}
