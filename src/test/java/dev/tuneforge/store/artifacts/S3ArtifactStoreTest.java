package dev.tuneforge.store.artifacts;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The contract against a real S3 server (S3Proxy over a temporary directory), each test in a bucket of its own,
 * plus what only S3 has: the object layout under the prefix, integrity checks against the manifest, and clear
 * errors at start for a missing bucket, refused credentials and an endpoint nobody answers.
 */
class S3ArtifactStoreTest extends ArtifactStoreContract {
    private static S3Server server;
    private static Path serverDir;
    private String bucket;

    @BeforeAll
    static void startServer() throws Exception {
        serverDir = Files.createTempDirectory("s3proxy");
        server = new S3Server(serverDir);
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
        try (var files = Files.walk(serverDir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }

    @Override
    ArtifactStore open(Path tmp) {
        bucket = "b-" + UUID.randomUUID().toString().substring(0, 8);
        server.createBucket(bucket);
        return new ArtifactStoreSettings(null, server.settings(bucket, "team-a")).open(tmp.resolve("data"));
    }

    @Test
    void objectsLiveUnderThePrefixWithTheManifestNamingOneVersion() {
        store.saveAdapter("m1", dir -> write(dir, Map.of("adapter_config.json", bytes("{}"), "w", bytes("x"))));
        store.saveAdapter("m1", dir -> write(dir, Map.of("adapter_config.json", bytes("{}"), "w", bytes("y"))));
        store.saveCheckpoint("m1", file -> write(file, bytes("c")));
        List<String> keys = keys();
        assertTrue(keys.contains("team-a/tunedModels/m1/adapter.json"), keys.toString());
        assertTrue(keys.contains("team-a/tunedModels/m1/checkpoint.safetensors"), keys.toString());
        assertEquals(2, keys.stream().filter(k -> k.startsWith("team-a/tunedModels/m1/adapter/")).count(),
                "the older save's files are deleted: " + keys);
        store.delete("m1");
        assertEquals(List.of(), keys());
    }

    @Test
    void aFileChangedBehindTheManifestIsRefused() {
        store.saveAdapter("m1", dir -> write(dir, Map.of("adapter_model.safetensors", randomBytes(1000, 5))));
        String key = keys().stream().filter(k -> k.endsWith("/adapter_model.safetensors")).findFirst().orElseThrow();
        try (S3Client s3 = server.client()) {
            s3.putObject(b -> b.bucket(bucket).key(key), RequestBody.fromBytes(randomBytes(1000, 6)));
        }
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> store.readAdapter("m1", ArtifactStoreContract::readAll));
        assertTrue(e.getMessage().contains("does not match its manifest"), e.getMessage());
    }

    @Test
    @Timeout(60)
    void aMissingBucketIsAClearErrorAtStart() {
        ArtifactStoreException e = assertThrows(ArtifactStoreException.class,
                () -> new ArtifactStoreSettings(null, server.settings("no-such-bucket", "")).open(tmp));
        assertTrue(e.getMessage().contains("bucket no-such-bucket does not exist at " + server.endpoint()),
                e.getMessage());
    }

    @Test
    @Timeout(60)
    void refusedCredentialsAreAClearErrorAtStart() {
        S3Settings wrong = new S3Settings(server.endpoint(), "us-east-1", bucket, "", true, S3Server.ACCESS_KEY,
                "not-the-secret", null);
        ArtifactStoreException e = assertThrows(ArtifactStoreException.class,
                () -> new ArtifactStoreSettings(null, wrong).open(tmp));
        assertTrue(e.getMessage().contains("refused access to bucket " + bucket), e.getMessage());
        assertTrue(e.getMessage().contains("artifactStore.secretAccessKey"), e.getMessage());
        assertTrue(!e.getMessage().contains("not-the-secret"), "no secret in the message: " + e.getMessage());
    }

    @Test
    @Timeout(60)
    void anEndpointNobodyAnswersIsAClearErrorAtStartNotAHang() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        URI nowhere = URI.create("http://127.0.0.1:" + closedPort);
        S3Settings settings = new S3Settings(nowhere, "us-east-1", bucket, "", true, S3Server.ACCESS_KEY,
                S3Server.SECRET_KEY, null);
        ArtifactStoreException e = assertThrows(ArtifactStoreException.class,
                () -> new ArtifactStoreSettings(null, settings).open(tmp));
        assertTrue(e.getMessage().contains("the artifact store at " + nowhere + " cannot be reached"), e.getMessage());
    }

    private List<String> keys() {
        try (S3Client s3 = server.client()) {
            // S3Proxy's file-system backend lists directories as keys ending in "/"
            return s3.listObjectsV2Paginator(b -> b.bucket(bucket)).contents().stream().map(S3Object::key)
                    .filter(k -> !k.endsWith("/")).sorted().toList();
        }
    }
}
