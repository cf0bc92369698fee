package dev.tuneforge.engine.lora;

/**
 * The random draws behind {@link DropoutMasks}: counter-based, so any stretch of a mask can be computed on its own
 * (in vector lanes, in parallel) with the same result. Word {@code i} of a stream with key {@code k} is SplitMix64's
 * output for the state {@code k + (i + 1)·γ}, i.e. the i-th number of a SplitMix64 generator seeded with
 * {@code k}; each 64-bit word gives four 16-bit draws, lowest bits first. An element is dropped where its draw is
 * below {@code dropBelow} (p resolved to 1/65536).
 */
final class DropoutDraws {
    static final long GAMMA = 0x9e3779b97f4a7c15L;
    static final long MIX1 = 0xbf58476d1ce4e5b9L;
    static final long MIX2 = 0x94d049bb133111ebL;

    private DropoutDraws() {
    }

    static long mix(long z) {
        z = (z ^ (z >>> 30)) * MIX1;
        z = (z ^ (z >>> 27)) * MIX2;
        return z ^ (z >>> 31);
    }

    static long word(long key, long index) {
        return mix(key + (index + 1) * GAMMA);
    }

    /** out[0, n): the n elements of a mask whose first word is {@code firstWord}. */
    static void fill(short[] out, int n, long key, long firstWord, int dropBelow, short keep) {
        long w = firstWord;
        int i = 0;
        for (; i + 4 <= n; i += 4, w++) {
            long bits = word(key, w);
            out[i] = ((int) bits & 0xFFFF) < dropBelow ? 0 : keep;
            out[i + 1] = ((int) (bits >>> 16) & 0xFFFF) < dropBelow ? 0 : keep;
            out[i + 2] = ((int) (bits >>> 32) & 0xFFFF) < dropBelow ? 0 : keep;
            out[i + 3] = ((int) (bits >>> 48) & 0xFFFF) < dropBelow ? 0 : keep;
        }
        if (i < n) {
            long bits = word(key, w);
            for (int part = 0; i < n; i++, part++) {
                out[i] = ((int) (bits >>> (16 * part)) & 0xFFFF) < dropBelow ? 0 : keep;
            }
        }
    }

    /**
     * Writes a bf16 mask straight into native memory; the Vector API supplies a vectorised one
     * ({@code VectorDropoutWriter}).
     */
    interface NativeWriter {
        /** n bf16 mask elements at {@code address}: 0 where dropped, else the bf16 bits {@code keep}. */
        void writeBf16(long address, int n, long key, long firstWord, int dropBelow, short keep);
    }
}
