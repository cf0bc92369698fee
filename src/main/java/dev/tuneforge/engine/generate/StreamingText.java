package dev.tuneforge.engine.generate;

import java.util.List;
import java.util.function.Consumer;

/**
 * Turns the growing decoded text into final pieces: holds back a trailing replacement character (an incomplete
 * UTF-8 sequence from byte tokens) and any tail that could still become a stop sequence, and cuts at a stop sequence.
 */
final class StreamingText {
    private final List<String> stopSequences;
    private final Consumer<String> sink;
    private int emitted;
    private String stoppedText;

    StreamingText(List<String> stopSequences, Consumer<String> sink) {
        this.stopSequences = stopSequences;
        this.sink = sink;
    }

    /** Takes the full decoded text so far; returns true when a stop sequence has appeared. */
    boolean update(String text) {
        for (String stop : stopSequences) {
            int at = text.indexOf(stop);
            if (at >= 0) {
                stoppedText = text.substring(0, at);
                return true;
            }
        }
        int stable = text.length();
        while (stable > 0 && text.charAt(stable - 1) == '\uFFFD') {
            stable--;
        }
        for (String stop : stopSequences) {
            for (int len = Math.min(stop.length() - 1, stable); len > 0; len--) {
                if (text.startsWith(stop.substring(0, len), stable - len)) {
                    stable = Math.min(stable, stable - len);
                    break;
                }
            }
        }
        emitUpTo(text, stable);
        return false;
    }

    /** The final text (cut at a stop sequence if one appeared); emits what was held back. */
    String finish(String text) {
        String result = stoppedText != null ? stoppedText : text;
        emitUpTo(result, result.length());
        return result;
    }

    private void emitUpTo(String text, int end) {
        if (end > emitted) {
            sink.accept(text.substring(emitted, end));
            emitted = end;
        }
    }
}
