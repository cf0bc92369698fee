package dev.tuneforge.engine.kernel;

import dev.tuneforge.engine.model.Q8Blocks;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * q8_rows.c against a float64 reference of the same Q8_0 weights: within the rounding of x to its blocks' int8
 * steps; the batched loop's results bit for bit the single-vector loop's whatever the number of vectors and rows;
 * the loop without AVX512-VNNI bit for bit the one with it.
 */
class Q8RowsTest {
    private static final int ROWS = 37;
    private static final int VECTORS = 6;

    @BeforeEach
    void nativeLoop() {
        Assumptions.assumeTrue(WeightMatrix.q8Available(), "the Q8_0 loops are native only: " + WeightMatrix.loopStatus());
    }

    /** 96: an odd number of blocks; 172: a partial last block (stories-260k's intermediate size); 576: SmolLM2's hidden. */
    @ParameterizedTest
    @ValueSource(ints = {96, 172, 576})
    void productsAreExactUpToTheActivationsRounding(int cols) {
        Random random = new Random(cols);
        MemorySegment w = quantized(cols, random);
        float[] dequantized = new float[ROWS * cols];
        float[] row = new float[cols];
        WeightMatrix matrix = WeightMatrix.q8(w.address(), ROWS, cols);
        for (int r = 0; r < ROWS; r++) {
            matrix.row(r, row);
            System.arraycopy(row, 0, dequantized, r * cols, cols);
        }
        float[][] x = vectors(cols, random);
        for (float[] v : x) {
            float[] y = single(w, cols, v);
            for (int r = 0; r < ROWS; r++) {
                double exact = 0;
                double bound = 0;
                for (int c0 = 0; c0 < cols; c0 += 32) {
                    double max = 0;
                    double weights = 0;
                    for (int c = c0; c < Math.min(cols, c0 + 32); c++) {
                        max = Math.max(max, Math.abs(v[c]));
                        weights += Math.abs(dequantized[r * cols + c]);
                        exact += (double) dequantized[r * cols + c] * v[c];
                    }
                    // each x off by at most half its block's step (max / 127), and float32's rounding on top
                    bound += weights * (max / 127 / 2) * 1.001 + weights * max * 1e-6;
                }
                assertTrue(Math.abs(y[r] - exact) <= bound, "row " + r + ": " + y[r] + " against " + exact
                        + ", bound " + bound);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {96, 172, 576})
    void theBatchedLoopGivesEachVectorTheSingleLoopsResultWhateverTheBatch(int cols) {
        Random random = new Random(cols + 1);
        MemorySegment w = quantized(cols, random);
        float[][] x = vectors(cols, random);
        float[][] alone = new float[VECTORS][];
        for (int b = 0; b < VECTORS; b++) {
            alone[b] = single(w, cols, x[b]);
        }
        for (int n : new int[]{1, 3, VECTORS}) {
            // rows in two uneven ranges, as two threads would take them
            float[][] y = multi(w, cols, x, n, new int[]{0, 11, ROWS});
            for (int b = 0; b < n; b++) {
                assertArrayEquals(alone[b], y[b], 0f, n + " vectors, vector " + b);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {96, 172})
    void theLoopWithoutVnniGivesTheSameBits(int cols) {
        Random random = new Random(cols + 2);
        MemorySegment w = quantized(cols, random);
        float[][] x = vectors(cols, random);
        float[] chosen = single(w, cols, x[0]);
        float[][] chosenMulti = multi(w, cols, x, VECTORS, new int[]{0, ROWS});
        try {
            NativeRowPairs.q8ForcePlain(true);
            assertEquals(false, NativeRowPairs.q8UsesVnni());
            assertArrayEquals(chosen, single(w, cols, x[0]), 0f);
            float[][] plainMulti = multi(w, cols, x, VECTORS, new int[]{0, ROWS});
            for (int b = 0; b < VECTORS; b++) {
                assertArrayEquals(chosenMulti[b], plainMulti[b], 0f);
            }
        } finally {
            NativeRowPairs.q8ForcePlain(false);
        }
    }

    /** A random [ROWS, cols] matrix as Q8_0 blocks in native memory (kept by the test's lifetime arena). */
    private static MemorySegment quantized(int cols, Random random) {
        float[] values = new float[ROWS * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (random.nextGaussian() * (i % 7 == 0 ? 0.5 : 0.02));
        }
        Tensor t = Tensors.floats(values, ROWS, cols);
        MemorySegment out = Arena.ofAuto().allocate(ROWS * Q8Blocks.rowBytes(cols), 64);
        Q8Blocks.quantize(t, out);
        return out;
    }

    private static float[][] vectors(int cols, Random random) {
        float[][] x = new float[VECTORS][cols];
        for (float[] v : x) {
            for (int c = 0; c < cols; c++) {
                v[c] = (float) random.nextGaussian() * (c % 5 == 0 ? 3 : 1);
            }
        }
        return x;
    }

    /** The decoders' loop: x quantized once, rows in pairs half the matrix apart, an odd last row alone. */
    private static float[] single(MemorySegment w, int cols, float[] x) {
        byte[] quantized = new byte[(int) NativeRowPairs.q8ActivationBytes(cols)];
        NativeRowPairs.q8Quantize(x, cols, quantized);
        float[] y = new float[ROWS];
        NativeRowPairs.q8RowPairs(w, cols, quantized, y, 0, ROWS / 2, ROWS / 2);
        NativeRowPairs.q8RowPairs(w, cols, quantized, y, ROWS - 1, ROWS, 0);
        return y;
    }

    /** tuneforge_q8_0_rows_multi over the first n vectors, one call per range [bounds[i], bounds[i + 1]). */
    private static float[][] multi(MemorySegment w, int cols, float[][] x, int n, int[] bounds) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment xs = arena.allocate(ValueLayout.ADDRESS, n);
            MemorySegment ys = arena.allocate(ValueLayout.ADDRESS, n);
            MemorySegment[] outs = new MemorySegment[n];
            for (int b = 0; b < n; b++) {
                MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_FLOAT, x[b]);
                outs[b] = arena.allocate(ValueLayout.JAVA_FLOAT, ROWS);
                xs.setAtIndex(ValueLayout.ADDRESS, b, in);
                ys.setAtIndex(ValueLayout.ADDRESS, b, outs[b]);
            }
            for (int i = 0; i + 1 < bounds.length; i++) {
                NativeRowPairs.q8RowsMulti(w, cols, n, xs, ys, bounds[i], bounds[i + 1]);
            }
            float[][] y = new float[n][];
            for (int b = 0; b < n; b++) {
                y[b] = outs[b].toArray(ValueLayout.JAVA_FLOAT);
            }
            return y;
        }
    }
}
