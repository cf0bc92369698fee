package dev.tuneforge.engine.tensor;

/** bfloat16 values as Java code writes them into bf16 tensors: the upper 16 bits of a float32. */
public final class BFloat16 {
    private BFloat16() {
    }

    /**
     * The bf16 bit pattern of {@code value} rounded to the nearest bf16 (ties to even), as libtorch converts float32
     * to bf16; NaN stays a (quiet) NaN.
     */
    public static short round(float value) {
        if (Float.isNaN(value)) {
            return (short) 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(value);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The float32 value of a bf16 bit pattern. */
    public static float toFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }
}
