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
        assertEquals(Float.floatToRawIntBits(torchRounded(1 / 0.95f)) >>> 16, dev.tuneforge.engine.tensor.BFloat16.round(1 / 0.95f) & 0xFFFF);
    }

    @Test
    void vectorisedMasksEqualTheScalarOnes() {
        assertTrue(DropoutMasks.vectorisedAvailable(), "the vectorised writer runs (jdk.incubator.vector)");
        DropoutMasks vector = new DropoutMasks(11, true);
        DropoutMasks scalar = new DropoutMasks(11, false);
        // sizes below one vector, between vectors, not multiples of four, and large
        for (long[] shape : new long[][]{{3}, {2, 7, 5}, {1, 33}, {3, 1024, 576}, {1, 129}, {4, 7, 33}}) {
            for (double p : new double[]{0.05, 0.5}) {
                Tensor v = vector.next(shape, p, ScalarType.BFloat16);
                Tensor s = scalar.next(shape, p, ScalarType.BFloat16);
                assertTrue(Tensors.bitwiseEqual(v, s), java.util.Arrays.toString(shape) + " p=" + p);
            }
        }
        float[] big = Tensors.toFloats(vector.next(new long[]{2, 1000, 999}, 0.1, ScalarType.BFloat16).to(ScalarType.Float));
        long dropped = 0;
        for (float m : big) {
            dropped += m == 0f ? 1 : 0;
        }
        assertEquals(0.1, dropped / (double) big.length, 0.002);
    }

    @Test
    void drawsAreSplitMix64() {
        // the first outputs of SplitMix64 seeded with 0 (the published reference sequence)
        assertEquals(0xe220a8397b1dcdafL, DropoutDraws.word(0, 0));
        assertEquals(0x6e789e6aa1b965f4L, DropoutDraws.word(0, 1));
        assertEquals(0x06c45d188009454fL, DropoutDraws.word(0, 2));
    }

    private static float torchRounded(float f) {
        return Tensors.toFloats(Tensors.floats(new float[]{f}, 1).to(ScalarType.BFloat16))[0];
    }
}
