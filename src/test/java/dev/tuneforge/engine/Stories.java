package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** The bundled stories-260k model and its reference outputs, shared by tests. */
public final class Stories {
    public static final Path DIR = Path.of("models/stories-260k");
    private static LlamaModel model;
    private static TextTokenizer tokenizer;

    private Stories() {
    }

    public static synchronized HfModelDirectory directory() {
        return new HfModelDirectory(DIR);
    }

    public static synchronized LlamaModel model() {
        if (model == null) {
            model = LlamaModel.load(directory(), ScalarType.Float);
        }
        return model;
    }

    public static synchronized TextTokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = new TextTokenizer(directory());
        }
        return tokenizer;
    }

    public static JsonNode reference(String name) {
        try (InputStream in = Stories.class.getResourceAsStream("/reference/" + name)) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }
}
