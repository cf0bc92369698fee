package dev.tuneforge.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.KvCache;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.SingleTokenDecoder;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.ChatTemplate;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every model folder under the shared models directory ({@code ../shared/models}, or the system property
 * {@code tuneforge.sharedModels}) that has {@code reference/reference.json} against its reference outputs, computed
 * independently from transformers' modeling code: logits within 1e-4, argmax and greedy tokens exactly — on the
 * whole sequence, through the libtorch KV cache, through the single-token decoder and through the batched decoder
 * (the prompt in chunks) — and, where the folder has
 * them, tokenizations and rendered chat templates exactly. A new fixture folder is checked without new code.
 */
class ModelReferenceTest {
    private static final double TOLERANCE = 1e-4;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<Path, LlamaModel> MODELS = new HashMap<>();
    private static final Map<Path, TextTokenizer> TOKENIZERS = new HashMap<>();

    static Path sharedModels() {
        return Path.of(System.getProperty("tuneforge.sharedModels", "../shared/models"));
    }

    static Stream<Path> modelFolders() throws IOException {
        List<Path> found = new ArrayList<>();
        if (Files.isDirectory(sharedModels())) {
            try (Stream<Path> s = Files.list(sharedModels())) {
                s.filter(d -> Files.isRegularFile(d.resolve("reference/reference.json"))).sorted().forEach(found::add);
            }
        }
        return found.stream();
    }

    /** The fixtures are part of the checks: their absence fails, it does not skip. */
    @Test
    void theSharedModelsHaveReferenceFolders() throws IOException {
        assertTrue(modelFolders().findAny().isPresent(), "no folder with reference/reference.json under "
                + sharedModels().toAbsolutePath());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void logitsAndArgmaxOfTheWholeSequence(Path folder) {
        LlamaModel model = model(folder);
        for (JsonNode c : reference(folder).get("cases")) {
            long[] ids = longs(c.get("ids"));
            float[] logits = logits(model, ids);
            int vocab = model.config().vocabSize();
            assertClose(c.get("first_logits"), logits, 0, vocab, c, "first_logits");
            assertClose(c.get("last_logits"), logits, (ids.length - 1) * vocab, vocab, c, "last_logits");
            if (c.has("all_logits")) {
                for (int p = 0; p < ids.length; p++) {
                    assertClose(c.get("all_logits").get(p), logits, p * vocab, vocab, c, "all_logits[" + p + "]");
                }
            }
            long[] argmax = new long[ids.length];
            for (int p = 0; p < ids.length; p++) {
                argmax[p] = argmax(logits, p * vocab, vocab);
            }
            assertArrayEquals(longs(c.get("argmax")), argmax, () -> folder + " " + c.get("name") + ": argmax");
        }
    }

    /** Greedy decoding recomputing the whole sequence for every new token (no cache). */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void greedyWithoutTheCache(Path folder) {
        LlamaModel model = model(folder);
        int vocab = model.config().vocabSize();
        for (JsonNode c : reference(folder).get("cases")) {
            JsonNode greedy = c.get("greedy");
            greedy(folder, c, (sequence, step) -> {
                float[] all = logits(model, sequence);
                float[] row = new float[vocab];
                System.arraycopy(all, (sequence.length - 1) * vocab, row, 0, vocab);
                return row;
            }, greedy);
        }
    }

    /** Greedy decoding through the libtorch forward pass with the KV cache, one new token at a time. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void greedyWithTheKvCache(Path folder) {
        LlamaModel model = model(folder);
        for (JsonNode c : reference(folder).get("cases")) {
            try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
                KvCache cache = model.newCache(c.get("ids").size() + c.get("greedy").get("max_new_tokens").asInt());
                greedy(folder, c, (sequence, step) -> {
                    long[] feed = step == 0 ? sequence : new long[]{sequence[sequence.length - 1]};
                    try (PointerScope s = new PointerScope()) {
                        Tensor hidden = model.forward(Tensors.longs(feed, 1, feed.length), sequence.length - feed.length,
                                cache, null);
                        return Tensors.toFloats(model.logits(hidden.select(1, feed.length - 1).select(0, 0), null));
                    }
                }, c.get("greedy"));
            }
        }
    }

    /**
     * Greedy decoding through the single-token decoder (the prompt through libtorch, which fills the cache), both
     * as it runs (the native team where built) and the Java decoder alone.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void greedyWithTheSingleTokenDecoder(Path folder) {
        LlamaModel model = model(folder);
        SingleTokenDecoder decoder = model.decoder();
        assertNotNull(decoder, "every architecture runs on the single-token decoder");
        for (SingleTokenDecoder d : List.of(decoder, decoder.withoutTeam())) {
            for (JsonNode c : reference(folder).get("cases")) {
                try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
                    KvCache cache = model.newCache(c.get("ids").size() + c.get("greedy").get("max_new_tokens").asInt());
                    SingleTokenDecoder.State state = d.newState(cache);
                    greedy(folder, c, (sequence, step) -> {
                        if (step == 0) {
                            Tensor hidden = model.forward(Tensors.longs(sequence, 1, sequence.length), 0, cache, null);
                            return Tensors.toFloats(model.logits(hidden.select(1, sequence.length - 1).select(0, 0), null));
                        }
                        return d.next(state, (int) sequence[sequence.length - 1], sequence.length - 1, cache, null).clone();
                    }, c.get("greedy"));
                }
            }
        }
    }

    /**
     * Through the batched decoder: the prompt prefilled in chunks of 3 rows (every position's logits against the
     * reference's), then greedy decoding one row a step, the sequence's KV cache in pages.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void greedyWithTheBatchedDecoder(Path folder) {
        LlamaModel model = model(folder);
        int vocab = model.config().vocabSize();
        try (BatchDecoder decoder = TeamBatchDecoderTest.batchDecoder(model)) {
            for (JsonNode c : reference(folder).get("cases")) {
                long[] ids = longs(c.get("ids"));
                try (BatchDecoder.Sequence sequence = decoder.open(null, ids.length
                        + c.get("greedy").get("max_new_tokens").asInt())) {
                    greedy(folder, c, (tokens, step) -> {
                        if (step > 0) {
                            return TeamBatchDecoderTest.step(decoder, sequence,
                                    new long[]{tokens[tokens.length - 1]}, true)[0];
                        }
                        float[] all = new float[tokens.length * vocab];
                        for (int from = 0; from < tokens.length; from += 3) {
                            long[] chunk = java.util.Arrays.copyOfRange(tokens, from, Math.min(tokens.length, from + 3));
                            float[][] logits = TeamBatchDecoderTest.step(decoder, sequence, chunk, true);
                            for (int i = 0; i < chunk.length; i++) {
                                System.arraycopy(logits[i], 0, all, (from + i) * vocab, vocab);
                            }
                        }
                        assertClose(c.get("first_logits"), all, 0, vocab, c, "batched first_logits");
                        assertClose(c.get("last_logits"), all, (tokens.length - 1) * vocab, vocab, c,
                                "batched last_logits");
                        if (c.has("all_logits")) {
                            for (int p = 0; p < tokens.length; p++) {
                                assertClose(c.get("all_logits").get(p), all, p * vocab, vocab, c,
                                        "batched all_logits[" + p + "]");
                            }
                        }
                        return java.util.Arrays.copyOfRange(all, (tokens.length - 1) * vocab, tokens.length * vocab);
                    }, c.get("greedy"));
                }
            }
            assertEquals(0, decoder.kvBytesInUse(), "every page given back");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void tokenizationMatches(Path folder) {
        Path file = folder.resolve("reference/tokenization.json");
        if (!Files.isRegularFile(file)) {
            return;
        }
        TextTokenizer tokenizer = tokenizer(folder);
        for (JsonNode c : read(file).get("cases")) {
            String text = c.get("text").asText();
            assertArrayEquals(longs(c.get("ids")), tokenizer.encode(text, c.get("add_special_tokens").asBoolean()),
                    () -> folder + ": ids of " + text);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("modelFolders")
    void chatTemplatesRenderAndTokenizeAsTransformers(Path folder) {
        Path file = folder.resolve("reference/chat_template.json");
        if (!Files.isRegularFile(file)) {
            return;
        }
        TextTokenizer tokenizer = tokenizer(folder);
        ChatTemplate template = new ChatTemplate(tokenizer.chatTemplate(), tokenizer.bosToken(), tokenizer.eosToken());
        for (JsonNode c : read(file).get("cases")) {
            List<ChatTemplate.Message> messages = new ArrayList<>();
            c.get("messages").forEach(m -> messages.add(new ChatTemplate.Message(m.get("role").asText(),
                    m.get("content").asText())));
            Map<String, Object> variables = JSON.convertValue(c.get("template_kwargs"), Map.class);
            String rendered = template.render(messages, c.get("add_generation_prompt").asBoolean(), variables);
            assertEquals(c.get("rendered").asText(), rendered, () -> folder + ": " + c.get("messages"));
            assertArrayEquals(longs(c.get("ids")), tokenizer.encode(rendered, false), () -> folder + ": ids of " + rendered);
        }
    }

    /** Logits of the next token given the sequence so far and the step (0: the prompt alone). */
    private interface NextLogits {
        float[] next(long[] sequence, int step);
    }

    /**
     * Greedy decoding as {@code generate(do_sample=False)}: the new ids exactly, and each step's top-2 logits and the
     * last step's row within the tolerance (repeated ids alone would not expose a slightly wrong cache).
     */
    private static void greedy(Path folder, JsonNode c, NextLogits next, JsonNode greedy) {
        Set<Long> eos = new java.util.HashSet<>();
        greedy.get("eos_token_id").forEach(n -> eos.add(n.asLong()));
        long[] sequence = longs(c.get("ids"));
        int maxNew = greedy.get("max_new_tokens").asInt();
        List<Long> produced = new ArrayList<>();
        float[] row = null;
        for (int step = 0; step < maxNew; step++) {
            row = next.next(sequence, step);
            JsonNode top2 = greedy.get("top2_per_step").get(step);
            int best = argmax(row, 0, row.length);
            String where = folder.getFileName() + " " + c.get("name").asText() + " step " + step;
            assertEquals(top2.get(0).asLong(), best, where + ": greedy id");
            assertEquals(top2.get(1).asDouble(), row[top2.get(0).asInt()], TOLERANCE, where + ": best logit");
            assertEquals(top2.get(3).asDouble(), row[top2.get(2).asInt()], TOLERANCE, where + ": second logit");
            produced.add((long) best);
            if (eos.contains((long) best)) {
                break;
            }
            sequence = java.util.Arrays.copyOf(sequence, sequence.length + 1);
            sequence[sequence.length - 1] = best;
        }
        assertArrayEquals(longs(greedy.get("new_ids")), produced.stream().mapToLong(Long::longValue).toArray(),
                folder + " " + c.get("name") + ": greedy ids");
        assertFalse(row == null);
        assertClose(greedy.get("last_step_logits"), row, 0, row.length, c, "last_step_logits");
    }

    static float[] logits(LlamaModel model, long[] ids) {
        try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
            Tensor hidden = model.forward(Tensors.longs(ids, 1, ids.length), 0, null, null);
            return Tensors.toFloats(model.logits(hidden, null));
        }
    }

    private static void assertClose(JsonNode expected, float[] actual, int offset, int n, JsonNode c, String what) {
        assertEquals(n, expected.size(), what + " length");
        double max = 0;
        for (int v = 0; v < n; v++) {
            max = Math.max(max, Math.abs(expected.get(v).asDouble() - actual[offset + v]));
        }
        double worst = max;
        assertTrue(max < TOLERANCE, () -> c.get("name").asText() + " " + what + ": max |diff| " + worst);
    }

    static int argmax(float[] x, int offset, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (x[offset + i] > x[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    private static synchronized LlamaModel model(Path folder) {
        return MODELS.computeIfAbsent(folder, f -> LlamaModel.load(new HfModelDirectory(f.resolve("hf")), ScalarType.Float));
    }

    private static synchronized TextTokenizer tokenizer(Path folder) {
        return TOKENIZERS.computeIfAbsent(folder, f -> new TextTokenizer(new HfModelDirectory(f.resolve("hf"))));
    }

    private static JsonNode reference(Path folder) {
        return read(folder.resolve("reference/reference.json"));
    }

    private static JsonNode read(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }
}
