package dev.tuneforge.engine.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/** Small float32 vector operations of the single-token decoder. */
public final class VectorMath {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.vectorBitSize() >= 512
            ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final int LANES = F.length();

    private VectorMath() {
    }

    /**
     * SwiGLU: out[i] = silu(gateUp[i]) · gateUp[n + i] for i < n, silu(g) = g / (1 + e^-g), in vector lanes (replacing
     * a scalar {@code Math.exp} loop made no measurable difference to SmolLM2's tokens/s: 88–90 either way).
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

    /** out[outOff + i] += w · seg[segIndex + i] (float32 elements) for i < n. */
    public static void addScaled(float[] out, int outOff, float w, MemorySegment seg, long segIndex, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector.fromMemorySegment(F, seg, (segIndex + i) * 4, ByteOrder.LITTLE_ENDIAN)
                    .fma(wv, FloatVector.fromArray(F, out, outOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] += w * seg.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, segIndex + i);
        }
    }

    /** out[outOff + i] += w · a[aOff + i] for i < n. */
    public static void addScaled(float[] out, int outOff, float w, float[] a, int aOff, int n) {
        FloatVector wv = FloatVector.broadcast(F, w);
        int i = 0;
        for (; i + LANES <= n; i += LANES) {
            FloatVector.fromArray(F, a, aOff + i).fma(wv, FloatVector.fromArray(F, out, outOff + i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] += w * a[aOff + i];
        }
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
