package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.CpuFeatures;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The dtype a frozen base is held in, by name: {@code fp32}, {@code bf16}, or {@code auto} — bf16 where the CPU
 * multiplies bf16 in hardware (AVX512-BF16 or AMX), else fp32. Emulated bf16 matmuls run at a few GFLOP/s.
 */
public final class WeightDtype {
    public static final String NAMES = "fp32, bf16 or auto";

    private WeightDtype() {
    }

    /** The dtype {@code name} stands for; {@code field} names the setting in the error for anything else. */
    public static ScalarType parse(String name, String field) {
        return switch (name) {
            case "fp32" -> ScalarType.Float;
            case "bf16" -> ScalarType.BFloat16;
            case "auto" -> CpuFeatures.hasNativeBf16() ? ScalarType.BFloat16 : ScalarType.Float;
            default -> throw new IllegalArgumentException(field + " must be " + NAMES + ", got \"" + name + "\"");
        };
    }
}
