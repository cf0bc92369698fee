package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.tensor.Tensors;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

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
}
