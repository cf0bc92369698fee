package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.CpuFeatures;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The dtype a frozen base is held in, by name: {@code fp32}, {@code bf16}, {@code int8}, or {@code auto} — bf16 where
 * the CPU multiplies bf16 in hardware (AVX512-BF16 or AMX), else fp32. Emulated bf16 matmuls run at a few GFLOP/s.
 * <p>
 * {@code int8} is llama.cpp's Q8_0 block format for the projection, embedding and head matrices ({@link Q8Blocks}),
 * quantized at load; it is passed around as {@link #INT8} ({@code ScalarType.QInt8}, which nothing else here uses),
 * and computes in float32 ({@link #compute}): the libtorch forward dequantizes each matrix where it is used.
 */
public final class WeightDtype {
    public static final String NAMES = "fp32, bf16, int8 or auto";
    /** The Q8_0 base's stand-in among the ScalarTypes the catalog and loaders pass. */
    public static final ScalarType INT8 = ScalarType.QInt8;

    private WeightDtype() {
    }

    /** The dtype {@code name} stands for; {@code field} names the setting in the error for anything else. */
    public static ScalarType parse(String name, String field) {
        return switch (name) {
            case "fp32" -> ScalarType.Float;
            case "bf16" -> ScalarType.BFloat16;
            case "int8" -> INT8;
            case "auto" -> CpuFeatures.hasNativeBf16() ? ScalarType.BFloat16 : ScalarType.Float;
            default -> throw new IllegalArgumentException(field + " must be " + NAMES + ", got \"" + name + "\"");
        };
    }

    /** Whether {@code dtype} is the Q8_0 base. */
    public static boolean isInt8(ScalarType dtype) {
        return dtype.value == INT8.value;
    }

    /** The dtype activations, norms, biases and the KV cache of a base held in {@code dtype} compute in. */
    public static ScalarType compute(ScalarType dtype) {
        return isInt8(dtype) ? ScalarType.Float : dtype;
    }

    /** The name {@link #parse} reads for {@code dtype}. */
    public static String name(ScalarType dtype) {
        return isInt8(dtype) ? "int8" : dtype.value == ScalarType.BFloat16.value ? "bf16" : "fp32";
    }
}
