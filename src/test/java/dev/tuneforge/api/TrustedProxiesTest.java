package dev.tuneforge.api;

import io.javalin.Javalin;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** X-Forwarded-* count only from a configured trusted proxy; ClientAddress is where the code asks. */
class TrustedProxiesTest {
    @TempDir
    Path dataDir;

    /** A server with the production Jetty setup and one route that tells what ClientAddress says. */
    private static Javalin whoAmI(HttpSettings settings) {
        JettySetup jetty = new JettySetup(settings);
        Javalin app = Javalin.create(config -> {
            config.showJavalinBanner = false;
            jetty.configure(config);
        });
        app.get("/whoami", ctx -> ctx.result(ClientAddress.of(ctx) + " " + ClientAddress.scheme(ctx) + " " + ctx.host()));
        jetty.listenOn("127.0.0.1", 0);
        return app.start();
    }

    private static String whoAmI(Javalin app, String forwardedHeaders) throws Exception {
        RawHttp.Response r = RawHttp.send(app.port(), "GET /whoami HTTP/1.1\r\nHost: direct.example\r\n" + forwardedHeaders + "\r\n");
        assertEquals(200, r.status(), r.body());
        return r.body();
    }

    private static final String FORGED = "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
            + "X-Forwarded-Host: forged.example\r\n";

    @Test
    void forwardedHeadersFromAnUntrustedPeerAreIgnored() throws Exception {
        Javalin nobodyTrusted = whoAmI(HttpSettings.defaults());
        Javalin othersTrusted = whoAmI(HttpSettings.defaults().withTrustedProxies(List.of(IpRange.parse("10.0.0.0/8"))));
        try {
            assertEquals("127.0.0.1 http direct.example", whoAmI(nobodyTrusted, FORGED));
            assertEquals("127.0.0.1 http direct.example", whoAmI(othersTrusted, FORGED));
        } finally {
            nobodyTrusted.stop();
            othersTrusted.stop();
        }
    }

    @Test
    void forwardedHeadersFromATrustedProxyAreUsed() throws Exception {
        Javalin app = whoAmI(HttpSettings.defaults().withTrustedProxies(List.of(IpRange.parse("127.0.0.1"),
                IpRange.parse("10.0.0.0/8"))));
        try {
            assertEquals("127.0.0.1 http direct.example", whoAmI(app, ""));
            assertEquals("203.0.113.7 https forged.example", whoAmI(app, FORGED));
            // the client wrote the leftmost address itself; the trusted proxies appended the rest
            assertEquals("198.51.100.9 http direct.example",
                    whoAmI(app, "X-Forwarded-For: 192.0.2.66, 198.51.100.9, 10.1.2.3\r\n"));
            assertEquals("[2001:db8:0:0:0:0:0:1] http direct.example", whoAmI(app, "X-Forwarded-For: [2001:db8::1]:4711\r\n"));
            // no DNS name and no garbage ever becomes the client's address
            assertEquals("127.0.0.1 http direct.example", whoAmI(app, "X-Forwarded-For: example.com\r\n"));
            assertEquals("198.51.100.9 http direct.example",
                    whoAmI(app, "X-Forwarded-For: 198.51.100.9\r\nX-Forwarded-Proto: gopher\r\n"));
        } finally {
            app.stop();
        }
    }

    @Test
    void httpsForwardedByATrustedProxyGetsStrictTransportSecurity() throws Exception {
        ServerConfig trusting = ServerConfig.defaults(dataDir, Path.of("."))
                .withHttp(HttpSettings.defaults().withTrustedProxies(List.of(IpRange.parse("127.0.0.0/8"))));
        try (TuneforgeServer server = new TuneforgeServer(trusting).start("127.0.0.1", 0)) {
            RawHttp.Response viaProxy = RawHttp.send(server.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\n"
                    + "X-Forwarded-Proto: https\r\n\r\n");
            assertEquals("max-age=31536000", viaProxy.header("Strict-Transport-Security"));
            assertNull(RawHttp.send(server.port(), "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").header("Strict-Transport-Security"));
        }
    }

    @Test
    void ranges() throws Exception {
        IpRange ten = IpRange.parse("10.0.0.0/8");
        assertTrue(ten.contains(InetAddress.getByName("10.255.0.1")));
        assertFalse(ten.contains(InetAddress.getByName("11.0.0.1")));
        assertFalse(ten.contains(InetAddress.getByName("::1")));
        IpRange v6 = IpRange.parse("fd00::/8");
        assertTrue(v6.contains(InetAddress.getByName("fdab::1")));
        assertFalse(v6.contains(InetAddress.getByName("fe80::1")));
        assertTrue(IpRange.parse("192.168.1.0/23").contains(InetAddress.getByName("192.168.0.200")));
        assertTrue(IpRange.parse("0.0.0.0/0").contains(InetAddress.getByName("8.8.8.8")));
        for (String bad : new String[]{"10.0.0.0/33", "300.1.1.1", "example.com", "10.0.0.0/x", "", "fd00::/129"}) {
            assertThrows(IllegalArgumentException.class, () -> IpRange.parse(bad), bad);
        }
    }
}
