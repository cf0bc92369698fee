package dev.tuneforge.engine.lora;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * How a serving process holds a tuned model's low-rank matrices ({@link ServedAdapter}), by name: {@code auto} —
 * bf16 on a bf16 or int8 base, float32 on a float32 one, as vLLM and LoRAX serve LoRA in the model's dtype — or
 * {@code fp32} or {@code bf16} whatever the base. bf16 halves an adapter's bytes, which each row of a batched step
 * reads besides the shared base (sixteen rows on sixteen adapters of SmolLM2 read 156 MB of float32 adapters beside
 * the base's 270 MB), and its rounding moves the logits far less than the base's own bf16 or Q8_0 rounding does;
 * {@code fp32} keeps the trained values as PEFT computes with them. Training always keeps float32 parameters.
 */
public enum AdapterDtype {
    AUTO, FP32, BF16;

    public static final String NAMES = "auto, fp32 or bf16";

    /** The setting {@code name} stands for; {@code field} names it in the error for anything else. */
    public static AdapterDtype parse(String name, String field) {
        return switch (name) {
            case "auto" -> AUTO;
            case "fp32" -> FP32;
            case "bf16" -> BF16;
            default -> throw new IllegalArgumentException(field + " must be " + NAMES + ", got \"" + name + "\"");
        };
    }

    /** Whether an adapter served on a base held in {@code baseDtype} holds its matrices in bf16. */
    public boolean bf16On(ScalarType baseDtype) {
        return switch (this) {
            case AUTO -> baseDtype.value != ScalarType.Float.value;
            case FP32 -> false;
            case BF16 -> true;
        };
    }
}
