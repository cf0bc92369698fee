package dev.tuneforge.api;

import io.javalin.http.Context;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.server.HttpConnection;
import org.eclipse.jetty.server.HttpInput;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.TimeoutException;

/**
 * Notices that the client of a request being answered has closed its connection, while the handler waits for the
 * answer (nothing is written, so no write can fail).
 * <p>
 * Jetty (11, under Javalin 6) does not read an HTTP/1.1 connection while its request is being handled: the next
 * request is parsed only after the answer. So a hung-up client is only seen at the next write. This asks the
 * connection's end point for read interest once the request's body has been read to its end: the client either
 * closes (end of stream, or an error: it is gone) or sends the next request on the same connection (pipelining:
 * those bytes are handed to the connection's own request buffer, where its parser finds them after this answer,
 * and the watch stops, the client being evidently there). Over TLS the end point is the decrypted one, so a TLS
 * close_notify reads as the end of the stream too. The idle timeout only renews the interest, as it was without
 * the watch. {@link #close} withdraws the interest; it must be called before the response completes, when the
 * connection reads again for itself.
 * <p>
 * A client that only half-closes (shuts down its output and still reads) counts as gone, as in nginx: HTTP/1.1
 * gives no way to tell it from a client that went away.
 */
final class ClientConnectionWatch implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ClientConnectionWatch.class);
    private static final ClientConnectionWatch NONE = new ClientConnectionWatch(null, null, () -> {
    });

    private final HttpConnection connection;
    private final AbstractEndPoint endPoint;
    private final Runnable onGone;
    private final Callback readable = new Callback() {
        @Override
        public void succeeded() {
            onReadable();
        }

        @Override
        public void failed(Throwable cause) {
            onReadFailed(cause);
        }
    };
    /** Guards the end point's reads against {@link #close}: no read of ours after it returns. */
    private final Object lock = new Object();
    private boolean closed;
    private boolean interested;
    private volatile boolean gone;

    private ClientConnectionWatch(HttpConnection connection, AbstractEndPoint endPoint, Runnable onGone) {
        this.connection = connection;
        this.endPoint = endPoint;
        this.onGone = onGone;
    }

    /**
     * Starts watching {@code ctx}'s connection, running {@code onGone} (once, on a Jetty thread) if its client goes
     * away. Call it once the request's body has been read (the handler has parsed it). Watches nothing when the
     * next request is already buffered (the client is there), or on a connection that is not Jetty's HTTP/1.1.
     */
    static ClientConnectionWatch start(Context ctx, Runnable onGone) {
        Request request = Request.getBaseRequest(ctx.req());
        if (request == null || !(request.getHttpChannel().getHttpTransport() instanceof HttpConnection connection)
                || !(connection.getEndPoint() instanceof AbstractEndPoint endPoint)) {
            return NONE;
        }
        if (!bodyReadToItsEnd(request) || !connection.isRequestBufferEmpty() || !endPoint.isOpen()) {
            return NONE;
        }
        ClientConnectionWatch watch = new ClientConnectionWatch(connection, endPoint, onGone);
        synchronized (watch.lock) {
            watch.interested = endPoint.tryFillInterested(watch.readable);
        }
        return watch;
    }

    /**
     * Whether the request's body has been read to its end of stream: Javalin reads a body of known length as that many
     * bytes, so its end is read here (at once: the parser has already seen it).
     */
    private static boolean bodyReadToItsEnd(Request request) {
        HttpInput input = request.getHttpInput();
        try {
            return input.isFinished() || input.read() == -1 && input.isFinished();
        } catch (IOException | RuntimeException e) {
            // a body that cannot be read further: nothing to watch
            return false;
        }
    }

    /** Whether the client was seen to go away. */
    boolean clientGone() {
        return gone;
    }

    private void onReadable() {
        synchronized (lock) {
            interested = false;
            if (closed) {
                return;
            }
            ByteBuffer bytes = BufferUtil.allocate(connection.getInputBufferSize());
            int filled;
            try {
                filled = endPoint.fill(bytes);
            } catch (IOException e) {
                filled = -1;
            }
            if (filled == 0) {
                interested = endPoint.tryFillInterested(readable);
                return;
            }
            if (filled > 0) {
                handOver(bytes);
                return;
            }
            gone = true;
        }
        onGone.run();
    }

    /** The client's next request, sent before this answer: the connection parses it after this one. */
    private void handOver(ByteBuffer bytes) {
        int length = bytes.remaining();
        connection.onUpgradeTo(bytes);
        if (bytes.hasRemaining()) {
            // cannot happen: the request buffer was empty and is at least the size read
            LOG.warn("{} bytes of a pipelined request did not fit the connection's buffer; closing it", length);
            endPoint.close();
        }
    }

    private void onReadFailed(Throwable cause) {
        synchronized (lock) {
            interested = false;
            if (closed) {
                return;
            }
            if (cause instanceof TimeoutException) {
                // the idle timeout: the request is still being answered (it has a deadline of its own)
                interested = endPoint.tryFillInterested(readable);
                return;
            }
            gone = true;
        }
        onGone.run();
    }

    /** Stops watching; after it returns the connection is read by Jetty alone. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed || endPoint == null) {
                return;
            }
            closed = true;
            if (interested) {
                // while the request is being handled only this watch asks the end point to read
                endPoint.getFillInterest().onFail(new IOException("no longer watched"));
                interested = false;
            }
        }
    }
}
