package dev.tuneforge.store.artifacts;

import java.io.IOException;
import java.io.UncheckedIOException;

/** The artifact store cannot be used: unreachable, refusing the credentials, missing its bucket, full. */
public class ArtifactStoreException extends UncheckedIOException {
    public ArtifactStoreException(String message, Throwable cause) {
        super(message, cause instanceof IOException io ? io : new IOException(cause == null ? message
                : cause.getMessage(), cause));
    }

    public ArtifactStoreException(String message) {
        this(message, null);
    }
}
