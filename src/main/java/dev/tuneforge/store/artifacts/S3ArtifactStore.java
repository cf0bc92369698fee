package dev.tuneforge.store.artifacts;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.store.OwnerOnly;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.exception.SdkClientException;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.sync.ResponseTransformer;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchBucketException;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Artifacts in an S3-compatible bucket, under {@code PREFIX/tunedModels/UID/}:
 * <ul>
 *   <li>{@code checkpoint.safetensors}: one object; S3 replaces an object atomically, and a download whose length
 *       differs from the object's is refused;</li>
 *   <li>{@code adapter/VERSION/FILE}: the files of one save, under a version of their own, and
 *       {@code adapter.json}, the manifest naming the version and each file's size and SHA-256. The manifest is
 *       written last, so an adapter is visible only once all its files are stored, and readers check every file
 *       against it.</li>
 * </ul>
 * Files pass through owner-only local scratch files in a directory of this instance's own under
 * {@code scratchParent}, deleted after each call and with the directory on close.
 */
public final class S3ArtifactStore implements ArtifactStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String MANIFEST = "adapter.json";
    private static final Duration CHECK_TIMEOUT = Duration.ofSeconds(10);
    private static final int READ_ATTEMPTS = 3;
    private final S3Settings settings;
    private final S3Client s3;
    private final Path scratch;

    public S3ArtifactStore(S3Settings settings, Path scratchParent) {
        this.settings = settings;
        this.scratch = OwnerOnly.createDirectories(scratchParent.resolve("s3-" + UUID.randomUUID()));
        AwsCredentialsProvider credentials = settings.accessKeyId() != null
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKeyId(),
                settings.secretAccessKey()))
                : DefaultCredentialsProvider.builder().build();
        var builder = S3Client.builder()
                .region(Region.of(settings.region()))
                .credentialsProvider(credentials)
                .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build())
                // integrity comes from the manifest's digests; S3-compatible servers differ in the checksum headers
                // they accept, so the SDK adds none beyond what an operation requires
                .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(software.amazon.awssdk.core.checksums.ResponseChecksumValidation.WHEN_REQUIRED)
                .httpClientBuilder(UrlConnectionHttpClient.builder()
                        .connectionTimeout(Duration.ofSeconds(5))
                        .socketTimeout(settings.requestTimeout()))
                .overrideConfiguration(c -> c.apiCallAttemptTimeout(settings.requestTimeout())
                        .apiCallTimeout(settings.requestTimeout().multipliedBy(3)));
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
        }
        this.s3 = builder.build();
    }

    @Override
    public void saveAdapter(String uid, Consumer<Path> writeInto) {
        Path local = newScratchDirectory();
        try {
            writeInto.accept(local);
            String version = UUID.randomUUID().toString();
            ObjectNode manifest = JSON.createObjectNode().put("version", version);
            ObjectNode files = manifest.putObject("files");
            for (Path f : listFiles(local)) {
                String name = f.getFileName().toString();
                files.putObject(name).put("size", Files.size(f)).put("sha256", sha256(f));
                call("store " + name, () -> s3.putObject(b -> b.bucket(settings.bucket())
                        .key(adapterKey(uid, version, name)), RequestBody.fromFile(f)));
            }
            byte[] bytes = JSON.writeValueAsBytes(manifest);
            call("store the adapter manifest", () -> s3.putObject(b -> b.bucket(settings.bucket())
                    .key(modelKey(uid, MANIFEST)).contentType("application/json"), RequestBody.fromBytes(bytes)));
            deleteOtherVersions(uid, version);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the adapter", e);
        } finally {
            deleteLocal(local);
        }
    }

    @Override
    public <T> T readAdapter(String uid, Function<Path, T> reader) {
        JsonNode manifest = manifest(uid);
        for (int attempt = 1; ; attempt++) {
            Path local = newScratchDirectory();
            try {
                downloadAdapter(uid, manifest, local);
                return reader.apply(local);
            } catch (MissingArtifactException e) {
                // a file went away: the adapter was deleted, or replaced by a newer save, while it was read
                JsonNode now = manifest(uid);
                if (attempt >= READ_ATTEMPTS || now.path("version").equals(manifest.path("version"))) {
                    throw e;
                }
                manifest = now;
            } finally {
                deleteLocal(local);
            }
        }
    }

    private void downloadAdapter(String uid, JsonNode manifest, Path local) {
        String version = manifest.path("version").asText();
        for (Map.Entry<String, JsonNode> f : manifest.path("files").properties()) {
            Path file = local.resolve(f.getKey());
            try {
                download(adapterKey(uid, version, f.getKey()), file);
            } catch (NoSuchKeyException e) {
                throw new MissingArtifactException("the adapter's file " + f.getKey() + " is no longer stored");
            }
            try {
                long size = f.getValue().path("size").asLong(-1);
                String digest = f.getValue().path("sha256").asText();
                if (Files.size(file) != size || !sha256(file).equals(digest)) {
                    throw new IllegalStateException("the stored adapter file " + f.getKey()
                            + " does not match its manifest");
                }
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read the downloaded adapter file " + f.getKey(), e);
            }
        }
    }

    @Override
    public void saveCheckpoint(String uid, Consumer<Path> writeTo) {
        Path local = newScratchDirectory();
        try {
            Path file = local.resolve(FileArtifactStore.CHECKPOINT);
            writeTo.accept(file);
            call("store the checkpoint", () -> s3.putObject(b -> b.bucket(settings.bucket())
                    .key(modelKey(uid, FileArtifactStore.CHECKPOINT)), RequestBody.fromFile(file)));
        } finally {
            deleteLocal(local);
        }
    }

    @Override
    public <T> Optional<T> readCheckpoint(String uid, Function<Path, T> reader) {
        Path local = newScratchDirectory();
        try {
            Path file = local.resolve(FileArtifactStore.CHECKPOINT);
            try {
                download(modelKey(uid, FileArtifactStore.CHECKPOINT), file);
            } catch (NoSuchKeyException e) {
                return Optional.empty();
            }
            return Optional.of(reader.apply(file));
        } finally {
            deleteLocal(local);
        }
    }

    @Override
    public void deleteCheckpoint(String uid) {
        call("delete the checkpoint", () -> s3.deleteObject(b -> b.bucket(settings.bucket())
                .key(modelKey(uid, FileArtifactStore.CHECKPOINT))));
    }

    @Override
    public void delete(String uid) {
        // the manifest first: the adapter is gone for readers at once, whatever happens to the rest
        call("delete the adapter manifest", () -> s3.deleteObject(b -> b.bucket(settings.bucket())
                .key(modelKey(uid, MANIFEST))));
        for (String key : keysUnder(modelKey(uid, ""))) {
            call("delete " + key, () -> s3.deleteObject(b -> b.bucket(settings.bucket()).key(key)));
        }
    }

    @Override
    public void check() {
        // bounded well below the request timeout: start-up and /readyz must not hang on a silent endpoint
        call("check the bucket", () -> s3.headBucket(b -> b.bucket(settings.bucket())
                .overrideConfiguration(c -> c.apiCallTimeout(CHECK_TIMEOUT))));
    }

    @Override
    public String describe() {
        return "S3 " + settings.describe();
    }

    @Override
    public void close() {
        s3.close();
        deleteLocal(scratch);
    }

    private JsonNode manifest(String uid) {
        ResponseBytes<GetObjectResponse> bytes;
        try {
            bytes = call("read the adapter manifest", () -> s3.getObjectAsBytes(b -> b.bucket(settings.bucket())
                    .key(modelKey(uid, MANIFEST))));
        } catch (NoSuchKeyException e) {
            throw new MissingArtifactException("no adapter is stored for this model");
        }
        try {
            return JSON.readTree(bytes.asByteArray());
        } catch (IOException e) {
            throw new IllegalStateException("the adapter manifest is not JSON", e);
        }
    }

    /** Downloads {@code key} to {@code file}; a body shorter or longer than the object is an error. */
    private void download(String key, Path file) {
        GetObjectResponse response = call("read " + key.substring(settings.prefix().length()),
                () -> s3.getObject(b -> b.bucket(settings.bucket()).key(key), ResponseTransformer.toFile(file)));
        try {
            if (response.contentLength() != null && Files.size(file) != response.contentLength()) {
                throw new ArtifactStoreException("the download of " + key + " broke off after " + Files.size(file)
                        + " of " + response.contentLength() + " bytes");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void deleteOtherVersions(String uid, String keep) {
        String versions = modelKey(uid, "adapter/");
        for (String key : keysUnder(versions)) {
            if (!key.startsWith(versions + keep + "/")) {
                call("delete " + key, () -> s3.deleteObject(b -> b.bucket(settings.bucket()).key(key)));
            }
        }
    }

    private List<String> keysUnder(String prefix) {
        List<String> keys = new ArrayList<>();
        call("list " + prefix, () -> {
            // keys ending in "/" are directory markers that file-backed servers list; this store writes none
            s3.listObjectsV2Paginator(b -> b.bucket(settings.bucket()).prefix(prefix)).contents().stream()
                    .map(S3Object::key).filter(k -> !k.endsWith("/")).forEach(keys::add);
            return null;
        });
        return keys;
    }

    private String modelKey(String uid, String name) {
        return settings.prefix() + "tunedModels/" + uid + "/" + name;
    }

    private String adapterKey(String uid, String version, String file) {
        return modelKey(uid, "adapter/" + version + "/" + file);
    }

    /**
     * Runs an S3 call; a missing key passes through as {@link NoSuchKeyException}, every other failure becomes an
     * {@link ArtifactStoreException} that says what was wrong in an operator's words.
     */
    private <T> T call(String doing, Supplier<T> request) {
        try {
            return request.get();
        } catch (NoSuchKeyException e) {
            throw e;
        } catch (NoSuchBucketException e) {
            throw new ArtifactStoreException("the artifact store's bucket " + settings.bucket()
                    + " does not exist at " + endpoint() + " (create it, or fix artifactStore.bucket)", e);
        } catch (S3Exception e) {
            throw new ArtifactStoreException(explain(e, doing), e);
        } catch (SdkClientException e) {
            throw new ArtifactStoreException("the artifact store at " + endpoint() + " cannot be reached to "
                    + doing + ": " + e.getMessage(), e);
        } catch (SdkException e) {
            throw new ArtifactStoreException("the artifact store failed to " + doing + ": " + e.getMessage(), e);
        }
    }

    private String explain(S3Exception e, String doing) {
        int status = e.statusCode();
        String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
        if (status == 404) {
            return "the artifact store's bucket " + settings.bucket() + " does not exist at " + endpoint()
                    + " (create it, or fix artifactStore.bucket)";
        }
        if (status == 403 || "InvalidAccessKeyId".equals(code) || "SignatureDoesNotMatch".equals(code)) {
            return "the artifact store at " + endpoint() + " refused access to bucket " + settings.bucket()
                    + " (HTTP " + status + (code == null ? "" : " " + code) + "): check artifactStore.accessKeyId, "
                    + "artifactStore.secretAccessKey and the bucket's permissions";
        }
        return "the artifact store failed to " + doing + " (HTTP " + status + (code == null ? "" : " " + code) + ")";
    }

    private String endpoint() {
        return settings.endpoint() == null ? "AWS S3 " + settings.region() : settings.endpoint().toString();
    }

    private Path newScratchDirectory() {
        return OwnerOnly.createDirectories(scratch.resolve(UUID.randomUUID().toString()));
    }

    private static List<Path> listFiles(Path dir) throws IOException {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(Files::isRegularFile).sorted().toList();
        }
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteLocal(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a scratch file left behind is never read; it goes with the scratch directory on close
        }
    }
}
