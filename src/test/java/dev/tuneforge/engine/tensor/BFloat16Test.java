package dev.tuneforge.engine.tensor;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** float32 to bf16 as libtorch converts, bit for bit: what the KV cache and the dropout masks store. */
class BFloat16Test {
    @Test
    void roundsToBfloat16AsLibtorchDoes() {
        Random random = new Random(3);
        float[] values = new float[10_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (i % 5) {
                case 0 -> (float) random.nextGaussian();
                case 1 -> (float) (random.nextGaussian() * 1e30);
                // exactly halfway between two bf16 values: ties go to the even one
                case 2 -> Float.intBitsToFloat((random.nextInt() & 0xFFFF0000) | 0x8000);
                case 3 -> Float.intBitsToFloat(random.nextInt());
                default -> (float) (random.nextGaussian() * 1e-40);
            };
        }
        values[0] = Float.NaN;
        values[1] = Float.POSITIVE_INFINITY;
        values[2] = Float.NEGATIVE_INFINITY;
        values[3] = Float.MAX_VALUE;
        values[4] = -0f;
        Tensor rounded = Tensors.floats(values, values.length).to(ScalarType.BFloat16).contiguous();
        ByteBuffer libtorch = ByteBuffer.wrap(Tensors.toBytes(rounded)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < values.length; i++) {
            short want = libtorch.getShort(2 * i);
            short got = BFloat16.round(values[i]);
            if (Float.isNaN(values[i])) {
                assertTrue(Float.isNaN(Float.intBitsToFloat(got << 16)), "NaN stays NaN");
            } else {
                assertEquals(want, got, "bf16 of " + values[i] + " (bits " + Integer.toHexString(Float.floatToRawIntBits(values[i])) + ")");
            }
        }
    }
}
