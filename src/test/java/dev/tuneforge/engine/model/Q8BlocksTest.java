package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.WeightMatrix;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Q8_0 bytes as llama.cpp's quantize_row_q8_0_ref writes them, and both dequantizations. */
class Q8BlocksTest {
    @Test
    void aBlockIsItsFp16ScaleAndItsRoundedSteps() {
        float[] w = new float[32];
        w[0] = 1.27f;   // the largest: d = 0.01, q = 127
        w[1] = -0.005f; // -0.5 steps: away from zero, -1 (Java's Math.round would give 0)
        w[2] = 0.015f;  // 1.5 steps: 2
        w[3] = -1.27f;
        MemorySegment out = Arena.ofAuto().allocate(Q8Blocks.rowBytes(40));
        float[] row = new float[40];
        System.arraycopy(w, 0, row, 0, 32);
        row[39] = 0.5f; // a partial second block of 8 columns: d = 0.5 / 127, its last q 127, the 24 past it 0
        Q8Blocks.quantize(Tensors.floats(row, 1, 40), out);
        assertEquals(68, out.byteSize());
        assertEquals(Float.floatToFloat16(0.01f), out.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0));
        byte[] q = out.asSlice(2, 32).toArray(ValueLayout.JAVA_BYTE);
        // 0.005 / 0.01 in float32 lands just above or below a half: the expected value follows C's roundf of it
        assertEquals(127, q[0]);
        assertEquals((byte) Math.copySign(Math.floor(Math.abs(-0.005f * (1f / 0.01f)) + 0.5), -1), q[1]);
        assertEquals(2, q[2]);
        assertEquals(-127, q[3]);
        assertEquals(Float.floatToFloat16(0.5f / 127), out.get(ValueLayout.JAVA_SHORT_UNALIGNED, 34));
        byte[] second = out.asSlice(36, 32).toArray(ValueLayout.JAVA_BYTE);
        assertEquals(127, second[7]);
        for (int i = 8; i < 32; i++) {
            assertEquals(0, second[i]);
        }
    }

    @Test
    void theNativeAndTheLibtorchDequantizationGiveTheSameFloats() {
        Assumptions.assumeTrue(WeightMatrix.q8Available(), "native dequantization: " + WeightMatrix.loopStatus());
        Random random = new Random(3);
        for (int cols : new int[]{64, 172}) {
            float[] values = new float[9 * cols];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) random.nextGaussian();
            }
            Tensor q8 = org.bytedeco.pytorch.global.torch.empty(new long[]{9, Q8Blocks.rowBytes(cols)},
                    new org.bytedeco.pytorch.TensorOptions(ScalarType.Byte), new org.bytedeco.pytorch.MemoryFormatOptional());
            Q8Blocks.quantize(Tensors.floats(values, 9, cols),
                    MemorySegment.ofAddress(q8.data_ptr().address()).reinterpret(q8.nbytes()));
            float[] byLibtorch = Tensors.toFloats(Q8Blocks.dequantizeByLibtorch(q8, cols, ScalarType.Float));
            float[] chosen = Tensors.toFloats(Q8Blocks.dequantize(q8, cols, ScalarType.Float));
            assertArrayEquals(byLibtorch, chosen, 0f);
            for (int i = 0; i < values.length; i++) {
                assertTrue(Math.abs(values[i] - chosen[i]) < 0.03, "element " + i);
            }
        }
    }
}
