package dev.tuneforge.catalog;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Downloads a Hugging Face Hub model repository ({@code {endpoint}/{repo}/resolve/{revision}/{file}}) into a
 * local cache: only the files a Llama-family model needs, with a progress bar, resuming partial files with HTTP
 * ranges, and verifying each file against the hub's checksum headers (SHA-256 in {@code X-Linked-Etag} for LFS
 * files, the git blob SHA-1 in {@code ETag} for small files) before it is moved into place.
 */
public final class HubDownloader {
    private static final List<String> REQUIRED = List.of("config.json", "tokenizer.json");
    private static final List<String> OPTIONAL = List.of("tokenizer_config.json", "generation_config.json");
    private final String endpoint;
    private final Path cacheDir;
    private final String token;
    private final HttpClient http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NORMAL)
            .connectTimeout(Duration.ofSeconds(20)).build();

    public HubDownloader(String endpoint, Path cacheDir, String token) {
        this.endpoint = endpoint.replaceAll("/+$", "");
        this.cacheDir = cacheDir;
        this.token = token;
    }

    /** The default: {@code HF_ENDPOINT} or huggingface.co, {@code HF_TOKEN} when set. */
    public static HubDownloader fromEnvironment(Path cacheDir) {
        String endpoint = System.getenv().getOrDefault("HF_ENDPOINT", "https://huggingface.co");
        return new HubDownloader(endpoint, cacheDir, System.getenv("HF_TOKEN"));
    }

    /** The local directory of {@code repo} at {@code revision}, downloading what is missing. */
    public Path ensure(String repo, String revision) {
        if (!repo.matches("[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")) {
            throw new IllegalArgumentException("not a Hugging Face repo id: '" + repo + "' (expected owner/name)");
        }
        Path dir = cacheDir.resolve(repo.replace("/", "--")).resolve(revision.replaceAll("[^A-Za-z0-9._-]", "_"));
        try {
            Files.createDirectories(dir);
            for (String f : REQUIRED) {
                fetch(repo, revision, f, dir, true);
            }
            for (String f : OPTIONAL) {
                fetch(repo, revision, f, dir, false);
            }
            if (!fetch(repo, revision, "model.safetensors", dir, false)) {
                if (!fetch(repo, revision, "model.safetensors.index.json", dir, false)) {
                    throw new IllegalArgumentException(repo + "@" + revision
                            + " has neither model.safetensors nor model.safetensors.index.json");
                }
                JsonNode map = new ObjectMapper().readTree(dir.resolve("model.safetensors.index.json").toFile()).path("weight_map");
                Set<String> shards = new LinkedHashSet<>();
                map.fields().forEachRemaining(e -> shards.add(e.getValue().asText()));
                for (String shard : shards) {
                    if (shard.contains("/") || shard.contains("..")) {
                        throw new IllegalArgumentException(repo + ": unexpected shard name " + shard);
                    }
                    fetch(repo, revision, shard, dir, true);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("downloading " + repo + "@" + revision + " failed: " + e.getMessage(), e);
        }
    }

    /** Downloads one file unless present; returns false when an optional file does not exist on the hub. */
    private boolean fetch(String repo, String revision, String file, Path dir, boolean required) throws IOException {
        Path target = dir.resolve(file);
        if (Files.isRegularFile(target)) {
            return true;
        }
        Path part = dir.resolve(file + ".part");
        long have = Files.isRegularFile(part) ? Files.size(part) : 0;
        URI uri = URI.create(endpoint + "/" + repo + "/resolve/" + URLEncoder.encode(revision, StandardCharsets.UTF_8)
                + "/" + file);
        HttpRequest.Builder req = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(30)).GET();
        if (token != null && !token.isBlank()) {
            req.header("Authorization", "Bearer " + token);
        }
        if (have > 0) {
            req.header("Range", "bytes=" + have + "-");
        }
        HttpResponse<InputStream> res;
        try {
            res = http.send(req.build(), HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        int status = res.statusCode();
        if (status == 404) {
            res.body().close();
            if (required) {
                throw new IllegalArgumentException(repo + "@" + revision + " has no " + file);
            }
            return false;
        }
        if (status == 401 || status == 403) {
            res.body().close();
            throw new IllegalArgumentException(repo + ": access denied (HTTP " + status + "); set HF_TOKEN for gated models");
        }
        if (status == 416) {
            res.body().close();
            Files.deleteIfExists(part);
            return fetch(repo, revision, file, dir, required);
        }
        if (status != 200 && status != 206) {
            res.body().close();
            throw new IOException(uri + " answered HTTP " + status);
        }
        boolean append = status == 206;
        long total = res.headers().firstValueAsLong("Content-Length").orElse(-1) + (append ? have : 0);
        try (InputStream in = res.body();
             OutputStream out = Files.newOutputStream(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     append ? StandardOpenOption.APPEND : StandardOpenOption.TRUNCATE_EXISTING);
             ProgressBar bar = new ProgressBarBuilder().setTaskName(file).setInitialMax(Math.max(total, 0))
                     .setStyle(ProgressBarStyle.ASCII).setUnit(" MB", 1_000_000).showSpeed().build()) {
            long done = append ? have : 0;
            bar.stepTo(done);
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
                done += n;
                bar.stepTo(done);
            }
        }
        verify(part, res.headers(), file);
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return true;
    }

    private static void verify(Path part, java.net.http.HttpHeaders headers, String file) throws IOException {
        String linked = clean(headers.firstValue("X-Linked-Etag").orElse(null));
        String etag = clean(headers.firstValue("ETag").orElse(null));
        String expectedSha256 = linked != null && linked.matches("[0-9a-f]{64}") ? linked
                : etag != null && etag.matches("[0-9a-f]{64}") ? etag : null;
        if (expectedSha256 != null) {
            String actual = digest(part, "SHA-256", null);
            if (!actual.equals(expectedSha256)) {
                Files.deleteIfExists(part);
                throw new IOException(file + ": SHA-256 " + actual + " does not match the hub's " + expectedSha256
                        + "; the partial download was discarded");
            }
        } else if (etag != null && etag.matches("[0-9a-f]{40}")) {
            String actual = digest(part, "SHA-1", ("blob " + Files.size(part) + "\0").getBytes(StandardCharsets.UTF_8));
            if (!actual.equals(etag)) {
                Files.deleteIfExists(part);
                throw new IOException(file + ": git blob SHA-1 " + actual + " does not match the hub's " + etag
                        + "; the partial download was discarded");
            }
        }
    }

    private static String clean(String etag) {
        if (etag == null) {
            return null;
        }
        return etag.replaceFirst("^W/", "").replace("\"", "").trim().toLowerCase(java.util.Locale.ROOT);
    }

    static String digest(Path file, String algorithm, byte[] prefix) throws IOException {
        try {
            MessageDigest d = MessageDigest.getInstance(algorithm);
            if (prefix != null) {
                d.update(prefix);
            }
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    d.update(buf, 0, n);
                }
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
