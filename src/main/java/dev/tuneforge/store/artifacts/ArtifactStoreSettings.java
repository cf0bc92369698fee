package dev.tuneforge.store.artifacts;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.store.OwnerOnly;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Which artifact store a process uses: a directory ({@code directory}: null for the data directory's
 * {@code tunedModels/}) or an S3-compatible bucket ({@code s3}).
 */
public record ArtifactStoreSettings(Path directory, S3Settings s3) {

    public static ArtifactStoreSettings defaults() {
        return new ArtifactStoreSettings(null, null);
    }

    /**
     * Opens the store; a bucket that is missing, refuses the credentials or does not answer fails here with a clear
     * error, not later. A directory is only created: one that cannot be written now (a full or read-only disk)
     * is a storage fault that tuning waits out and /readyz reports, not a reason to stay down.
     */
    public ArtifactStore open(Path dataDir) {
        if (s3 == null) {
            Path root = directory != null ? directory : dataDir.resolve("tunedModels");
            OwnerOnly.createDirectories(root);
            return new FileArtifactStore(root);
        }
        ArtifactStore store = new S3ArtifactStore(s3, dataDir.resolve("scratch"));
        try {
            store.check();
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
        return store;
    }

    /**
     * Reads {@code {"type": "filesystem", "directory"}} or {@code {"type": "s3", "endpoint", "region", "bucket",
     * "prefix", "pathStyle", "accessKeyId", "secretAccessKey", "requestTimeoutSeconds"}}; relative directories are
     * resolved against {@code configDir}. A missing node gives the defaults.
     */
    public static ArtifactStoreSettings read(JsonNode node, Path configDir) {
        if (node == null || node.isMissingNode() || node.isNull()) {
            return defaults();
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException("artifactStore must be an object, not " + node);
        }
        String type = text(node, "type", "filesystem");
        switch (type) {
            case "filesystem" -> {
                String dir = text(node, "directory", null);
                return new ArtifactStoreSettings(dir == null ? null : configDir.resolve(dir).normalize(), null);
            }
            case "s3" -> {
                String endpoint = text(node, "endpoint", null);
                JsonNode timeout = node.path("requestTimeoutSeconds");
                if (!timeout.isMissingNode() && (!timeout.isIntegralNumber() || timeout.asLong() < 1)) {
                    throw new IllegalArgumentException("artifactStore.requestTimeoutSeconds must be a whole number "
                            + "of at least 1, not " + timeout);
                }
                JsonNode pathStyle = node.path("pathStyle");
                if (!pathStyle.isMissingNode() && !pathStyle.isBoolean()) {
                    throw new IllegalArgumentException("artifactStore.pathStyle must be true or false, not " + pathStyle);
                }
                return new ArtifactStoreSettings(null, new S3Settings(endpoint == null ? null : uri(endpoint),
                        text(node, "region", null), text(node, "bucket", null), text(node, "prefix", ""),
                        pathStyle.asBoolean(false), text(node, "accessKeyId", null),
                        text(node, "secretAccessKey", null),
                        timeout.isMissingNode() ? null : Duration.ofSeconds(timeout.asLong())));
            }
            default -> throw new IllegalArgumentException("artifactStore.type must be filesystem or s3, not " + type);
        }
    }

    private static String text(JsonNode node, String field, String fallback) {
        JsonNode v = node.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return fallback;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("artifactStore." + field + " must be a string, not " + v);
        }
        return v.asText();
    }

    private static URI uri(String endpoint) {
        try {
            URI uri = new URI(endpoint);
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new IllegalArgumentException("artifactStore.endpoint must be an http(s) URL, not " + endpoint);
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("artifactStore.endpoint is not a URL: " + endpoint, e);
        }
    }
}
