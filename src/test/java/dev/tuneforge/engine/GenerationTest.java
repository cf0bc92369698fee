package dev.tuneforge.engine;

import dev.tuneforge.engine.generate.FinishReason;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.generate.TextGenerator;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GenerationTest {
    private final TextGenerator generator = new TextGenerator(Stories.model(), Stories.tokenizer());
    private final long[] prompt = Stories.tokenizer().encode("Once upon a time", true);
    private static final Set<Long> EOS = Set.of(2L);

    private GenerationResult run(GenerationOptions o) {
        return generator.generate(prompt, null, o, EOS);
    }

    @Test
    void sampledDecodingIsReproducibleWithASeed() {
        GenerationOptions o = new GenerationOptions(40, 1.0, 0.95, 40, 1234L, List.of());
        GenerationResult a = run(o);
        GenerationResult b = run(o);
        assertArrayEquals(a.outputIds(), b.outputIds());
        GenerationResult c = run(new GenerationOptions(40, 1.0, 0.95, 40, 99L, List.of()));
        assertFalse(java.util.Arrays.equals(a.outputIds(), c.outputIds()), "another seed samples another text");
        GenerationResult greedy = run(GenerationOptions.greedy(40));
        assertNotEquals(greedy.text(), a.text());
    }

    @Test
    void topKOfOneIsGreedy() {
        assertArrayEquals(run(GenerationOptions.greedy(20)).outputIds(),
                run(new GenerationOptions(20, 1.5, 1.0, 1, 5L, List.of())).outputIds());
    }

    @Test
    void maxOutputTokensEndsWithMaxTokens() {
        GenerationResult r = run(GenerationOptions.greedy(5));
        assertEquals(5, r.outputTokenCount());
        assertEquals(FinishReason.MAX_TOKENS, r.finishReason());
    }

    @Test
    void stopSequenceCutsTheTextAndStops() {
        // greedy continues ", there was a little girl named Lily. She loved ..."
        GenerationResult r = run(new GenerationOptions(64, 0, 1, 0, null, List.of("Lily")));
        assertEquals(", there was a little girl named ", r.text());
        assertEquals(FinishReason.STOP, r.finishReason());
    }

    @Test
    void streamedPiecesAddUpToTheTextAndNeverShowAStopSequence() {
        List<String> pieces = new ArrayList<>();
        GenerationResult r = generator.generate(prompt, null, new GenerationOptions(64, 0, 1, 0, null, List.of("She loved")),
                EOS, pieces::add);
        assertEquals(r.text(), String.join("", pieces));
        assertTrue(pieces.size() > 3);
        assertFalse(String.join("", pieces).contains("She loved"));
    }

    @Test
    void invalidOptionsNameTheField() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GenerationOptions(0, 0, 1, 0, null, null))
                .getMessage().contains("maxOutputTokens"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GenerationOptions(5, -1, 1, 0, null, null))
                .getMessage().contains("temperature"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GenerationOptions(5, 1, 0, 0, null, null))
                .getMessage().contains("topP"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GenerationOptions(5, 1, 1, -2, null, null))
                .getMessage().contains("topK"));
    }

    @Test
    void promptLongerThanTheContextIsRefused() {
        long[] tooLong = new long[600];
        java.util.Arrays.fill(tooLong, 403);
        var e = assertThrows(IllegalArgumentException.class, () -> generator.generate(tooLong, null, GenerationOptions.greedy(4), EOS));
        assertTrue(e.getMessage().contains("context"), e.getMessage());
    }
}
