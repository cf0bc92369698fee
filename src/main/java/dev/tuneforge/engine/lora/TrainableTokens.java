package dev.tuneforge.engine.lora;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import java.util.Arrays;

/**
 * Replacement rows of an embedding (or head) matrix for a few token ids, as PEFT's TrainableTokensLayer holds
 * them: {@code values[j]} replaces row {@code indices[j]}. The base matrix is never copied.
 */
public final class TrainableTokens {
    private final long[] indices;
    private final Tensor indexTensor;
    private final Tensor values;
    private final Tensor rowOfToken;

    public TrainableTokens(long[] indices, Tensor values, int vocabSize) {
        if (values.size(0) != indices.length) {
            throw new IllegalArgumentException("trainable token rows: " + values.size(0) + " rows for "
                    + indices.length + " indices");
        }
        long[] lookup = new long[vocabSize];
        Arrays.fill(lookup, -1);
        for (int j = 0; j < indices.length; j++) {
            if (indices[j] < 0 || indices[j] >= vocabSize) {
                throw new IllegalArgumentException("trainable token index " + indices[j] + " outside vocabulary of " + vocabSize);
            }
            lookup[(int) indices[j]] = j;
        }
        this.indices = indices.clone();
        this.indexTensor = Tensors.longs(indices);
        this.values = values;
        this.rowOfToken = Tensors.longs(lookup);
    }

    private TrainableTokens(TrainableTokens source, Tensor values) {
        this.indices = source.indices;
        this.indexTensor = source.indexTensor;
        this.values = values;
        this.rowOfToken = source.rowOfToken;
    }

    /** The same token rows with {@code values} (same shape) in place of these values. */
    TrainableTokens withValues(Tensor values) {
        return new TrainableTokens(this, values);
    }

    /** Fresh trainable rows initialised from the base matrix (float32, requiring grad). */
    public static TrainableTokens fromBase(long[] indices, Tensor baseMatrix) {
        Tensor rows = baseMatrix.index_select(0, Tensors.longs(indices)).to(torch.ScalarType.Float).clone();
        rows.set_requires_grad(true);
        return new TrainableTokens(indices, rows, (int) baseMatrix.size(0));
    }

    /** Keeps its tensors past the PointerScope they were made in, until {@link #releaseTensors}; returns this. */
    TrainableTokens retainTensors() {
        indexTensor.retainReference();
        values.retainReference();
        rowOfToken.retainReference();
        return this;
    }

    void releaseTensors() {
        indexTensor.releaseReference();
        values.releaseReference();
        rowOfToken.releaseReference();
    }

    public long[] indices() {
        return indices.clone();
    }

    public Tensor values() {
        return values;
    }

    Tensor embed(Tensor ids, Tensor baseEmbeddings) {
        Tensor row = rowOfToken.index_select(0, ids.reshape(-1)).view_as(ids);
        Tensor replaced = row.ge(new org.bytedeco.pytorch.Scalar(0));
        Tensor rows = torch.embedding(values.to(baseEmbeddings.scalar_type()), row.clamp_min(new org.bytedeco.pytorch.Scalar(0)));
        return torch.where(replaced.unsqueeze(-1), rows, baseEmbeddings);
    }

    Tensor head(Tensor hidden, Tensor baseLogits) {
        Tensor columns = torch.linear(hidden, values.to(hidden.scalar_type()));
        return baseLogits.index_copy(baseLogits.dim() - 1, indexTensor, columns.to(baseLogits.scalar_type()));
    }
}
