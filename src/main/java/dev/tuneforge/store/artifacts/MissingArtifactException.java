package dev.tuneforge.store.artifacts;

/** The store answers but holds no such artifact. */
public final class MissingArtifactException extends RuntimeException {
    public MissingArtifactException(String message) {
        super(message);
    }
}
