package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/** Rotary position embedding tables (Hugging Face's rotate-half layout), including llama3 frequency scaling. */
public final class RotaryEmbedding {
    private final Tensor cos;
    /** sin with rotate-half's sign folded in: -sin on the first half, sin on the second. */
    private final Tensor signedSin;
    private final int maxPositions;

    public RotaryEmbedding(ModelConfig config, int maxPositions, torch.ScalarType dtype) {
        this(new Architecture.Rope(config.ropeTheta(), config.ropeScaling()), config.headDim(), maxPositions, dtype);
    }

    public RotaryEmbedding(Architecture.Rope ropeSettings, int headDim, int maxPositions, torch.ScalarType dtype) {
        this.maxPositions = maxPositions;
        int half = headDim / 2;
        float[] invFreq = inverseFrequencies(ropeSettings, headDim);
        float[] cosTable = new float[maxPositions * headDim];
        float[] sinTable = new float[maxPositions * headDim];
        for (int pos = 0; pos < maxPositions; pos++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) pos * invFreq[i];
                float c = (float) Math.cos(angle);
                float s = (float) Math.sin(angle);
                int base = pos * headDim;
                cosTable[base + i] = c;
                cosTable[base + i + half] = c;
                sinTable[base + i] = -s;
                sinTable[base + i + half] = s;
            }
        }
        this.cos = Tensors.floats(cosTable, maxPositions, headDim).to(dtype);
        this.signedSin = Tensors.floats(sinTable, maxPositions, headDim).to(dtype);
    }

    /** The full-attention layers' inverse frequencies. */
    public static float[] inverseFrequencies(ModelConfig config, int half) {
        return inverseFrequencies(new Architecture.Rope(config.ropeTheta(), config.ropeScaling()), 2 * half);
    }

    /**
     * cos and sin at {@code position} of each RoPE's {@code inverseFrequencies} (one row of head_dim / 2 each, rows one
     * after another in {@code cos} and {@code sin}): what the decoders rotate a token's queries and keys by.
     */
    static void angles(float[][] inverseFrequencies, int position, float[] cos, float[] sin) {
        int at = 0;
        for (float[] frequencies : inverseFrequencies) {
            for (float frequency : frequencies) {
                float angle = (float) position * frequency;
                cos[at] = (float) Math.cos(angle);
                sin[at] = (float) Math.sin(angle);
                at++;
            }
        }
    }

    /** Inverse frequencies of {@code rope} for heads of {@code headDim}, as transformers' rope initialisers. */
    public static float[] inverseFrequencies(Architecture.Rope rope, int headDim) {
        int half = headDim / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            inv[i] = (float) (1.0 / Math.pow(rope.theta(), (2.0 * i) / headDim));
        }
        Architecture.RopeScaling s = rope.scaling();
        if (s == null) {
            return inv;
        }
        if (s.type().equals("linear")) {
            for (int i = 0; i < half; i++) {
                inv[i] = (float) (inv[i] / s.factor());
            }
            return inv;
        }
        double lowFreqWavelen = s.originalMaxPositionEmbeddings() / s.lowFreqFactor();
        double highFreqWavelen = s.originalMaxPositionEmbeddings() / s.highFreqFactor();
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            if (wavelen > lowFreqWavelen) {
                inv[i] = (float) (inv[i] / s.factor());
            } else if (wavelen >= highFreqWavelen) {
                double smooth = (s.originalMaxPositionEmbeddings() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor());
                inv[i] = (float) ((1 - smooth) * inv[i] / s.factor() + smooth * inv[i]);
            }
        }
        return inv;
    }

    public int maxPositions() {
        return maxPositions;
    }

    /** Applies the rotation to {@code x} of shape [batch, heads, seq, headDim] at positions start..start+seq-1. */
    public Tensor apply(Tensor x, long start) {
        long seq = x.size(2);
        if (start + seq > maxPositions) {
            throw new IllegalArgumentException("sequence of " + (start + seq) + " tokens exceeds the model's "
                    + maxPositions + " positions");
        }
        Tensor c = cos.narrow(0, start, seq);
        Tensor s = signedSin.narrow(0, start, seq);
        long half = x.size(3) / 2;
        // x·cos + rotate_half(x)·sin, rotate_half(x) = [-x2, x1]: the sign lives in the table, so three ops
        Tensor swapped = torch.cat(new TensorVector(x.narrow(3, half, half), x.narrow(3, 0, half)), 3);
        return torch.addcmul(x.mul(c), swapped, s);
    }
}
