package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DropoutMasksTest {
    @Test
    void dropsTheRequestedFractionAndScalesTheRest() {
        float[] mask = Tensors.toFloats(new DropoutMasks(1).next(new long[]{3, 1000, 67}, 0.25));
        int dropped = 0;
        for (float m : mask) {
            if (m == 0f) {
                dropped++;
            } else {
                assertEquals(1 / 0.75f, m, 1e-6f);
            }
        }
        assertEquals(0.25, dropped / (double) mask.length, 0.005);
    }

    @Test
    void theSameSeedGivesTheSameMasksInTheSameOrder() {
        DropoutMasks a = new DropoutMasks(42);
        DropoutMasks b = new DropoutMasks(42);
        for (long[] shape : new long[][]{{4, 7, 33}, {2, 5}, {4, 7, 33}}) {
            assertArrayEquals(Tensors.toFloats(a.next(shape, 0.05)), Tensors.toFloats(b.next(shape, 0.05)));
        }
        assertFalse(java.util.Arrays.equals(Tensors.toFloats(new DropoutMasks(42).next(new long[]{64, 64}, 0.5)),
                Tensors.toFloats(new DropoutMasks(43).next(new long[]{64, 64}, 0.5))));
    }

    @Test
    void bf16MasksAreTheFloatMasksRoundedAsACastWould() {
        long[] shape = {3, 17, 29};
        Tensor fromFloat = new DropoutMasks(7).next(shape, 0.05).to(ScalarType.BFloat16);
        Tensor direct = new DropoutMasks(7).next(shape, 0.05, ScalarType.BFloat16);
        assertEquals(ScalarType.BFloat16.value, direct.scalar_type().value);
        assertArrayEquals(Tensors.shape(fromFloat), Tensors.shape(direct));
        assertTrue(Tensors.bitwiseEqual(fromFloat, direct));
        // 1 / 0.95 is not a bf16 number: rounded to nearest even, not truncated
        assertEquals(Float.floatToRawIntBits(torchRounded(1 / 0.95f)) >>> 16, DropoutMasks.bfloat16(1 / 0.95f) & 0xFFFF);
    }

    private static float torchRounded(float f) {
        return Tensors.toFloats(Tensors.floats(new float[]{f}, 1).to(ScalarType.BFloat16))[0];
    }
}
