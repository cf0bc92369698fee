package dev.tuneforge.engine.generate;

/** Why generation ended, with the Gemini API's names. */
public enum FinishReason {
    /** A stop token or stop sequence was produced. */
    STOP,
    /** maxOutputTokens (or the model's context) was reached. */
    MAX_TOKENS
}
