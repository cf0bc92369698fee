package dev.tuneforge.engine.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Small float32 vector operations of the single-token decoder. */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final int LANES = F.length();
    private static final VectorSpecies<Integer> I = F.vectorBitSize() == 512 ? IntVector.SPECIES_512 : IntVector.SPECIES_256;
    /** LANES shorts: bfloat16 values to widen to one float vector. */
    private static final VectorSpecies<Short> S = F.vectorBitSize() == 512 ? ShortVector.SPECIES_256 : ShortVector.SPECIES_128;
    /** The even and the odd elements of two vectors side by side, and back. */
    private static final VectorShuffle<Float> EVENS = twoVectorShuffle(i -> 2 * i);
    private static final VectorShuffle<Float> ODDS = twoVectorShuffle(i -> 2 * i + 1);
    private static final VectorShuffle<Float> INTERLEAVE_LOW = twoVectorShuffle(i -> i % 2 == 0 ? i / 2 : LANES + i / 2);
    private static final VectorShuffle<Float> INTERLEAVE_HIGH =
            twoVectorShuffle(i -> i % 2 == 0 ? LANES / 2 + i / 2 : LANES + LANES / 2 + i / 2);
    private static final java.lang.foreign.ValueLayout.OfShort SHORT =
            java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private VectorMath() {
    }

    /**
     * SwiGLU: out[i] = silu(gateUp[i]) · gateUp[n + i] for i < n, silu(g) = g / (1 + e^-g), in vector lanes. Run by
     * the decoding thread after the product, it is ~12 µs of a SmolLM2 layer, mostly reading the other core's half
     * of gate/up from that core's cache; giving each core the gate and the up rows of the same indices so it could
     * do its own part saved nothing (two streams per core: slower in alternating blocks, the same as one share each).
     */
    public static void swiglu(float[] gateUp, int n, float[] out) {
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector g = FloatVector.fromArray(F, gateUp, i);
            FloatVector denominator = g.neg().lanewise(VectorOperators.EXP).add(1f);
            g.div(denominator).mul(FloatVector.fromArray(F, gateUp, n + i)).intoArray(out, i);
        }
        for (; i < n; i++) {
            float g = gateUp[i];
            out[i] = g / (1f + (float) Math.exp(-g)) * gateUp[n + i];
        }
    }

    /** Σ a[aOff + i] · b[bOff + i] for i < n. */
    /** out[i] = gelu_tanh(gate[i]) · up[i], gateUp holding gate then up: g / (1 + e^(-2u)), u = √(2/π)(g + 0.044715 g³). */
    public static void geglu(float[] gateUp, int n, float[] out) {
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector g = FloatVector.fromArray(F, gateUp, i);
            FloatVector u2 = g.mul(g).mul(g).mul(0.044715f).add(g).mul(-2f * 0.7978845608028654f);
            g.div(u2.lanewise(VectorOperators.EXP).add(1f)).mul(FloatVector.fromArray(F, gateUp, n + i)).intoArray(out, i);
        }
        for (; i < n; i++) {
            float g = gateUp[i];
            float u2 = -2f * 0.7978845608028654f * (g + 0.044715f * g * g * g);
            out[i] = g / (1f + (float) Math.exp(u2)) * gateUp[n + i];
        }
    }

    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    /** Σ a[aOff + i] · seg[segIndex + i] (float32 elements) for i < n. */
    public static float dot(float[] a, int aOff, MemorySegment seg, long segIndex, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            acc = FloatVector.fromArray(F, a, aOff + i)
                    .fma(FloatVector.fromMemorySegment(F, seg, (segIndex + i) * 4, ByteOrder.LITTLE_ENDIAN), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, segIndex + i);
        }
        return s;
    }

    /** As {@link #dot(float[], int, MemorySegment, long, int)} over bfloat16 elements, each widened to float32. */
    public static float dotBf16(float[] a, int aOff, MemorySegment seg, long segIndex, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(bf16Floats(seg, (segIndex + i) * 2), acc);
        }
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * bf16At(seg, segIndex + i);
        }
        return s;
    }

    /** LANES bfloat16 values at {@code byteOffset}, widened to float32 (bf16 is the upper half of a float32). */
    static FloatVector bf16Floats(MemorySegment seg, long byteOffset) {
        return ((IntVector) ShortVector.fromMemorySegment(S, seg, byteOffset, ByteOrder.LITTLE_ENDIAN)
                .convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * out[outOff + t] = scale · Σ_d q[qOff + d] · rows[rowsIndex + t · dim + d] for t < n, over float32 rows in
     * {@code rows} (an attention head's keys): four rows at a time with an accumulator each, sharing the loads of q.
     */
    public static void scaledDots(float[] q, int qOff, MemorySegment rows, long rowsIndex, int dim, int n, float scale,
                                  float[] out, int outOff) {
        int vectorDim = dim - dim % LANES;
        long rowBytes = (long) dim * Float.BYTES;
        int t = 0;
        for (; t + 4 <= n; t += 4) {
            long at = (rowsIndex + (long) t * dim) * Float.BYTES;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int d = 0; d < vectorDim; d += LANES) {
                FloatVector qv = FloatVector.fromArray(F, q, qOff + d);
                long o = at + (long) d * Float.BYTES;
                a0 = FloatVector.fromMemorySegment(F, rows, o, ByteOrder.LITTLE_ENDIAN).fma(qv, a0);
                a1 = FloatVector.fromMemorySegment(F, rows, o + rowBytes, ByteOrder.LITTLE_ENDIAN).fma(qv, a1);
                a2 = FloatVector.fromMemorySegment(F, rows, o + 2 * rowBytes, ByteOrder.LITTLE_ENDIAN).fma(qv, a2);
                a3 = FloatVector.fromMemorySegment(F, rows, o + 3 * rowBytes, ByteOrder.LITTLE_ENDIAN).fma(qv, a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int d = vectorDim; d < dim; d++) {
                long index = rowsIndex + (long) t * dim + d;
                s0 += q[qOff + d] * rows.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, index);
                s1 += q[qOff + d] * rows.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, index + dim);
                s2 += q[qOff + d] * rows.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, index + 2L * dim);
                s3 += q[qOff + d] * rows.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, index + 3L * dim);
            }
            out[outOff + t] = s0 * scale;
            out[outOff + t + 1] = s1 * scale;
            out[outOff + t + 2] = s2 * scale;
            out[outOff + t + 3] = s3 * scale;
        }
        for (; t < n; t++) {
            out[outOff + t] = dot(q, qOff, rows, rowsIndex + (long) t * dim, dim) * scale;
        }
    }

    /**
     * out[outOff + i] += Σ_k w[wOff + k] · a[k·n + i] for i < n, k < rank (k in ascending order): a low-rank update
     * B·t, B's rows one after another in {@code a}. One pass reads the rank rows side by side, as many memory
     * streams at once, and loads and stores each output vector once (a pass per row: whole SmolLM2 tokens with an
     * adapter 0.7% slower in the fast-memory phase, 112 pairs of 16-token blocks).
     */
    public static void addScaledRows(float[] out, int outOff, float[] w, int wOff, float[] a, int rank, int n) {
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector acc = FloatVector.fromArray(F, out, outOff + i);
            for (int k = 0; k < rank; k++) {
                acc = FloatVector.fromArray(F, a, k * n + i).fma(FloatVector.broadcast(F, w[wOff + k]), acc);
            }
            acc.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float acc = out[outOff + i];
            for (int k = 0; k < rank; k++) {
                acc += w[wOff + k] * a[k * n + i];
            }
            out[outOff + i] = acc;
        }
    }

    /** As {@link #addScaledRows(float[], int, float[], int, float[], int, int)} with {@code a} float32 in native memory. */
    public static void addScaledRows(float[] out, int outOff, float[] w, int wOff, MemorySegment a, int rank, int n) {
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector acc = FloatVector.fromArray(F, out, outOff + i);
            for (int k = 0; k < rank; k++) {
                acc = FloatVector.fromMemorySegment(F, a, ((long) k * n + i) * Float.BYTES, ByteOrder.LITTLE_ENDIAN)
                        .fma(FloatVector.broadcast(F, w[wOff + k]), acc);
            }
            acc.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float acc = out[outOff + i];
            for (int k = 0; k < rank; k++) {
                acc += w[wOff + k] * a.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, (long) k * n + i);
            }
            out[outOff + i] = acc;
        }
    }

    /** As {@link #addScaledRows(float[], int, float[], int, MemorySegment, int, int)} with {@code a} bfloat16. */
    public static void addScaledRowsBf16(float[] out, int outOff, float[] w, int wOff, MemorySegment a, int rank, int n) {
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector acc = FloatVector.fromArray(F, out, outOff + i);
            for (int k = 0; k < rank; k++) {
                acc = bf16Floats(a, ((long) k * n + i) * 2).fma(FloatVector.broadcast(F, w[wOff + k]), acc);
            }
            acc.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float acc = out[outOff + i];
            for (int k = 0; k < rank; k++) {
                acc += w[wOff + k] * bf16At(a, (long) k * n + i);
            }
            out[outOff + i] = acc;
        }
    }

    /** a[off, off + n) = softmax(a[off, off + n)), the exponentials in vector lanes. */
    public static void softmax(float[] a, int off, int n) {
        float inverse = 1f / exponentiate(a, off, n, max(a, off, n));
        for (int i = 0; i < n; i++) {
            a[off + i] *= inverse;
        }
    }

    /**
     * The largest of a[off, off + n) (negative infinity for n = 0), in vector lanes: a scalar {@code Math.max} loop
     * is not vectorised (its NaN rules), ~1 ns an element, about 1 µs per head and layer at 1000 positions.
     */
    public static float max(float[] a, int off, int n) {
        FloatVector maxes = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            maxes = maxes.max(FloatVector.fromArray(F, a, off + i));
        }
        float max = maxes.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, a[off + i]);
        }
        return max;
    }

    /**
     * a[off + i] = e^(a[off + i] − shift) for i < n, in vector lanes; returns their sum: softmax's numerators and
     * denominator before the division, shift being the maximum so that no exponential overflows.
     */
    public static float exponentiate(float[] a, int off, int n, float shift) {
        int vectorEnd = n - n % LANES;
        FloatVector sums = FloatVector.zero(F);
        int i = 0;
        for (; i < vectorEnd; i += LANES) {
            FloatVector e = FloatVector.fromArray(F, a, off + i).sub(shift).lanewise(VectorOperators.EXP);
            e.intoArray(a, off + i);
            sums = sums.add(e);
        }
        float sum = sums.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            a[off + i] = (float) Math.exp(a[off + i] - shift);
            sum += a[off + i];
        }
        return sum;
    }

    /**
     * out[outOff + d] = Σ_t w[wOff + t] · rows[rowsIndex + t · dim + d] for d < dim, t < n, over float32 rows in
     * {@code rows} (an attention head's values): up to four vectors of the output stay in registers while the rows
     * go by.
     */
    public static void weightedSum(float[] w, int wOff, int n, MemorySegment rows, long rowsIndex, int dim, float[] out,
                                   int outOff) {
        int d = 0;
        for (; d + 4 * LANES <= dim; d += 4 * LANES) {
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int t = 0; t < n; t++) {
                FloatVector weight = FloatVector.broadcast(F, w[wOff + t]);
                long at = (rowsIndex + (long) t * dim + d) * Float.BYTES;
                a0 = FloatVector.fromMemorySegment(F, rows, at, ByteOrder.LITTLE_ENDIAN).fma(weight, a0);
                a1 = FloatVector.fromMemorySegment(F, rows, at + 4L * LANES, ByteOrder.LITTLE_ENDIAN).fma(weight, a1);
                a2 = FloatVector.fromMemorySegment(F, rows, at + 8L * LANES, ByteOrder.LITTLE_ENDIAN).fma(weight, a2);
                a3 = FloatVector.fromMemorySegment(F, rows, at + 12L * LANES, ByteOrder.LITTLE_ENDIAN).fma(weight, a3);
            }
            a0.intoArray(out, outOff + d);
            a1.intoArray(out, outOff + d + LANES);
            a2.intoArray(out, outOff + d + 2 * LANES);
            a3.intoArray(out, outOff + d + 3 * LANES);
        }
        for (; d + LANES <= dim; d += LANES) {
            FloatVector a0 = FloatVector.zero(F);
            for (int t = 0; t < n; t++) {
                long at = (rowsIndex + (long) t * dim + d) * Float.BYTES;
                a0 = FloatVector.fromMemorySegment(F, rows, at, ByteOrder.LITTLE_ENDIAN).fma(FloatVector.broadcast(F, w[wOff + t]), a0);
            }
            a0.intoArray(out, outOff + d);
        }
        for (; d < dim; d++) {
            float sum = 0;
            for (int t = 0; t < n; t++) {
                sum += w[wOff + t] * rows.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, rowsIndex + (long) t * dim + d);
            }
            out[outOff + d] = sum;
        }
    }

    /**
     * As {@link #scaledDots} over bfloat16 rows (a bf16 model's cached keys). Each load of 2·LANES bf16 values is
     * taken as LANES 32-bit words: shifted left by 16 they are the even elements as float32, masked they are the
     * odd ones, so the query is split into its even and odd elements instead (two shuffles per chunk and group of
     * four keys) — a widening conversion per LANES values made a bf16 cache slower than a float32 one at short
     * contexts.
     */
    public static void scaledDotsBf16(float[] q, int qOff, MemorySegment rows, long rowsIndex, int dim, int n,
                                      float scale, float[] out, int outOff) {
        int vectorDim = dim - dim % (2 * LANES);
        long rowBytes = (long) dim * 2;
        int t = 0;
        for (; t + 4 <= n; t += 4) {
            long at = (rowsIndex + (long) t * dim) * 2;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            for (int d = 0; d < vectorDim; d += 2 * LANES) {
                FloatVector q0 = FloatVector.fromArray(F, q, qOff + d);
                FloatVector q1 = FloatVector.fromArray(F, q, qOff + d + LANES);
                FloatVector even = q0.rearrange(EVENS, q1);
                FloatVector odd = q0.rearrange(ODDS, q1);
                long o = at + (long) d * 2;
                a0 = pairDot(rows, o, even, odd, a0);
                a1 = pairDot(rows, o + rowBytes, even, odd, a1);
                a2 = pairDot(rows, o + 2 * rowBytes, even, odd, a2);
                a3 = pairDot(rows, o + 3 * rowBytes, even, odd, a3);
            }
            float s0 = a0.reduceLanes(VectorOperators.ADD);
            float s1 = a1.reduceLanes(VectorOperators.ADD);
            float s2 = a2.reduceLanes(VectorOperators.ADD);
            float s3 = a3.reduceLanes(VectorOperators.ADD);
            for (int d = vectorDim; d < dim; d++) {
                long index = rowsIndex + (long) t * dim + d;
                s0 += q[qOff + d] * bf16At(rows, index);
                s1 += q[qOff + d] * bf16At(rows, index + dim);
                s2 += q[qOff + d] * bf16At(rows, index + 2L * dim);
                s3 += q[qOff + d] * bf16At(rows, index + 3L * dim);
            }
            out[outOff + t] = s0 * scale;
            out[outOff + t + 1] = s1 * scale;
            out[outOff + t + 2] = s2 * scale;
            out[outOff + t + 3] = s3 * scale;
        }
        for (; t < n; t++) {
            out[outOff + t] = scaledDotBf16(q, qOff, rows, rowsIndex + (long) t * dim, dim) * scale;
        }
    }

    /**
     * One key of {@link #scaledDotsBf16}, unscaled. A method of its own: inside scaledDotsBf16, C2 left this loop's
     * vector operations boxed (~900 boxed vectors a SmolLM2 token, ~350 KB of garbage).
     */
    private static float scaledDotBf16(float[] q, int qOff, MemorySegment rows, long index, int dim) {
        int vectorDim = dim - dim % (2 * LANES);
        FloatVector a0 = FloatVector.zero(F);
        for (int d = 0; d < vectorDim; d += 2 * LANES) {
            FloatVector q0 = FloatVector.fromArray(F, q, qOff + d);
            FloatVector q1 = FloatVector.fromArray(F, q, qOff + d + LANES);
            a0 = pairDot(rows, (index + d) * 2, q0.rearrange(EVENS, q1), q0.rearrange(ODDS, q1), a0);
        }
        float sum = a0.reduceLanes(VectorOperators.ADD);
        for (int d = vectorDim; d < dim; d++) {
            sum += q[qOff + d] * bf16At(rows, index + d);
        }
        return sum;
    }

    /** acc + the 2·LANES bf16 values at {@code byteOffset} times (even, odd), lane by lane. */
    private static FloatVector pairDot(MemorySegment rows, long byteOffset, FloatVector even, FloatVector odd,
                                       FloatVector acc) {
        IntVector words = IntVector.fromMemorySegment(I, rows, byteOffset, ByteOrder.LITTLE_ENDIAN);
        acc = words.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(even, acc);
        return words.lanewise(VectorOperators.AND, 0xFFFF0000).reinterpretAsFloats().fma(odd, acc);
    }

    /**
     * As {@link #weightedSum} over bfloat16 rows (a bf16 model's cached values): the sums of the even and the odd
     * elements are kept apart (see {@link #scaledDotsBf16}) and interleaved once at the end.
     */
    public static void weightedSumBf16(float[] w, int wOff, int n, MemorySegment rows, long rowsIndex, int dim,
                                       float[] out, int outOff) {
        int d = 0;
        for (; d + 4 * LANES <= dim; d += 4 * LANES) {
            FloatVector e0 = FloatVector.zero(F);
            FloatVector o0 = e0;
            FloatVector e1 = e0;
            FloatVector o1 = e0;
            for (int t = 0; t < n; t++) {
                FloatVector weight = FloatVector.broadcast(F, w[wOff + t]);
                long at = (rowsIndex + (long) t * dim + d) * 2;
                IntVector first = IntVector.fromMemorySegment(I, rows, at, ByteOrder.LITTLE_ENDIAN);
                IntVector second = IntVector.fromMemorySegment(I, rows, at + 4L * LANES, ByteOrder.LITTLE_ENDIAN);
                e0 = first.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(weight, e0);
                o0 = first.lanewise(VectorOperators.AND, 0xFFFF0000).reinterpretAsFloats().fma(weight, o0);
                e1 = second.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(weight, e1);
                o1 = second.lanewise(VectorOperators.AND, 0xFFFF0000).reinterpretAsFloats().fma(weight, o1);
            }
            interleaveInto(e0, o0, out, outOff + d);
            interleaveInto(e1, o1, out, outOff + d + 2 * LANES);
        }
        for (; d + 2 * LANES <= dim; d += 2 * LANES) {
            FloatVector e0 = FloatVector.zero(F);
            FloatVector o0 = e0;
            for (int t = 0; t < n; t++) {
                FloatVector weight = FloatVector.broadcast(F, w[wOff + t]);
                IntVector words = IntVector.fromMemorySegment(I, rows, (rowsIndex + (long) t * dim + d) * 2,
                        ByteOrder.LITTLE_ENDIAN);
                e0 = words.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().fma(weight, e0);
                o0 = words.lanewise(VectorOperators.AND, 0xFFFF0000).reinterpretAsFloats().fma(weight, o0);
            }
            interleaveInto(e0, o0, out, outOff + d);
        }
        for (; d < dim; d++) {
            float sum = 0;
            for (int t = 0; t < n; t++) {
                sum += w[wOff + t] * bf16At(rows, rowsIndex + (long) t * dim + d);
            }
            out[outOff + d] = sum;
        }
    }

    /** out[off, off + 2·LANES) = even[0], odd[0], even[1], odd[1], ... */
    private static void interleaveInto(FloatVector even, FloatVector odd, float[] out, int off) {
        even.rearrange(INTERLEAVE_LOW, odd).intoArray(out, off);
        even.rearrange(INTERLEAVE_HIGH, odd).intoArray(out, off + LANES);
    }

    /**
     * A shuffle of two vectors (this one, then the argument of {@code rearrange}) taking lane {@code source(i)}
     * of their concatenation for lane i; indexes of the second vector are given as exceptional (negative) ones.
     */
    private static VectorShuffle<Float> twoVectorShuffle(java.util.function.IntUnaryOperator source) {
        int[] indexes = new int[LANES];
        for (int i = 0; i < LANES; i++) {
            int from = source.applyAsInt(i);
            indexes[i] = from < LANES ? from : from - 2 * LANES;
        }
        return VectorShuffle.fromArray(F, indexes, 0);
    }

    private static float bf16At(MemorySegment rows, long index) {
        return Float.intBitsToFloat(rows.getAtIndex(SHORT, index) << 16);
    }

    /** out = x / sqrt(mean(x²) + eps) · weight, as Llama's RMSNorm (all float32). */
    public static void rmsNorm(float[] x, float[] weight, double eps, float[] out) {
        int n = weight.length;
        float meanSquare = dot(x, 0, x, 0, n) / n;
        float inv = (float) (1.0 / Math.sqrt(meanSquare + eps));
        for (int i = 0; i < n; i++) {
            out[i] = x[i] * inv * weight[i];
        }
    }

    /** a[i] += b[i] for i < n. */
    public static void add(float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) {
            a[i] += b[i];
        }
    }
}
