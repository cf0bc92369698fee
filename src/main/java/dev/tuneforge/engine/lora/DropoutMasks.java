package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.kernel.NativeOrNull;
import dev.tuneforge.engine.tensor.BFloat16;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Inverted-dropout masks (0 with probability p, else 1 / (1 - p)) for one training step, from counter-based
 * SplitMix64 draws keyed by a seed ({@link DropoutDraws}). libtorch's CPU generator draws about 150 M numbers/s, and
 * LoRA dropout needs one per input element of every adapted projection: 0.8 s of a SmolLM2 step at batch 4 × 256.
 * Sixteen random bits per element (p resolved to 1/65536), computed in vector lanes straight into the tensor on
 * Java 22+, cost a few milliseconds. The same seed gives the same masks on every runtime, so a resumed run repeats
 * an uninterrupted one.
 */
public final class DropoutMasks {
    private static final DropoutDraws.NativeWriter VECTOR_WRITER = loadVectorWriter();

    private final long key;
    private final DropoutDraws.NativeWriter writer;
    private long nextWord;
    private float[] floats = new float[0];
    private short[] shorts = new short[0];

    public DropoutMasks(long seed) {
        this(seed, true);
    }

    /** {@code vectorised} false: the scalar path even where the vectorised writer is available (for tests). */
    DropoutMasks(long seed, boolean vectorised) {
        this.key = seed;
        this.writer = vectorised ? VECTOR_WRITER : null;
    }

    static boolean vectorisedAvailable() {
        return VECTOR_WRITER != null;
    }

    /** A float32 mask of {@code shape} for dropout probability {@code p}. */
    Tensor next(long[] shape, double p) {
        return next(shape, p, ScalarType.Float);
    }

    /**
     * A mask of {@code shape} for dropout probability {@code p} in {@code dtype}. bf16 masks are written as bf16
     * directly (the keep value rounded to nearest even, as a cast would): no float32 tensor to convert.
     */
    Tensor next(long[] shape, double p, ScalarType dtype) {
        long count = 1;
        for (long d : shape) {
            count *= d;
        }
        int n = Math.toIntExact(count);
        long firstWord = nextWord;
        nextWord += (n + 3) / 4;
        int dropBelow = (int) Math.min(65535, Math.round(p * 65536));
        float keep = (float) (1.0 / (1.0 - p));
        if (dtype.value == ScalarType.BFloat16.value) {
            Tensor t = torch.empty(shape, new TensorOptions(ScalarType.BFloat16), new MemoryFormatOptional());
            if (writer != null) {
                writer.writeBf16(t.data_ptr().address(), n, key, firstWord, dropBelow, BFloat16.round(keep));
            } else {
                DropoutDraws.fill(shorts(n), n, key, firstWord, dropBelow, BFloat16.round(keep));
                new ShortPointer(t.data_ptr()).put(shorts, 0, n);
            }
            return t;
        }
        DropoutDraws.fill(shorts(n), n, key, firstWord, dropBelow, (short) 1);
        if (floats.length < n) {
            floats = new float[n];
        }
        for (int i = 0; i < n; i++) {
            floats[i] = shorts[i] == 0 ? 0f : keep;
        }
        Tensor t = Tensors.floats(floats, shape);
        return dtype.value == ScalarType.Float.value ? t : t.to(dtype);
    }

    private short[] shorts(int n) {
        if (shorts.length < n) {
            shorts = new short[n];
        }
        return shorts;
    }

    private static DropoutDraws.NativeWriter loadVectorWriter() {
        return NativeOrNull.vectorApi() ? NativeOrNull.create(VectorDropoutWriter::new) : null;
    }
}
