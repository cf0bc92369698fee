package dev.tuneforge.store.artifacts;

import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

import java.net.URI;
import java.nio.file.Path;
import java.util.Properties;

/**
 * A real S3 server for tests: S3Proxy in this JVM, storing objects in {@code directory}, on a free port, with
 * access-key authentication (AWS signature v2 or v4).
 */
public final class S3Server implements AutoCloseable {
    public static final String ACCESS_KEY = "test-access-key";
    public static final String SECRET_KEY = "test-secret-key";
    private final S3Proxy proxy;
    private final BlobStoreContext context;

    public S3Server(Path directory) throws Exception {
        this(directory, 0);
    }

    /** On {@code port} (0: a free one); a server restarted on the same directory and port serves the same objects. */
    public S3Server(Path directory, int port) throws Exception {
        Properties properties = new Properties();
        properties.setProperty("jclouds.filesystem.basedir", directory.toString());
        this.context = ContextBuilder.newBuilder("filesystem").credentials(ACCESS_KEY, SECRET_KEY)
                .overrides(properties).build(BlobStoreContext.class);
        this.proxy = S3Proxy.builder().blobStore(context.getBlobStore()).endpoint(URI.create("http://127.0.0.1:" + port))
                .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS_KEY, SECRET_KEY).build();
        proxy.start();
        while (!"STARTED".equals(proxy.getState())) {
            Thread.sleep(5);
        }
    }

    public URI endpoint() {
        return URI.create("http://127.0.0.1:" + proxy.getPort());
    }

    public void createBucket(String bucket) {
        try (S3Client s3 = client()) {
            s3.createBucket(b -> b.bucket(bucket));
        }
    }

    /** Settings for {@code bucket} on this server with the right credentials. */
    public S3Settings settings(String bucket, String prefix) {
        return new S3Settings(endpoint(), "us-east-1", bucket, prefix, true, ACCESS_KEY, SECRET_KEY, null);
    }

    /** A plain SDK client on this server, to look at or tamper with what the store wrote. */
    public S3Client client() {
        return S3Client.builder().endpointOverride(endpoint()).region(Region.US_EAST_1).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(ACCESS_KEY, SECRET_KEY)))
                .requestChecksumCalculation(software.amazon.awssdk.core.checksums.RequestChecksumCalculation.WHEN_REQUIRED)
                .httpClientBuilder(software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient.builder())
                .build();
    }

    @Override
    public void close() throws Exception {
        proxy.stop();
        context.close();
    }
}
