package dev.tuneforge.engine.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/** A Hugging Face model directory: config, weights (single or sharded safetensors), tokenizer files. */
public final class HfModelDirectory {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final ModelConfig config;

    public HfModelDirectory(Path dir) {
        this.dir = dir;
        Path cfg = dir.resolve("config.json");
        if (!Files.isRegularFile(cfg)) {
            throw new IllegalArgumentException(dir + " is not a Hugging Face model directory (no config.json)");
        }
        this.config = ModelConfig.read(cfg);
    }

    public Path path() {
        return dir;
    }

    public ModelConfig config() {
        return config;
    }

    public Path tokenizerJson() {
        return dir.resolve("tokenizer.json");
    }

    /** {@code tokenizer_config.json}, or an empty object when absent. */
    public JsonNode tokenizerConfig() {
        return readOptional("tokenizer_config.json");
    }

    /** {@code generation_config.json}, or an empty object when absent. */
    public JsonNode generationConfig() {
        return readOptional("generation_config.json");
    }

    /**
     * The llama.cpp GGUF file holding the weights instead of safetensors: the folder's one {@code *.gguf} where it has
     * neither {@code model.safetensors} nor {@code model.safetensors.index.json}; null where it has safetensors.
     */
    public Path ggufFile() {
        if (Files.isRegularFile(dir.resolve("model.safetensors"))
                || Files.isRegularFile(dir.resolve("model.safetensors.index.json"))) {
            return null;
        }
        List<Path> found;
        try (var files = Files.list(dir)) {
            found = files.filter(p -> p.getFileName().toString().endsWith(".gguf") && Files.isRegularFile(p))
                    .sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        if (found.size() > 1) {
            throw new IllegalArgumentException(dir + " holds " + found.size() + " GGUF files "
                    + found.stream().map(p -> p.getFileName().toString()).toList() + "; a base model folder holds one");
        }
        return found.isEmpty() ? null : found.get(0);
    }

    /** The safetensors files holding the weights, from {@code model.safetensors.index.json} when sharded. */
    public List<Path> weightFiles() {
        Path single = dir.resolve("model.safetensors");
        if (Files.isRegularFile(single)) {
            return List.of(single);
        }
        Path index = dir.resolve("model.safetensors.index.json");
        if (!Files.isRegularFile(index)) {
            throw new IllegalArgumentException(dir + " has neither model.safetensors nor model.safetensors.index.json"
                    + " nor a *.gguf file");
        }
        JsonNode map = readJson(index).path("weight_map");
        Set<String> files = new LinkedHashSet<>();
        map.fields().forEachRemaining(e -> files.add(e.getValue().asText()));
        List<Path> out = new ArrayList<>();
        for (String f : files) {
            Path p = dir.resolve(f).normalize();
            if (!p.startsWith(dir.normalize())) {
                throw new IllegalArgumentException("weight_map names a file outside the model directory: " + f);
            }
            out.add(p);
        }
        return out;
    }

    private JsonNode readOptional(String name) {
        Path p = dir.resolve(name);
        return Files.isRegularFile(p) ? readJson(p) : JSON.createObjectNode();
    }

    private static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + p, e);
        }
    }
}
