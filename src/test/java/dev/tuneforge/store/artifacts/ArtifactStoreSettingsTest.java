package dev.tuneforge.store.artifacts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config file's "artifactStore" section: both kinds, defaults, and errors that name the key. */
class ArtifactStoreSettingsTest {
    private static final Path CONFIG_DIR = Path.of("/etc/tuneforge");

    private static ArtifactStoreSettings read(String json) throws Exception {
        JsonNode node = json == null ? new ObjectMapper().missingNode() : new ObjectMapper().readTree(json);
        return ArtifactStoreSettings.read(node, CONFIG_DIR);
    }

    @Test
    void withoutTheSectionArtifactsStayInTheDataDirectory() throws Exception {
        assertEquals(ArtifactStoreSettings.defaults(), read(null));
        assertEquals(Path.of("/etc/shared/artifacts"),
                read("{\"type\": \"filesystem\", \"directory\": \"../shared/artifacts\"}").directory());
    }

    @Test
    void anS3StoreReadsEveryKey() throws Exception {
        S3Settings s3 = read("""
                {"type": "s3", "endpoint": "https://minio.internal:9000", "region": "eu-west-1", "bucket": "tf",
                 "prefix": "prod", "pathStyle": true, "accessKeyId": "AK", "secretAccessKey": "SK",
                 "requestTimeoutSeconds": 120}""").s3();
        assertEquals(new S3Settings(URI.create("https://minio.internal:9000"), "eu-west-1", "tf", "prod/", true, "AK",
                "SK", Duration.ofSeconds(120)), s3);
        S3Settings aws = read("{\"type\": \"s3\", \"bucket\": \"tf\"}").s3();
        assertNull(aws.endpoint());
        assertEquals("us-east-1", aws.region());
        assertEquals("", aws.prefix());
        assertNull(aws.accessKeyId(), "the SDK's default credential chain");
        assertTrue(!aws.describe().contains("SK") && s3.describe().contains("bucket tf (prefix prod/)"), s3.describe());
    }

    @Test
    void badValuesGetErrorsNamingTheKey() {
        expect("[]", "artifactStore must be an object");
        expect("{\"type\": \"nfs\"}", "artifactStore.type must be filesystem or s3");
        expect("{\"type\": \"s3\"}", "artifactStore.bucket is required");
        expect("{\"type\": \"s3\", \"bucket\": \"b\", \"endpoint\": \"minio:9000\"}", "artifactStore.endpoint must be an http(s) URL");
        expect("{\"type\": \"s3\", \"bucket\": \"b\", \"pathStyle\": \"yes\"}", "artifactStore.pathStyle must be true or false");
        expect("{\"type\": \"s3\", \"bucket\": \"b\", \"accessKeyId\": \"AK\"}", "artifactStore.accessKeyId and artifactStore.secretAccessKey go together");
        expect("{\"type\": \"s3\", \"bucket\": \"b\", \"requestTimeoutSeconds\": 0}", "artifactStore.requestTimeoutSeconds must be a whole number");
        expect("{\"type\": \"s3\", \"bucket\": 7}", "artifactStore.bucket must be a string");
    }

    private static void expect(String json, String message) {
        String got = assertThrows(IllegalArgumentException.class, () -> read(json)).getMessage();
        assertTrue(got.contains(message), got);
    }
}
