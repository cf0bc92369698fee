package dev.tuneforge.store.artifacts;

import java.net.URI;
import java.time.Duration;

/**
 * Where an S3-compatible artifact store is: {@code endpoint} (null: AWS's for the region), {@code bucket} (must
 * exist), {@code prefix} put before every key, path-style addressing (needed by most self-hosted servers), and the
 * access key (null: the AWS SDK's default credential chain, e.g. {@code AWS_ACCESS_KEY_ID}).
 */
public record S3Settings(URI endpoint, String region, String bucket, String prefix, boolean pathStyle,
                         String accessKeyId, String secretAccessKey, Duration requestTimeout) {
    public S3Settings {
        if (bucket == null || bucket.isBlank()) {
            throw new IllegalArgumentException("artifactStore.bucket is required for an s3 store");
        }
        if ((accessKeyId == null) != (secretAccessKey == null)) {
            throw new IllegalArgumentException("artifactStore.accessKeyId and artifactStore.secretAccessKey go together");
        }
        if (region == null || region.isBlank()) {
            region = "us-east-1";
        }
        prefix = prefix == null ? "" : prefix.isEmpty() || prefix.endsWith("/") ? prefix : prefix + "/";
        if (requestTimeout == null) {
            requestTimeout = Duration.ofSeconds(30);
        }
    }

    /** For errors and logs: never the secret. */
    public String describe() {
        return "bucket " + bucket + (prefix.isEmpty() ? "" : " (prefix " + prefix + ")") + " at "
                + (endpoint == null ? "AWS S3 " + region : endpoint);
    }
}
