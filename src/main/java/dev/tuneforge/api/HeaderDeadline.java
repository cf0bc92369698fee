package dev.tuneforge.api;

import org.eclipse.jetty.http.HttpParser;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.ssl.SslConnection;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConnection;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.util.component.AbstractLifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLEngineResult.HandshakeStatus;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection whose request head (request line and headers, and before them the TLS handshake) takes longer
 * than the deadline to arrive. The idle timeout alone never does: a client trickling a byte at a time resets it with
 * each byte and holds the connection for as long as it likes. Jetty 11 has no setting for this, so a sweep looks at
 * every connection a few times per deadline: one seen receiving the same request's head for longer than the
 * deadline is closed, which happens between the deadline and two sweep intervals after it.
 */
final class HeaderDeadline extends AbstractLifeCycle {
    private static final Logger LOG = LoggerFactory.getLogger(HeaderDeadline.class);
    private static final long NOT_RECEIVING = Long.MIN_VALUE;
    private final Server server;
    private final long deadlineNanos;
    private final long sweepMillis;
    private Map<EndPoint, Sighting> sightings = new HashMap<>();
    private ScheduledExecutorService sweeper;

    /** What a sweep saw of a connection: its request count, its input while idle, since when it has been receiving a head. */
    private record Sighting(long requests, long idleBytesIn, long headSince) {
    }

    HeaderDeadline(Server server, Duration deadline) {
        this.server = server;
        this.deadlineNanos = deadline.toNanos();
        this.sweepMillis = Math.max(50, Math.min(1000, deadline.toMillis() / 4));
    }

    @Override
    protected void doStart() {
        sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "header-deadline");
            t.setDaemon(true);
            return t;
        });
        sweeper.scheduleWithFixedDelay(this::sweepSafely, sweepMillis, sweepMillis, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        sweeper.shutdownNow();
    }

    private void sweepSafely() {
        try {
            sweep(System.nanoTime());
        } catch (RuntimeException e) {
            LOG.warn("header deadline sweep failed", e);
        }
    }

    private void sweep(long now) {
        Map<EndPoint, Sighting> next = new HashMap<>();
        for (Connector connector : server.getConnectors()) {
            for (EndPoint endPoint : connector.getConnectedEndPoints()) {
                Sighting seen = look(endPoint, sightings.get(endPoint), now);
                if (seen == null) {
                    continue;
                }
                if (seen.headSince != NOT_RECEIVING && now - seen.headSince > deadlineNanos) {
                    LOG.debug("closing a connection from {}: its request head took longer than {} ms",
                            endPoint.getRemoteSocketAddress(), deadlineNanos / 1_000_000);
                    endPoint.close();
                } else {
                    next.put(endPoint, seen);
                }
            }
        }
        sightings = next;
    }

    /** This sweep's sighting of a connection, or null for one that is not HTTP/1 (nothing to watch). */
    private static Sighting look(EndPoint endPoint, Sighting before, long now) {
        Connection connection = endPoint.getConnection();
        boolean handshaking = false;
        if (connection instanceof SslConnection tls) {
            handshaking = tls.getSSLEngine().getHandshakeStatus() != HandshakeStatus.NOT_HANDSHAKING;
            connection = tls.getDecryptedEndPoint().getConnection();
        }
        if (!(connection instanceof HttpConnection http)) {
            return null;
        }
        HttpParser parser = http.getParser();
        long requests = http.getMessagesIn();
        long bytesIn = http.getBytesIn();
        if (before != null && before.requests != requests) {
            before = null;
        }
        // between requests the parser waits at START; bytes arriving there without a request starting are padding
        // (blank lines), which Jetty skips but which still come a byte at a time
        long idleBytesIn = !parser.isStart() ? -1 : before != null && before.idleBytesIn >= 0 ? before.idleBytesIn : bytesIn;
        boolean receiving = handshaking || parser.inHeaderState() && (!parser.isStart() || bytesIn > idleBytesIn);
        long headSince = !receiving ? NOT_RECEIVING
                : before != null && before.headSince != NOT_RECEIVING ? before.headSince : now;
        return new Sighting(requests, idleBytesIn, headSince);
    }
}
