package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.Safetensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A checkpoint's tensors by name for loading a base that quantizes its matrices: the small tensors (norms, biases)
 * read at once in the compute dtype; each matrix (projections, embedding, head) read from its file, in the file's
 * dtype, only when asked for, so that loading holds one layer's matrices in full precision at a time instead of the
 * whole checkpoint. {@link #entrySet()} holds the small tensors only; a matrix asked for belongs to the caller.
 */
final class CheckpointTensors extends AbstractMap<String, Tensor> {
    private static final Pattern MATRIX = Pattern.compile(
            "model\\.embed_tokens\\.weight|lm_head\\.weight|model\\.layers\\.\\d+\\.(self_attn|mlp)\\.[a-z]+_proj\\.weight");
    private final Map<String, Tensor> small = new HashMap<>();
    /** Each matrix's file and name there (a multimodal checkpoint's names differ). */
    private final Map<String, Map.Entry<Path, String>> matrices = new HashMap<>();

    CheckpointTensors(HfModelDirectory dir, ScalarType compute) {
        boolean multimodal = dir.config().languageModelOfMultimodal();
        for (Path file : dir.weightFiles()) {
            for (String stored : Safetensors.readHeader(file).entries().keySet()) {
                String name = multimodal ? LlamaModel.languageModelName(stored) : stored;
                if (name != null && MATRIX.matcher(name).matches()) {
                    matrices.put(name, Map.entry(file, stored));
                }
            }
            Map<String, Tensor> read = Safetensors.read(file, stored -> {
                String name = multimodal ? LlamaModel.languageModelName(stored) : stored;
                return name != null && !MATRIX.matcher(name).matches();
            }, t -> t.is_floating_point() ? t.to(compute) : t);
            read.forEach((stored, t) -> small.put(multimodal ? LlamaModel.languageModelName(stored) : stored, t));
        }
    }

    @Override
    public Tensor get(Object name) {
        Tensor t = small.get(name);
        if (t != null) {
            return t;
        }
        Map.Entry<Path, String> at = matrices.get(name);
        return at == null ? null : Safetensors.read(at.getKey(), at.getValue()::equals, x -> x).get(at.getValue());
    }

    @Override
    public Tensor remove(Object name) {
        return small.remove(name);
    }

    @Override
    public Set<Entry<String, Tensor>> entrySet() {
        return small.entrySet();
    }
}
