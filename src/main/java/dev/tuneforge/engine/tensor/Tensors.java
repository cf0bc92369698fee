package dev.tuneforge.engine.tensor;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/** Small conversions between Java arrays and libtorch tensors. */
public final class Tensors {
    private Tensors() {
    }

    public static TensorOptions options(ScalarType dtype) {
        return new TensorOptions(dtype);
    }

    public static Tensor longs(long[] values, long... shape) {
        Tensor t = torch.zeros(shape, options(ScalarType.Long));
        t.data_ptr_long().put(values, 0, values.length);
        return t;
    }

    public static Tensor longs(long[] values) {
        return longs(values, values.length);
    }

    /** A float32 tensor of {@code shape} holding the first numel(shape) of {@code values}. */
    public static Tensor floats(float[] values, long... shape) {
        Tensor t = torch.zeros(shape, options(ScalarType.Float));
        int n = Math.toIntExact(t.numel());
        if (values.length < n) {
            throw new IllegalArgumentException(values.length + " values for a tensor of " + n);
        }
        t.data_ptr_float().put(values, 0, n);
        return t;
    }

    public static float[] toFloats(Tensor t) {
        Tensor f = t.to(ScalarType.Float).contiguous();
        float[] out = new float[(int) f.numel()];
        FloatPointer p = f.data_ptr_float();
        p.get(out, 0, out.length);
        return out;
    }

    public static long[] toLongs(Tensor t) {
        Tensor l = t.to(ScalarType.Long).contiguous();
        long[] out = new long[(int) l.numel()];
        LongPointer p = l.data_ptr_long();
        p.get(out, 0, out.length);
        return out;
    }

    public static long[] shape(Tensor t) {
        long[] s = new long[(int) t.dim()];
        for (int i = 0; i < s.length; i++) {
            s[i] = t.size(i);
        }
        return s;
    }

    /** The tensor's bytes, contiguous, in its own dtype (little-endian, as on every supported CPU). */
    public static byte[] toBytes(Tensor t) {
        Tensor c = t.contiguous();
        byte[] out = new byte[(int) c.nbytes()];
        if (out.length > 0) { // an empty tensor may have no storage at all
            new BytePointer(c.data_ptr()).capacity(out.length).get(out);
        }
        return out;
    }

    /**
     * The tensor's dtype as the canonical enum constant. JavaCPP materialises native enum returns as fresh
     * instances (right name and value, wrong ordinal), so they must not be compared by identity or switched on.
     */
    public static ScalarType dtype(Tensor t) {
        return canonical(t.scalar_type());
    }

    public static ScalarType canonical(ScalarType type) {
        for (ScalarType s : ScalarType.values()) {
            if (s.value == type.value) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown scalar type " + type.value);
    }

    public static Scalar scalar(double v) {
        return new Scalar(v);
    }

    public static boolean bitwiseEqual(Tensor a, Tensor b) {
        return dtype(a) == dtype(b) && java.util.Arrays.equals(shape(a), shape(b))
                && java.util.Arrays.equals(toBytes(a), toBytes(b));
    }
}
