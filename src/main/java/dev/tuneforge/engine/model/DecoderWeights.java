package dev.tuneforge.engine.model;

/**
 * Where a {@link LlamaModel}'s weights live, for the single-token decoder: native addresses of the (contiguous,
 * row-major) matrices, in float32, bfloat16 or Q8_0 blocks ({@code dtype}: TeamLayouts' DTYPE_*), and the small vectors (norms, biases; null where absent) as float32
 * arrays. The addresses stay valid as long as {@code owner} (the model) is reachable, so the decoder keeps it so
 * while it reads them: a caller may hold only the decoder.
 */
record DecoderWeights(Object owner, ModelConfig config, int dtype, long embedTokens, long lmHead, float[] finalNorm,
                      float embeddingScale, Layer[] layers) {
    /**
     * One layer; {@code mlpNorm} is the MLP's input norm, {@code attentionOutputNorm}/{@code mlpOutputNorm} the sandwich
     * norms and {@code qNorm}/{@code kNorm} the per-head norms where the architecture has them (else null). Norm
     * weights are the multipliers: Gemma's 1 + w already added.
     */
    record Layer(float[] inputNorm, float[] mlpNorm, float[] attentionOutputNorm, float[] mlpOutputNorm, float[] qNorm,
                 float[] kNorm, long qkv, float[] qkvBias, long o, float[] oBias, long gateUp, float[] gateUpBias,
                 long down, float[] downBias) {
    }
}
