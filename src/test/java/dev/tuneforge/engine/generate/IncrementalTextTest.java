package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.Stories;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Decoding only a window per new token, with the real tokenizer: leading spaces, characters split across byte
 * tokens, special tokens in between.
 */
class IncrementalTextTest {
    private final TextTokenizer tokenizer = Stories.tokenizer();

    @Test
    void everyStepIsFinalTextSoFarAndTheEndIsTheWholeDecoding() {
        for (String text : new String[]{
                "Once upon a time, there was a little girl named Lily. She loved to play outside.",
                "  leading spaces,\ttabs\nand new lines\n\n",
                "héllo wörld — 日本語のテキスト 🙂👍🏽 ok",
                "数字 12345 and émojis 🎉🎉 at the end 🙂"}) {
            assertSteps(tokenizer.encode(text, false), text);
        }
    }

    /** A special token (skipped when decoding) between two texts. */
    @Test
    void specialTokensInBetweenDecodeToNothing() {
        long[] first = tokenizer.encode("The cat sat.", false);
        long[] second = tokenizer.encode(" Then it ran — 走った!", false);
        long[] ids = Arrays.copyOf(first, first.length + 1 + second.length);
        ids[first.length] = tokenizer.eosId();
        System.arraycopy(second, 0, ids, first.length + 1, second.length);
        assertSteps(ids, "special token in between");
    }

    /**
     * After every token the text is final text of the whole sequence — a prefix of what decoding all tokens at once
     * gives — and never behind decoding the tokens so far at once; after the last token it is that decoding.
     */
    private void assertSteps(long[] ids, String what) {
        String all = tokenizer.decode(ids);
        assertTrue(all.indexOf('\uFFFD') < 0, what + ": a valid text");
        IncrementalText incremental = new IncrementalText(tokenizer);
        String got = "";
        for (int n = 1; n <= ids.length; n++) {
            got = incremental.append(ids[n - 1]);
            String soFar = stable(tokenizer.decode(Arrays.copyOf(ids, n)));
            String step = what + ", after token " + n + ": '" + got + "'";
            assertTrue(all.startsWith(stable(got)), step + " is not a start of '" + all + "'");
            assertTrue(stable(got).length() >= soFar.length(), step + " is behind '" + soFar + "'");
        }
        assertEquals(all, got, what);
    }

    /** The text without a trailing incomplete character (shown as U+FFFD), which is not final yet. */
    private static String stable(String text) {
        int end = text.length();
        while (end > 0 && text.charAt(end - 1) == '\uFFFD') {
            end--;
        }
        return text.substring(0, end);
    }
}
