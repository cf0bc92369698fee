package dev.tuneforge.engine.generate.json;

import dev.tuneforge.engine.generate.TokenConstraint;

import java.util.BitSet;
import java.util.Set;

/**
 * Constrained decoding to a JSON schema: at each step only the tokens whose text keeps the output a prefix of a
 * compact JSON value of the schema ({@link JsonMatcher}), that can still be completed in the tokens left (every
 * character as a token of its own at worst), and the stop tokens once the value is complete. When the budget is
 * too small for any completion, the budget is ignored (the text then ends at maxOutputTokens, unfinished).
 */
public final class JsonSchemaConstraint implements TokenConstraint {
    /** Makes a constraint per generation for one schema and vocabulary. */
    public record Factory(JsonSchema schema, TokenVocabulary vocabulary) implements TokenConstraint.Factory {
        @Override
        public TokenConstraint start() {
            return new JsonSchemaConstraint(vocabulary, JsonMatcher.start(schema));
        }
    }

    private final TokenVocabulary vocabulary;
    private JsonMatcher state;

    JsonSchemaConstraint(TokenVocabulary vocabulary, JsonMatcher state) {
        this.vocabulary = vocabulary;
        this.state = state;
    }

    @Override
    public void mask(float[] logits, int tokensLeft, Set<Long> stopIds) {
        BitSet within = allowed(tokensLeft);
        BitSet allowed = within.isEmpty() && !state.complete() ? allowed(Integer.MAX_VALUE / 2) : within;
        if (state.complete() || allowed.isEmpty()) {
            stopIds.forEach(id -> allowed.set(id.intValue()));
        }
        for (int i = 0; i < logits.length; i++) {
            if (!allowed.get(i)) {
                logits[i] = Float.NEGATIVE_INFINITY;
            }
        }
    }

    /** The tokens that may come next within a budget of {@code tokensLeft} tokens after them. */
    BitSet allowed(int tokensLeft) {
        BitSet allowed = new BitSet(vocabulary.size());
        if (state.inFreeString()) {
            if (state.minRemaining() <= tokensLeft) {
                allowed.or(vocabulary.plain());
            }
            walk(vocabulary.nonPlain(), state, tokensLeft, allowed);
        } else {
            walk(vocabulary.all(), state, tokensLeft, allowed);
        }
        return allowed;
    }

    private static void walk(TokenVocabulary.Node node, JsonMatcher at, int tokensLeft, BitSet allowed) {
        if (!node.tokens.isEmpty() && at.minRemaining() <= tokensLeft) {
            node.tokens.forEach(allowed::set);
        }
        for (int i = 0; i < node.keys.length; i++) {
            JsonMatcher next = at.feed(node.keys[i]);
            if (next != null) {
                walk(node.next[i], next, tokensLeft, allowed);
            }
        }
    }

    @Override
    public boolean finished() {
        return state.ended();
    }

    @Override
    public void accept(long token) {
        String text = vocabulary.text(token);
        JsonMatcher next = text == null ? null : state.feed(text);
        if (next == null) {
            throw new IllegalStateException("token " + token + " does not continue the JSON text");
        }
        state = next;
    }
}
