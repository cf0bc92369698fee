package dev.tuneforge.api;

import org.eclipse.jetty.http.HostPortHttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.HostPort;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host, honoured only on requests whose peer is a configured
 * trusted proxy, and then applied to the request itself (its remote address, scheme and Host), so that everything
 * after, {@link ClientAddress} included, sees the client as the proxy saw it. From anyone else the headers are
 * ignored: they are the client's own words.
 */
final class TrustedProxies implements HttpConfiguration.Customizer {
    private final List<IpRange> proxies;

    TrustedProxies(List<IpRange> proxies) {
        this.proxies = List.copyOf(proxies);
    }

    @Override
    public void customize(Connector connector, HttpConfiguration config, Request request) {
        InetAddress peer = request.getRemoteInetSocketAddress() == null ? null
                : request.getRemoteInetSocketAddress().getAddress();
        if (peer == null || !trusted(peer)) {
            return;
        }
        HttpFields fields = request.getHttpFields();
        InetAddress client = client(peer, values(fields, "X-Forwarded-For"));
        if (!client.equals(peer)) {
            request.setRemoteAddr(new InetSocketAddress(client, request.getRemotePort()));
        }
        String proto = last(values(fields, "X-Forwarded-Proto"));
        if (proto != null && (proto.equalsIgnoreCase("https") || proto.equalsIgnoreCase("http"))) {
            proto = proto.toLowerCase(Locale.ROOT);
            request.setSecure(proto.equals("https"));
            request.setHttpURI(HttpURI.build(request.getHttpURI()).scheme(proto));
        }
        String host = last(values(fields, "X-Forwarded-Host"));
        if (host != null) {
            HostPort authority;
            try {
                authority = new HostPort(host);
            } catch (IllegalArgumentException e) {
                return;
            }
            request.setHttpFields(HttpFields.build(request.getHttpFields(),
                    new HostPortHttpField(authority.getHost(), authority.getPort())));
            request.setHttpURI(HttpURI.build(request.getHttpURI()).authority(authority.getHost(), authority.getPort()));
        }
    }

    private boolean trusted(InetAddress address) {
        for (IpRange range : proxies) {
            if (range.contains(address)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The client behind a chain of proxies: X-Forwarded-For read from the right (each proxy appends the peer it saw),
     * past the trusted proxies, to the first address that is not one; what is left of it could be anything the
     * client wrote. A hop that is not an IP address ends the walk at the last good one.
     */
    private InetAddress client(InetAddress peer, List<String> forwardedFor) {
        InetAddress client = peer;
        for (int i = forwardedFor.size() - 1; i >= 0 && trusted(client); i--) {
            InetAddress hop = IpRange.literal(withoutPort(forwardedFor.get(i)));
            if (hop == null) {
                break;
            }
            client = hop;
        }
        return client;
    }

    /** {@code 192.0.2.1:4711} and {@code [2001:db8::1]:4711} without the port. */
    private static String withoutPort(String hop) {
        String s = hop.trim();
        if (s.startsWith("[")) {
            int end = s.indexOf(']');
            return end < 0 ? s : s.substring(0, end + 1);
        }
        int colon = s.indexOf(':');
        return colon > 0 && s.indexOf(':', colon + 1) < 0 ? s.substring(0, colon) : s;
    }

    /** Every comma-separated value of every {@code name} header, in order. */
    private static List<String> values(HttpFields fields, String name) {
        List<String> values = new ArrayList<>();
        for (String header : fields.getValuesList(name)) {
            for (String v : header.split(",")) {
                if (!v.isBlank()) {
                    values.add(v.trim());
                }
            }
        }
        return values;
    }

    /** The value the nearest proxy set (the rightmost one), which the client cannot have forged. */
    private static String last(List<String> values) {
        return values.isEmpty() ? null : values.get(values.size() - 1);
    }
}
