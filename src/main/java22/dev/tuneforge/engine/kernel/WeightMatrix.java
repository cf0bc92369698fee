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
 * A row-major [rows, cols] matrix of float32 or bfloat16 values in native memory (a libtorch tensor's storage,
 * which must outlive this view), multiplied by float32 vectors with the Vector API. Decoding one token reads every
 * weight once, so these products are bound by memory bandwidth: each core reads its rows as one sequential stream.
 */
public final class WeightMatrix {
    /** The widest vectors this CPU has (512 bits with AVX-512, else 256); bf16 loads are half as wide. */
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final VectorSpecies<Short> S = F.vectorBitSize() == 512 ? ShortVector.SPECIES_256 : ShortVector.SPECIES_128;
    private static final VectorSpecies<Integer> I = F.vectorBitSize() == 512 ? IntVector.SPECIES_512 : IntVector.SPECIES_256;
    /** bf16 values for two float vectors, read by one load (512 bits with AVX-512). */
    private static final VectorSpecies<Short> WIDE = F.vectorBitSize() == 512 ? ShortVector.SPECIES_512 : ShortVector.SPECIES_256;
    private static final int LANES = F.length();
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /**
     * Rows a core claims at a time: ~32 KB of weights, so that claiming costs little against reading them (SmolLM2:
     * 8–32 KB blocks decoded within 2% of one fixed share per core; 8 KB was 15% slower while the shares' counters
     * still shared a cache line).
     */
    private static final int BLOCK_BYTES = 32 * 1024;

    private final MemorySegment data;
    private final int rows;
    private final int cols;
    private final boolean bf16;

    private WeightMatrix(MemorySegment data, int rows, int cols, boolean bf16) {
        this.data = data;
        this.rows = rows;
        this.cols = cols;
        this.bf16 = bf16;
    }

    /** A float32 matrix at {@code address}. */
    public static WeightMatrix float32(long address, int rows, int cols) {
        return new WeightMatrix(MemorySegment.ofAddress(address).reinterpret((long) rows * cols * 4), rows, cols, false);
    }

    /** A bfloat16 matrix at {@code address}. */
    public static WeightMatrix bfloat16(long address, int rows, int cols) {
        return new WeightMatrix(MemorySegment.ofAddress(address).reinterpret((long) rows * cols * 2), rows, cols, true);
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

    /** y[0, rows) = this · x, parallel over rows. */
    public void multiply(float[] x, float[] y) {
        int blockRows = Math.max(4, BLOCK_BYTES / (cols * (bf16 ? 2 : 4)));
        RowParallel.forRows(rows, blockRows, (from, to) -> multiplyRows(x, y, from, to));
    }

    /** Row {@code row} as float32 into {@code out}. */
    public void row(int row, float[] out) {
        long base = (long) row * cols;
        for (int c = 0; c < cols; c++) {
            out[c] = get(base + c);
        }
    }

    private float get(long index) {
        return bf16 ? Float.intBitsToFloat(data.getAtIndex(SHORT, index) << 16) : data.getAtIndex(FLOAT, index);
    }

    /**
     * One row at a time, four accumulators across its columns: the rows of a chunk are read front to back as one
     * sequential stream. Four rows side by side sharing each load of x (four streams 1–2 KB apart that jump every
     * few dozen cache lines) read SmolLM2's 576-column bf16 matrices at ~20 GB/s on two threads; this way ~42 GB/s.
     */
    private void multiplyRows(float[] x, float[] y, int from, int to) {
        if (bf16) {
            multiplyBf16Rows(data, cols, x, y, from, to);
            return;
        }
        int elementBytes = 4;
        int unrolled = cols - cols % (4 * LANES);
        int vectorCols = cols - cols % LANES;
        for (int r = from; r < to; r++) {
            long base = (long) r * cols * elementBytes;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            int c = 0;
            for (; c < unrolled; c += 4 * LANES) {
                a0 = load(base + (long) c * elementBytes).fma(FloatVector.fromArray(F, x, c), a0);
                a1 = load(base + (long) (c + LANES) * elementBytes).fma(FloatVector.fromArray(F, x, c + LANES), a1);
                a2 = load(base + (long) (c + 2 * LANES) * elementBytes).fma(FloatVector.fromArray(F, x, c + 2 * LANES), a2);
                a3 = load(base + (long) (c + 3 * LANES) * elementBytes).fma(FloatVector.fromArray(F, x, c + 3 * LANES), a3);
            }
            for (; c < vectorCols; c += LANES) {
                a0 = load(base + (long) c * elementBytes).fma(FloatVector.fromArray(F, x, c), a0);
            }
            float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
            long index = (long) r * cols;
            for (; c < cols; c++) {
                s += get(index + c) * x[c];
            }
            y[r] = s;
        }
    }

    /**
     * As {@link #multiplyRows} for bfloat16, with one wide load per two float vectors' worth of weights (a whole
     * cache line with AVX-512) widened in two halves: SmolLM2's 121 products per token streamed at ~48 GB/s against
     * ~40 with two half-width loads when the VM's bandwidth was in its fast phase, ~4% faster in its slow phase
     * (alternated in one process); decoding +2–3% in the slow phase. Static, with the segment and width as
     * parameters: as an instance method reading the fields, the same loop streamed ~6% slower.
     */
    private static void multiplyBf16Rows(MemorySegment data, int cols, float[] x, float[] y, int from, int to) {
        int unrolled = cols - cols % (4 * LANES);
        int vectorCols = cols - cols % LANES;
        for (int r = from; r < to; r++) {
            long base = (long) r * cols * 2;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            int c = 0;
            for (; c < unrolled; c += 4 * LANES) {
                ShortVector first = ShortVector.fromMemorySegment(WIDE, data, base + 2L * c, ByteOrder.LITTLE_ENDIAN);
                ShortVector second = ShortVector.fromMemorySegment(WIDE, data, base + 2L * (c + 2 * LANES),
                        ByteOrder.LITTLE_ENDIAN);
                a0 = widen(first, 0).fma(FloatVector.fromArray(F, x, c), a0);
                a1 = widen(first, 1).fma(FloatVector.fromArray(F, x, c + LANES), a1);
                a2 = widen(second, 0).fma(FloatVector.fromArray(F, x, c + 2 * LANES), a2);
                a3 = widen(second, 1).fma(FloatVector.fromArray(F, x, c + 3 * LANES), a3);
            }
            for (; c < vectorCols; c += LANES) {
                a0 = loadBf16(data, base + 2L * c).fma(FloatVector.fromArray(F, x, c), a0);
            }
            float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
            long index = (long) r * cols;
            for (; c < cols; c++) {
                s += Float.intBitsToFloat(data.getAtIndex(SHORT, index + c) << 16) * x[c];
            }
            y[r] = s;
        }
    }

    /** Half {@code part} (0 or 1) of a wide bf16 load as float32: bf16 is the upper half of a float32. */
    private static FloatVector widen(ShortVector wide, int part) {
        return ((IntVector) wide.convertShape(VectorOperators.S2I, I, part)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    private FloatVector load(long byteOffset) {
        return bf16 ? loadBf16(data, byteOffset) : FloatVector.fromMemorySegment(F, data, byteOffset, ByteOrder.LITTLE_ENDIAN);
    }

    /** One float vector's worth of bfloat16 at {@code byteOffset}, widened to 32 bits and shifted into place. */
    private static FloatVector loadBf16(MemorySegment data, long byteOffset) {
        return ((IntVector) ShortVector.fromMemorySegment(S, data, byteOffset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }
}
