package dev.tuneforge.catalog;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A local HTTP server with the Hugging Face Hub's file layout ({@code /{repo}/resolve/{revision}/{file}}), its
 * checksum headers (X-Linked-Etag SHA-256 for .safetensors, ETag git blob SHA-1 otherwise) and Range support.
 */
final class FakeHub implements AutoCloseable {
    final List<String> requests = new CopyOnWriteArrayList<>();
    final Map<String, byte[]> corrupt = new ConcurrentHashMap<>();
    private final HttpServer server;

    FakeHub(String repo, String revision, Path modelDir) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        String prefix = "/" + repo + "/resolve/" + revision + "/";
        server.createContext("/", exchange -> {
            String path = exchange.getRequestURI().getPath();
            String range = exchange.getRequestHeaders().getFirst("Range");
            requests.add(path + (range == null ? "" : " " + range));
            Path file = path.startsWith(prefix) ? modelDir.resolve(path.substring(prefix.length())) : null;
            if (file == null || !Files.isRegularFile(file) || path.substring(prefix.length()).contains("/")) {
                exchange.sendResponseHeaders(404, -1);
                exchange.close();
                return;
            }
            byte[] bytes = Files.readAllBytes(file);
            String name = file.getFileName().toString();
            try {
                if (name.endsWith(".safetensors")) {
                    exchange.getResponseHeaders().add("X-Linked-Etag", "\"" + HubDownloader.digest(file, "SHA-256", null) + "\"");
                } else {
                    exchange.getResponseHeaders().add("ETag", "\"" + HubDownloader.digest(file, "SHA-1",
                            ("blob " + bytes.length + "\0").getBytes(StandardCharsets.UTF_8)) + "\"");
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            byte[] served = corrupt.getOrDefault(name, bytes);
            int start = 0;
            int status = 200;
            if (range != null && range.startsWith("bytes=")) {
                start = Integer.parseInt(range.substring(6, range.indexOf('-')));
                status = 206;
                exchange.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (served.length - 1) + "/" + served.length);
            }
            exchange.sendResponseHeaders(status, served.length - start);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(served, start, served.length - start);
            }
        });
        server.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
