package dev.tuneforge.engine.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.model.HfModelDirectory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A model's tokenizer ({@code tokenizer.json} through the Hugging Face tokenizers library) with its special tokens
 * and the settings of {@code tokenizer_config.json} and {@code generation_config.json}.
 */
public final class TextTokenizer implements AutoCloseable {
    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> specialTokens;
    private final Integer bosId;
    private final List<Integer> eosIds;
    private final String bosToken;
    private final String eosToken;
    private final String chatTemplate;
    private final int vocabularySize;
    /** An ordinary token and its text, after which {@link #tokenText} measures a token's text. */
    private final long anchorId;
    private final String anchorText;

    public TextTokenizer(HfModelDirectory dir) {
        if (!Files.isRegularFile(dir.tokenizerJson())) {
            throw new IllegalArgumentException(dir.path() + " has no tokenizer.json");
        }
        try {
            tokenizer = HuggingFaceTokenizer.newInstance(dir.tokenizerJson(),
                    Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"));
            JsonNode tokenizerJson = new ObjectMapper().readTree(dir.tokenizerJson().toFile());
            specialTokens = readSpecialTokens(tokenizerJson);
            vocabularySize = vocabularySize(tokenizerJson);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot load " + dir.tokenizerJson(), e);
        }
        JsonNode tc = dir.tokenizerConfig();
        JsonNode gc = dir.generationConfig();
        bosToken = tokenText(tc.get("bos_token"));
        eosToken = tokenText(tc.get("eos_token"));
        Integer bos = gc.hasNonNull("bos_token_id") ? Integer.valueOf(gc.get("bos_token_id").asInt()) : dir.config().bosTokenId();
        if (bos == null && bosToken != null) {
            bos = specialTokens.get(bosToken);
        }
        bosId = bos;
        Set<Integer> eos = new LinkedHashSet<>();
        JsonNode ge = gc.get("eos_token_id");
        if (ge != null && ge.isArray()) {
            ge.forEach(n -> eos.add(n.asInt()));
        } else if (ge != null && !ge.isNull()) {
            eos.add(ge.asInt());
        }
        if (eosToken != null && specialTokens.containsKey(eosToken)) {
            eos.add(specialTokens.get(eosToken));
        }
        eos.addAll(dir.config().eosTokenIds());
        eosIds = List.copyOf(eos);
        chatTemplate = readChatTemplate(tc.get("chat_template"));
        long[] anchor = encode("a", false);
        anchorId = anchor[anchor.length - 1];
        anchorText = tokenizer.decode(new long[]{anchorId}, false);
    }

    /** Token ids of {@code text}; with special tokens as the tokenizer's post-processor adds them (e.g. BOS). */
    public long[] encode(String text, boolean addSpecialTokens) {
        return tokenizer.encode(text, addSpecialTokens, false).getIds();
    }

    /** The text of {@code ids}, special tokens skipped. */
    public String decode(long[] ids) {
        return tokenizer.decode(ids, true);
    }

    /**
     * The text one token adds after others (special tokens as their text), not as it decodes alone: a decoder may
     * drop the leading space of a sequence's first token. Measured as the text it adds after an ordinary token.
     */
    public String tokenText(long id) {
        String after = tokenizer.decode(new long[]{anchorId, id}, false);
        return after.startsWith(anchorText) ? after.substring(anchorText.length()) : tokenizer.decode(new long[]{id}, false);
    }

    /** The number of token ids: the tokenizer's vocabulary with its added tokens. */
    public int vocabularySize() {
        return vocabularySize;
    }

    public Integer bosId() {
        return bosId;
    }

    /** Ids that end generation: generation_config's eos_token_id (one or several), tokenizer's eos_token. */
    public List<Integer> eosIds() {
        return eosIds;
    }

    /** The primary end-of-sequence id appended after training outputs in the plain prompt format. */
    public int eosId() {
        if (eosIds.isEmpty()) {
            throw new IllegalStateException("the model defines no eos_token_id");
        }
        return eosIds.get(0);
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** The Jinja chat template of tokenizer_config.json, or null. */
    public String chatTemplate() {
        return chatTemplate;
    }

    /** Special (added) tokens by their text. */
    public Map<String, Integer> specialTokens() {
        return specialTokens;
    }

    public boolean isSpecial(long id) {
        return specialTokens.containsValue((int) id);
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    private static Map<String, Integer> readSpecialTokens(JsonNode tokenizerJson) {
        Map<String, Integer> out = new HashMap<>();
        for (JsonNode t : tokenizerJson.path("added_tokens")) {
            if (t.path("special").asBoolean(false)) {
                out.put(t.get("content").asText(), t.get("id").asInt());
            }
        }
        return Map.copyOf(out);
    }

    private static int vocabularySize(JsonNode tokenizerJson) {
        int size = 0;
        JsonNode vocab = tokenizerJson.path("model").path("vocab");
        if (vocab.isObject()) {
            for (JsonNode id : vocab) {
                size = Math.max(size, id.asInt() + 1);
            }
        } else if (vocab.isArray()) {
            size = vocab.size();
        }
        for (JsonNode t : tokenizerJson.path("added_tokens")) {
            size = Math.max(size, t.path("id").asInt() + 1);
        }
        return size;
    }

    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        return n.isObject() ? n.path("content").asText(null) : n.asText();
    }

    private static String readChatTemplate(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isTextual()) {
            return n.asText();
        }
        List<String> names = new ArrayList<>();
        for (JsonNode t : n) {
            names.add(t.path("name").asText());
            if (t.path("name").asText().equals("default")) {
                return t.path("template").asText();
            }
        }
        throw new IllegalArgumentException("chat_template list has no 'default' entry (has " + names + ")");
    }
}
