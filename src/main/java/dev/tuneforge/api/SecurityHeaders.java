package dev.tuneforge.api;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;

import java.util.function.BiConsumer;

/**
 * The security headers of every answer, set before any handler runs (so errors and 404s carry them too; Jetty's own
 * error answers get them from JsonErrorHandler): no MIME sniffing, no referrer, a Content-Security-Policy that lets
 * nothing load or frame the answer, HSTS over HTTPS, and {@code Cache-Control: no-store} on the API and OAuth
 * answers, which carry credentials (tokens, API keys) or a project's data.
 */
final class SecurityHeaders implements HttpConfiguration.Customizer {
    static final String API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'";
    /** The web console's pages and assets: its own scripts, styles and calls only; never framed. */
    static final String CONSOLE_CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";
    static final String STRICT_TRANSPORT_SECURITY = "max-age=31536000";

    @Override
    public void customize(Connector connector, HttpConfiguration config, Request request) {
        apply(request.getResponse()::setHeader, request.getRequestURI(), request.isSecure());
    }

    /** Sets the headers of an answer to {@code path} (null: not known, as for a request Jetty could not parse). */
    static void apply(BiConsumer<String, String> header, String path, boolean secure) {
        header.accept("X-Content-Type-Options", "nosniff");
        header.accept("Referrer-Policy", "no-referrer");
        header.accept("Content-Security-Policy", contentSecurityPolicy(path));
        if (secure) {
            header.accept("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY);
        }
        if (path == null || path.startsWith("/v1") || path.startsWith("/oauth2/") || path.startsWith("/console/session")) {
            header.accept("Cache-Control", "no-store");
        }
    }

    /** The policy for answers to {@code path}: the web console's own for its page and assets, else the API's. */
    static String contentSecurityPolicy(String path) {
        if (path != null && (path.equals("/console") || path.startsWith("/console/") || path.startsWith("/webjars/"))) {
            return CONSOLE_CONTENT_SECURITY_POLICY;
        }
        return API_CONTENT_SECURITY_POLICY;
    }
}
