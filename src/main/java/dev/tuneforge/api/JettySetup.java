package dev.tuneforge.api;

import io.javalin.config.JavalinConfig;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * Jetty under Javalin, hardened: the connector (HTTP, or HTTPS with TLS 1.2+ when a certificate is configured) with
 * its idle timeout and header deadline, Google-JSON error answers instead of Jetty's HTML, and the request
 * customizers that run before any handler, in this order: TLS facts, trusted proxies' X-Forwarded-* headers,
 * security headers, the method-override guard, the body limits.
 */
final class JettySetup {
    private final HttpSettings settings;
    private final SslContextFactory.Server tls;
    private String host;
    private int port;

    /** Reads the TLS key material now, so that a bad file or password stops the server before it starts. */
    JettySetup(HttpSettings settings) {
        this.settings = settings;
        this.tls = settings.servesTls() ? sslContextFactory(TlsKeyStores.load(settings.tls())) : null;
    }

    void configure(JavalinConfig config) {
        config.http.maxRequestSize = Math.max(settings.maxBodyBytes(), settings.maxTuningBodyBytes());
        // Javalin takes a body that ends early for a client gone away; it is as often a malformed one (a bad chunk)
        config.jetty.clientAbortStatus = 400;
        config.jetty.modifyServer(server -> {
            server.setErrorHandler(new JsonErrorHandler(settings.servesTls()));
            server.addBean(new HeaderDeadline(server, settings.headerTimeout()));
        });
        config.jetty.modifyHttpConfiguration(http -> {
            http.setSendServerVersion(false);
            http.setSendXPoweredBy(false);
            if (tls != null) {
                // nothing reads the Host header any more (the public URL is configured), so no need to match it
                // against the certificate, which would refuse clients that reach the server by another name
                http.addCustomizer(new SecureRequestCustomizer(false));
            }
            http.addCustomizer(new TrustedProxies(settings.trustedProxies()));
            http.addCustomizer(new SecurityHeaders());
            http.addCustomizer(new MethodOverrideGuard());
            http.addCustomizer(new RequestBodyLimit(settings.maxBodyBytes(), settings.maxTuningBodyBytes()));
        });
        config.jetty.addConnector(this::connector);
    }

    /** Where the connector binds; called before Javalin starts the server. */
    void listenOn(String host, int port) {
        this.host = host;
        this.port = port;
    }

    private ServerConnector connector(Server server, HttpConfiguration http) {
        HttpConnectionFactory plain = new HttpConnectionFactory(http);
        ServerConnector connector = tls == null ? new ServerConnector(server, plain)
                : new ServerConnector(server, new SslConnectionFactory(tls, HttpVersion.HTTP_1_1.asString()), plain);
        connector.setHost(host);
        connector.setPort(port);
        connector.setIdleTimeout(settings.idleTimeout().toMillis());
        return connector;
    }

    private static SslContextFactory.Server sslContextFactory(TlsKeyStores.Loaded keys) {
        SslContextFactory.Server factory = new SslContextFactory.Server();
        factory.setKeyStore(keys.keyStore());
        factory.setKeyStorePassword(keys.password());
        factory.setIncludeProtocols("TLSv1.3", "TLSv1.2");
        return factory;
    }
}
