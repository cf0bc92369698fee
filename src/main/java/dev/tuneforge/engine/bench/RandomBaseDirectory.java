package dev.tuneforge.engine.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.engine.kernel.FreedMemory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.ModelConfig;
import dev.tuneforge.engine.tensor.Safetensors;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * A Hugging Face model directory with random bf16 weights for a {@code config.json}: what {@code serve} loads as a
 * base model when only the architecture matters (speed and memory do not depend on the weights' values). The
 * tokenizer is a synthetic word-level one with one word per id of the config's vocabulary ({@code w123} is token
 * 123; the config's BOS and EOS ids are {@code <s>} and {@code </s>}), so that any id the model emits decodes and
 * a prompt of n words is n tokens.
 */
public final class RandomBaseDirectory {
    public static final String BOS = "<s>";
    public static final String EOS = "</s>";
    public static final String UNK = "<unk>";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String COMPLETE_MARK = ".complete";

    private RandomBaseDirectory() {
    }

    /**
     * Writes the directory for {@code configJson} into {@code dir} unless a complete one for the same config is
     * there already; returns whether it wrote.
     */
    public static boolean ensure(Path configJson, Path dir, long seed) {
        try {
            JsonNode source = JSON.readTree(configJson.toFile());
            ModelConfig config = ModelConfig.parse(source);
            if (config.languageModelOfMultimodal()) {
                throw new IllegalArgumentException(configJson + " describes a multimodal model; give the config of "
                        + "its language model (text_config)");
            }
            ObjectNode written = source.deepCopy();
            written.put("torch_dtype", "bfloat16");
            Path mark = dir.resolve(COMPLETE_MARK);
            if (Files.isRegularFile(mark) && Files.isRegularFile(dir.resolve("config.json"))
                    && JSON.readTree(dir.resolve("config.json").toFile()).equals(written)) {
                return false;
            }
            Files.createDirectories(dir);
            Files.deleteIfExists(mark);
            JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("config.json").toFile(), written);
            writeWeights(config, dir.resolve("model.safetensors"), seed);
            writeTokenizer(config, dir);
            Files.writeString(mark, "random bf16 weights, seed " + seed + "\n");
            return true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write a random base model into " + dir, e);
        }
    }

    private static void writeWeights(ModelConfig config, Path file, long seed) {
        Map<String, Tensor> weights = LlamaModel.randomCheckpoint(config, ScalarType.BFloat16, seed);
        try {
            Safetensors.write(file, weights, Map.of("format", "pt"));
        } finally {
            weights.values().forEach(Tensor::close);
            FreedMemory.release();
        }
    }

    /** The token text of each id: {@code w<id>}, BOS and EOS where the config puts them, {@code <unk>} at one other id. */
    public static String[] vocabulary(ModelConfig config) {
        String[] words = new String[config.vocabSize()];
        Set<Integer> special = new HashSet<>();
        if (config.bosTokenId() != null && config.bosTokenId() < words.length) {
            words[config.bosTokenId()] = BOS;
            special.add(config.bosTokenId());
        }
        int eosIndex = 0;
        for (int eos : config.eosTokenIds()) {
            if (eos < words.length && !special.contains(eos)) {
                words[eos] = eosIndex++ == 0 ? EOS : "</s" + eosIndex + ">";
                special.add(eos);
            }
        }
        boolean unk = false;
        for (int i = 0; i < words.length; i++) {
            if (words[i] == null) {
                words[i] = unk ? "w" + i : UNK;
                unk = true;
            }
        }
        return words;
    }

    private static void writeTokenizer(ModelConfig config, Path dir) throws IOException {
        String[] words = vocabulary(config);
        ObjectNode tokenizer = JSON.createObjectNode();
        tokenizer.put("version", "1.0");
        tokenizer.putNull("truncation");
        tokenizer.putNull("padding");
        ArrayNode added = tokenizer.putArray("added_tokens");
        for (int i = 0; i < words.length; i++) {
            if (words[i].startsWith("<")) {
                added.addObject().put("id", i).put("content", words[i]).put("single_word", false).put("lstrip", false)
                        .put("rstrip", false).put("normalized", false).put("special", true);
            }
        }
        tokenizer.putNull("normalizer");
        tokenizer.putObject("pre_tokenizer").put("type", "WhitespaceSplit");
        if (config.bosTokenId() != null) {
            ObjectNode post = tokenizer.putObject("post_processor");
            post.put("type", "TemplateProcessing");
            ArrayNode single = post.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            ArrayNode pair = post.putArray("pair");
            pair.addObject().putObject("SpecialToken").put("id", BOS).put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            ObjectNode specials = post.putObject("special_tokens");
            ObjectNode bos = specials.putObject(BOS).put("id", BOS);
            bos.putArray("ids").add(config.bosTokenId());
            bos.putArray("tokens").add(BOS);
        } else {
            tokenizer.putNull("post_processor");
        }
        ObjectNode decoder = tokenizer.putObject("decoder");
        decoder.put("type", "WordPiece").put("prefix", "##").put("cleanup", false);
        ObjectNode model = tokenizer.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode vocab = model.putObject("vocab");
        for (int i = 0; i < words.length; i++) {
            vocab.put(words[i], i);
        }
        model.put("unk_token", UNK);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tokenizer);

        ObjectNode tc = JSON.createObjectNode();
        tc.put("tokenizer_class", "PreTrainedTokenizerFast");
        tc.put("model_max_length", config.maxPositionEmbeddings());
        if (config.bosTokenId() != null) {
            tc.put("bos_token", BOS);
        }
        if (!config.eosTokenIds().isEmpty()) {
            tc.put("eos_token", EOS);
        }
        tc.put("unk_token", UNK);
        tc.put("clean_up_tokenization_spaces", false);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("tokenizer_config.json").toFile(), tc);

        ObjectNode gc = JSON.createObjectNode();
        if (config.bosTokenId() != null) {
            gc.put("bos_token_id", config.bosTokenId());
        }
        ArrayNode eos = gc.putArray("eos_token_id");
        config.eosTokenIds().forEach(eos::add);
        JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve("generation_config.json").toFile(), gc);
    }
}
