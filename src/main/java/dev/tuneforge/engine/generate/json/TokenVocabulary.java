package dev.tuneforge.engine.generate.json;

import dev.tuneforge.engine.tokenizer.TextTokenizer;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.TreeMap;

/**
 * The text of every token as constrained decoding sees it, in two character tries: one of every usable token,
 * one of the tokens that cannot sit whole inside a JSON string (they hold a quote, a backslash or a control
 * character). The others, "plain" tokens, keep a string open whatever they say, so inside a string they are
 * allowed as a set without walking the trie. Special tokens, empty texts and tokens that are part of a character
 * (byte tokens that decode to U+FFFD alone) are never used.
 */
public final class TokenVocabulary {
    /** A trie node: the tokens whose text ends here, and the children by next character. */
    static final class Node {
        final TreeMap<Character, Node> children = new TreeMap<>();
        final List<Integer> tokens = new ArrayList<>(1);
        char[] keys;
        Node[] next;

        void freeze() {
            keys = new char[children.size()];
            next = new Node[children.size()];
            int i = 0;
            for (var e : children.entrySet()) {
                keys[i] = e.getKey();
                next[i++] = e.getValue();
                e.getValue().freeze();
            }
            children.clear();
        }
    }

    private final String[] texts;
    private final Node all = new Node();
    private final Node nonPlain = new Node();
    private final BitSet plain = new BitSet();

    public TokenVocabulary(TextTokenizer tokenizer) {
        int size = tokenizer.vocabularySize();
        texts = new String[size];
        for (int id = 0; id < size; id++) {
            if (tokenizer.isSpecial(id)) {
                continue;
            }
            String text = tokenizer.tokenText(id);
            if (text.isEmpty() || text.indexOf('\uFFFD') >= 0) {
                continue;
            }
            texts[id] = text;
            add(all, text, id);
            if (isPlain(text)) {
                plain.set(id);
            } else {
                add(nonPlain, text, id);
            }
        }
        all.freeze();
        nonPlain.freeze();
    }

    private static boolean isPlain(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '"' || c == '\\' || c < 0x20) {
                return false;
            }
        }
        return true;
    }

    private static void add(Node root, String text, int id) {
        Node n = root;
        for (int i = 0; i < text.length(); i++) {
            n = n.children.computeIfAbsent(text.charAt(i), k -> new Node());
        }
        n.tokens.add(id);
    }

    /** The text of token {@code id}, null for a token never used. */
    public String text(long id) {
        return id >= 0 && id < texts.length ? texts[(int) id] : null;
    }

    public int size() {
        return texts.length;
    }

    Node all() {
        return all;
    }

    Node nonPlain() {
        return nonPlain;
    }

    BitSet plain() {
        return plain;
    }
}
