package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connections that trickle their request head are closed at the header deadline, though each byte resets the idle
 * timeout; idle connections are closed at the idle timeout; a kept-alive connection that waits between requests is not
 * a slow head.
 */
class SlowClientTest {
    /** Far beyond the deadlines used here: only a connection never closed takes this long. */
    private static final long GENEROUS_SECONDS = 25;

    @TempDir
    Path dataDir;

    private TuneforgeServer start(Duration idle, Duration header) {
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of("."))
                .withHttp(HttpSettings.defaults().withTimeouts(idle, header));
        return new TuneforgeServer(config).start("127.0.0.1", 0);
    }

    /**
     * Sends {@code text} a byte a second until the server closes the connection; true if it did within the generous
     * bound, having answered nothing.
     */
    private static CompletableFuture<Boolean> trickle(int port, String text) {
        return CompletableFuture.supplyAsync(() -> {
            try (Socket socket = new Socket("127.0.0.1", port)) {
                socket.setSoTimeout(200);
                OutputStream out = socket.getOutputStream();
                InputStream in = socket.getInputStream();
                long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(GENEROUS_SECONDS);
                byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
                for (int i = 0; System.nanoTime() < end; i = (i + 1) % bytes.length) {
                    try {
                        out.write(bytes[i]);
                        out.flush();
                    } catch (IOException closed) {
                        return true;
                    }
                    long nextByte = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                    while (System.nanoTime() < nextByte) {
                        try {
                            int r = in.read();
                            if (r < 0) {
                                return true;
                            }
                            throw new AssertionError("the server answered a request it has not fully received");
                        } catch (java.net.SocketTimeoutException stillOpen) {
                            // read again until the next byte is due
                        } catch (IOException reset) {
                            return true;
                        }
                    }
                }
                return false;
            } catch (IOException e) {
                throw new AssertionError(e);
            }
        });
    }

    @Test
    void aTrickledRequestHeadIsClosedAtTheHeaderDeadline() throws Exception {
        try (TuneforgeServer server = start(Duration.ofSeconds(30), Duration.ofSeconds(2))) {
            CompletableFuture<Boolean> headers = trickle(server.port(), "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
                    + "X-Slow: " + "s".repeat(200));
            // blank lines before a request, which Jetty skips, are a trickle too
            CompletableFuture<Boolean> padding = trickle(server.port(), "\r\n");
            assertTrue(headers.get(), "a connection trickling its headers was never closed");
            assertTrue(padding.get(), "a connection trickling blank lines was never closed");
        }
    }

    @Test
    void aKeptAliveConnectionWaitingBetweenRequestsIsNotCut() throws Exception {
        try (TuneforgeServer server = start(Duration.ofSeconds(30), Duration.ofSeconds(1));
             Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            String request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            assertEquals(200, RawHttp.read(socket.getInputStream()).status());
            Thread.sleep(3_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            assertEquals(200, RawHttp.read(socket.getInputStream()).status());
        }
    }

    @Test
    void anIdleConnectionIsClosedAtTheIdleTimeout() throws Exception {
        try (TuneforgeServer server = start(Duration.ofSeconds(1), Duration.ofSeconds(15));
             Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(GENEROUS_SECONDS));
            assertEquals(-1, socket.getInputStream().read(), "the server closes an idle connection");
        }
    }
}
