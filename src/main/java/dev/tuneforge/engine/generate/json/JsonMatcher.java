package dev.tuneforge.engine.generate.json;

/**
 * Where a compact JSON text (no whitespace between tokens) stands against a {@link JsonSchema}, character by
 * character: an immutable stack of frames, one per value being written. {@link #feed} answers the state after one
 * more character, or null when the character cannot come next; so every prefix it accepts can still be completed
 * into a text that parses and matches the schema, and {@link #minRemaining} says how many characters that takes at
 * least. Numbers are limited to 15 digits before and after the point and 3 in the exponent.
 */
public final class JsonMatcher {
    private static final int MAX_DIGITS = 15;
    private static final int MAX_EXPONENT_DIGITS = 3;

    private final Frame frame;
    private final JsonMatcher next;

    private JsonMatcher(Frame frame, JsonMatcher next) {
        this.frame = frame;
        this.next = next;
    }

    /** Nothing written yet of a value of {@code schema}. */
    public static JsonMatcher start(JsonSchema schema) {
        return new JsonMatcher(new Value(schema), null);
    }

    private static final JsonMatcher DONE = new JsonMatcher(null, null);

    /** The state after {@code c}, or null if {@code c} cannot come next. */
    public JsonMatcher feed(char c) {
        JsonMatcher s = this;
        while (true) {
            if (s.frame == null) {
                return null;
            }
            Step step = s.frame.feed(c);
            if (step == null) {
                return null;
            }
            switch (step.kind) {
                case REPLACE -> {
                    return step.frame == s.frame ? s : new JsonMatcher(step.frame, s.next);
                }
                case PUSH -> s = new JsonMatcher(step.child, new JsonMatcher(step.frame, s.next));
                case POP -> {
                    return s.next == null ? DONE : s.next;
                }
                case POP_PASS -> {
                    if (s.next == null) {
                        return null;
                    }
                    s = s.next;
                }
            }
        }
    }

    /** The state after every character of {@code text}, or null. */
    public JsonMatcher feed(CharSequence text) {
        JsonMatcher s = this;
        for (int i = 0; i < text.length() && s != null; i++) {
            s = s.feed(text.charAt(i));
        }
        return s;
    }

    /** Whether the text so far is a whole value of the schema. */
    public boolean complete() {
        for (JsonMatcher s = this; s != null; s = s.next) {
            if (s.frame == null) {
                return true;
            }
            if (!s.frame.canEnd()) {
                return false;
            }
        }
        return true;
    }

    /** Whether the value is complete and no character may follow. */
    public boolean ended() {
        return frame == null;
    }

    /** The fewest characters still needed to complete the value. */
    public int minRemaining() {
        int sum = 0;
        for (JsonMatcher s = this; s != null && s.frame != null; s = s.next) {
            sum += s.frame.minRemaining();
        }
        return sum;
    }

    /** Whether the next characters are inside a string of any content (not an enum), outside an escape. */
    public boolean inFreeString() {
        return frame instanceof Text t && t.pending == 0;
    }

    private enum StepKind { REPLACE, PUSH, POP, POP_PASS }

    /**
     * What a frame does with a character: consumes it and becomes {@code frame} (REPLACE); becomes {@code frame}
     * and hands the character to a new {@code child} on top (PUSH); consumes it and is complete (POP); or is
     * complete without it, which goes to the frame below (POP_PASS).
     */
    private record Step(StepKind kind, Frame frame, Frame child) {
        static final Step POP = new Step(StepKind.POP, null, null);
        static final Step POP_PASS = new Step(StepKind.POP_PASS, null, null);

        static Step replace(Frame f) {
            return new Step(StepKind.REPLACE, f, null);
        }

        static Step push(Frame self, Frame child) {
            return new Step(StepKind.PUSH, self, child);
        }
    }

    private interface Frame {
        /** The step for {@code c}, null if it cannot come next. */
        Step feed(char c);

        /** Whether the value may end here, with no further character. */
        default boolean canEnd() {
            return false;
        }

        /** The fewest characters this frame still needs (those of the frames above it not counted). */
        int minRemaining();
    }

    /** A value of which nothing is written yet. */
    private record Value(JsonSchema schema) implements Frame {
        @Override
        public Step feed(char c) {
            if (schema.kind() == JsonSchema.Kind.ENUM) {
                return new Literal(schema.literals().toArray(String[]::new), 0).feed(c);
            }
            if (c == 'n' && (schema.nullable() || schema.kind() == JsonSchema.Kind.NULL)) {
                return Step.replace(new Literal(new String[]{"null"}, 1));
            }
            return switch (schema.kind()) {
                case STRING -> c == '"' ? Step.replace(Text.OPEN) : null;
                case NUMBER, INTEGER -> Number.start(schema.kind() == JsonSchema.Kind.INTEGER, c);
                case BOOLEAN -> c == 't' ? Step.replace(new Literal(new String[]{"true"}, 1))
                        : c == 'f' ? Step.replace(new Literal(new String[]{"false"}, 1)) : null;
                case OBJECT -> c == '{' ? Step.replace(new ObjectFrame(schema, ObjectFrame.OPEN, 0, null, 0)) : null;
                case ARRAY -> c == '[' ? Step.replace(new ArrayFrame(schema, ArrayFrame.OPEN, 0)) : null;
                default -> null;
            };
        }

        @Override
        public int minRemaining() {
            return schema.minChars();
        }
    }

    /** One of several fixed texts, {@code at} characters of it written. */
    private record Literal(String[] candidates, int at) implements Frame {
        @Override
        public Step feed(char c) {
            int kept = 0;
            boolean ended = false;
            for (String s : candidates) {
                if (s.length() > at && s.charAt(at) == c) {
                    kept++;
                } else if (s.length() == at) {
                    ended = true;
                }
            }
            if (kept == 0) {
                return ended ? Step.POP_PASS : null;
            }
            String[] next = new String[kept];
            int i = 0;
            boolean continues = false;
            for (String s : candidates) {
                if (s.length() > at && s.charAt(at) == c) {
                    next[i++] = s;
                    continues |= s.length() > at + 1;
                }
            }
            return continues ? Step.replace(new Literal(next, at + 1)) : Step.POP;
        }

        @Override
        public boolean canEnd() {
            for (String s : candidates) {
                if (s.length() == at) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public int minRemaining() {
            int min = Integer.MAX_VALUE;
            for (String s : candidates) {
                min = Math.min(min, s.length() - at);
            }
            return min;
        }
    }

    /** Inside a string: {@code pending} 0 for ordinary characters, -1 after a backslash, 1–4 hex digits to come. */
    private record Text(int pending) implements Frame {
        static final Text OPEN = new Text(0);

        @Override
        public Step feed(char c) {
            if (pending == 0) {
                if (c == '"') {
                    return Step.POP;
                }
                if (c == '\\') {
                    return Step.replace(new Text(-1));
                }
                return c < 0x20 ? null : Step.replace(this);
            }
            if (pending == -1) {
                if ("\"\\/bfnrt".indexOf(c) >= 0) {
                    return Step.replace(OPEN);
                }
                return c == 'u' ? Step.replace(new Text(4)) : null;
            }
            if (Character.digit(c, 16) < 0) {
                return null;
            }
            return Step.replace(pending == 1 ? OPEN : new Text(pending - 1));
        }

        @Override
        public int minRemaining() {
            return pending == 0 ? 1 : pending == -1 ? 2 : pending + 1;
        }
    }

    /** A number being written: the part it is in and how many digits that part has. */
    private record Number(boolean integer, int part, int digits) implements Frame {
        static final int MINUS = 0, ZERO = 1, INT = 2, DOT = 3, FRACTION = 4, E = 5, SIGN = 6, EXPONENT = 7;

        static Step start(boolean integer, char c) {
            if (c == '-') {
                return Step.replace(new Number(integer, MINUS, 0));
            }
            if (c == '0') {
                return Step.replace(new Number(integer, ZERO, 1));
            }
            return c >= '1' && c <= '9' ? Step.replace(new Number(integer, INT, 1)) : null;
        }

        @Override
        public Step feed(char c) {
            boolean digit = c >= '0' && c <= '9';
            switch (part) {
                case MINUS:
                    return c == '0' ? Step.replace(new Number(integer, ZERO, 1))
                            : digit ? Step.replace(new Number(integer, INT, 1)) : null;
                case ZERO:
                case INT:
                    if (digit && part == INT && digits < MAX_DIGITS) {
                        return Step.replace(new Number(integer, INT, digits + 1));
                    }
                    if (!integer && c == '.') {
                        return Step.replace(new Number(false, DOT, 0));
                    }
                    if (!integer && (c == 'e' || c == 'E')) {
                        return Step.replace(new Number(false, E, 0));
                    }
                    return Step.POP_PASS;
                case DOT:
                    return digit ? Step.replace(new Number(false, FRACTION, 1)) : null;
                case FRACTION:
                    if (digit && digits < MAX_DIGITS) {
                        return Step.replace(new Number(false, FRACTION, digits + 1));
                    }
                    return c == 'e' || c == 'E' ? Step.replace(new Number(false, E, 0)) : Step.POP_PASS;
                case E:
                    if (c == '+' || c == '-') {
                        return Step.replace(new Number(false, SIGN, 0));
                    }
                    return digit ? Step.replace(new Number(false, EXPONENT, 1)) : null;
                case SIGN:
                    return digit ? Step.replace(new Number(false, EXPONENT, 1)) : null;
                default:
                    return digit && digits < MAX_EXPONENT_DIGITS ? Step.replace(new Number(false, EXPONENT, digits + 1))
                            : Step.POP_PASS;
            }
        }

        @Override
        public boolean canEnd() {
            return part == ZERO || part == INT || part == FRACTION || part == EXPONENT;
        }

        @Override
        public int minRemaining() {
            return canEnd() ? 0 : 1;
        }
    }

    /**
     * An object being written: {@code next} is the index of the first property that may still come (they come in
     * schema order); in KEY, {@code keys} are the properties whose key matches the {@code at} characters written.
     */
    private record ObjectFrame(JsonSchema schema, int stage, int next, int[] keys, int at) implements Frame {
        static final int OPEN = 0, KEY = 1, COLON = 2, VALUE = 3, AFTER_VALUE = 4, AFTER_COMMA = 5;

        @Override
        public Step feed(char c) {
            switch (stage) {
                case OPEN:
                    if (c == '}' && !schema.requiredFrom(0)) {
                        return Step.POP;
                    }
                    return c == '"' ? startKey() : null;
                case AFTER_COMMA:
                    return c == '"' ? startKey() : null;
                case KEY:
                    int matching = 0;
                    int done = -1;
                    for (int j : keys) {
                        String key = schema.keyText(j);
                        if (key.length() > at && key.charAt(at) == c) {
                            matching++;
                            if (key.length() == at + 1) {
                                done = j;
                            }
                        }
                    }
                    if (matching == 0) {
                        return null;
                    }
                    if (done >= 0) {
                        // keys are prefix-free (each ends at its first unescaped quote): the property is chosen
                        return Step.replace(new ObjectFrame(schema, COLON, done, null, 0));
                    }
                    int[] kept = new int[matching];
                    int i = 0;
                    for (int j : keys) {
                        String key = schema.keyText(j);
                        if (key.length() > at && key.charAt(at) == c) {
                            kept[i++] = j;
                        }
                    }
                    return Step.replace(new ObjectFrame(schema, KEY, next, kept, at + 1));
                case COLON:
                    return c == ':' ? Step.replace(new ObjectFrame(schema, VALUE, next, null, 0)) : null;
                case VALUE:
                    return Step.push(new ObjectFrame(schema, AFTER_VALUE, next + 1, null, 0),
                            new Value(schema.properties().get(next).schema()));
                default:
                    if (c == ',' && next < schema.properties().size()) {
                        return Step.replace(new ObjectFrame(schema, AFTER_COMMA, next, null, 0));
                    }
                    return c == '}' && !schema.requiredFrom(next) ? Step.POP : null;
            }
        }

        private Step startKey() {
            int[] candidates = schema.candidates(next);
            return candidates.length == 0 ? null : Step.replace(new ObjectFrame(schema, KEY, next, candidates, 0));
        }

        @Override
        public int minRemaining() {
            return switch (stage) {
                case OPEN -> schema.minOpenObject();
                case AFTER_COMMA -> {
                    int min = Integer.MAX_VALUE;
                    for (int j : schema.candidates(next)) {
                        min = Math.min(min, schema.keyCost(j) + schema.minAfter(j + 1));
                    }
                    yield min;
                }
                case KEY -> {
                    int min = Integer.MAX_VALUE;
                    for (int j : keys) {
                        min = Math.min(min, schema.keyText(j).length() - at + 1
                                + schema.properties().get(j).schema().minChars() + schema.minAfter(j + 1));
                    }
                    yield min;
                }
                case COLON -> 1 + schema.properties().get(next).schema().minChars() + schema.minAfter(next + 1);
                case VALUE -> schema.properties().get(next).schema().minChars() + schema.minAfter(next + 1);
                default -> schema.minAfter(next);
            };
        }
    }

    /** An array being written, {@code count} items begun. */
    private record ArrayFrame(JsonSchema schema, int stage, int count) implements Frame {
        static final int OPEN = 0, AFTER_VALUE = 1, AFTER_COMMA = 2;

        @Override
        public Step feed(char c) {
            switch (stage) {
                case OPEN:
                    if (c == ']' && schema.minItems() == 0) {
                        return Step.POP;
                    }
                    return schema.maxItems() == 0 ? null
                            : Step.push(new ArrayFrame(schema, AFTER_VALUE, 1), new Value(schema.items()));
                case AFTER_COMMA:
                    return Step.push(new ArrayFrame(schema, AFTER_VALUE, count + 1), new Value(schema.items()));
                default:
                    if (c == ',' && (schema.maxItems() < 0 || count < schema.maxItems())) {
                        return Step.replace(new ArrayFrame(schema, AFTER_COMMA, count));
                    }
                    return c == ']' && count >= schema.minItems() ? Step.POP : null;
            }
        }

        @Override
        public int minRemaining() {
            int item = schema.items() == null ? 0 : schema.items().minChars();
            return switch (stage) {
                case OPEN -> schema.minOpenArray();
                case AFTER_COMMA -> item + afterValue(count + 1, item);
                default -> afterValue(count, item);
            };
        }

        private int afterValue(int items, int item) {
            return Math.max(0, schema.minItems() - items) * (item + 1) + 1;
        }
    }
}
