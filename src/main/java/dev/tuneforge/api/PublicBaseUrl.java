package dev.tuneforge.api;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;

/**
 * The URL clients reach this server at, which the discovery document's endpoints are built on: configured
 * ({@code http.publicBaseUrl}, {@code serve --public-url}), never taken from a request's Host header, which the
 * client writes.
 */
public final class PublicBaseUrl {
    private PublicBaseUrl() {
    }

    /** {@code url} checked (an absolute http or https URL, no query or fragment) and without a trailing slash. */
    public static String parse(String url, String setting) {
        URI uri;
        try {
            uri = new URI(url.trim());
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException(setting + ": '" + url + "' is not a URL (" + e.getReason() + ")");
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
            throw new IllegalArgumentException(setting + ": '" + url + "' must be an absolute http:// or https:// URL "
                    + "with a host, e.g. https://tuneforge.example.com");
        }
        if (uri.getRawQuery() != null || uri.getRawFragment() != null || uri.getRawUserInfo() != null) {
            throw new IllegalArgumentException(setting + ": '" + url + "' must not have user info, a query or a fragment");
        }
        String text = uri.toString();
        while (text.endsWith("/")) {
            text = text.substring(0, text.length() - 1);
        }
        return text;
    }

    /**
     * The URL of a server listening on {@code host:port}: a wildcard address (0.0.0.0, ::) becomes localhost, the
     * only name that surely reaches it; an IPv6 address is bracketed; a default port is left out.
     */
    static String derive(String host, int port, boolean tls) {
        String scheme = tls ? "https" : "http";
        String name = host == null || host.isBlank() || isWildcard(host) ? "localhost"
                : host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        boolean defaultPort = tls ? port == 443 : port == 80;
        return scheme + "://" + name + (defaultPort ? "" : ":" + port);
    }

    private static boolean isWildcard(String host) {
        var address = IpRange.literal(host);
        return address != null && address.isAnyLocalAddress();
    }
}
