package dev.tuneforge.api;

import com.sun.net.httpserver.HttpServer;
import dev.tuneforge.auth.Scopes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Console sign-in through an external OpenID Connect issuer: the authorization-code flow with PKCE against a real
 * (test) issuer on a random port, whose token endpoint checks the code verifier against the challenge.
 */
class ConsoleOidcLoginTest {
    @TempDir
    Path dataDir;
    private TestIssuer issuer;
    private HttpServer idp;
    private TuneforgeServer server;
    private String base;
    private final Map<String, String> challengeByCode = new ConcurrentHashMap<>();
    private final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void start() throws Exception {
        issuer = new TestIssuer();
        idp = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        idp.createContext("/authorize", ex -> {
            Map<String, String> q = query(ex.getRequestURI().getRawQuery());
            String code = "code-" + challengeByCode.size();
            if ("S256".equals(q.get("code_challenge_method"))) {
                challengeByCode.put(code, q.get("code_challenge"));
            }
            ex.getResponseHeaders().add("Location", q.get("redirect_uri") + "?code=" + code + "&state=" + q.get("state"));
            ex.sendResponseHeaders(302, -1);
            ex.close();
        });
        idp.createContext("/token", ex -> {
            Map<String, String> f = query(new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            String challenge = challengeByCode.remove(f.getOrDefault("code", ""));
            String body;
            int status;
            if (challenge != null && challenge.equals(s256(f.get("code_verifier"))) && "console".equals(f.get("client_id"))) {
                status = 200;
                body = "{\"access_token\":\"" + issuer.token("alice", List.of("alpha"), Scopes.TUNING, Map.of())
                        + "\",\"token_type\":\"Bearer\"}";
            } else {
                status = 400;
                body = "{\"error\":\"invalid_grant\"}";
            }
            byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length);
            ex.getResponseBody().write(bytes);
            ex.close();
        });
        idp.start();
        String idpBase = "http://127.0.0.1:" + idp.getAddress().getPort();
        ServerConfig config = ServerConfig.defaults(dataDir, Path.of(".")).withAuth(ServerConfig.Auth.defaults()
                .withExternal(issuer.config()).withConsoleLogin(new ConsoleOidcSettings(URI.create(idpBase + "/authorize"),
                        URI.create(idpBase + "/token"), "console", null, "openid email")));
        server = new TuneforgeServer(config).start("127.0.0.1", 0);
        base = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        idp.stop(0);
        issuer.close();
    }

    @Test
    void theAuthorizationCodeFlowWithPkceOpensASessionOnceAndOnlyForTheBrowserThatStartedIt() throws Exception {
        assertTrue(get(base + "/console/settings", null).body().contains("\"externalSignIn\":true"));
        HttpResponse<String> start = get(base + "/console/oidc/start", null);
        assertEquals(302, start.statusCode());
        String toIssuer = start.headers().firstValue("Location").orElseThrow();
        Map<String, String> q = query(URI.create(toIssuer).getRawQuery());
        assertEquals("S256", q.get("code_challenge_method"));
        assertEquals(base + "/console/oidc/callback", q.get("redirect_uri"));
        String stateCookie = cookie(start);
        assertTrue(start.headers().firstValue("Set-Cookie").orElseThrow().contains("HttpOnly"));

        String back = get(toIssuer, null).headers().firstValue("Location").orElseThrow();
        HttpResponse<String> otherBrowser = get(back, "tuneforge_console_login=someone-else");
        assertEquals(403, otherBrowser.statusCode(), "a callback without the starting browser's state is refused");

        HttpResponse<String> callback = get(back, stateCookie);
        assertEquals(302, callback.statusCode(), callback.body());
        assertEquals("/console", callback.headers().firstValue("Location").orElse(""));
        String session = callback.headers().allValues("Set-Cookie").stream()
                .filter(c -> c.startsWith("tuneforge_console=")).findFirst().orElseThrow();
        assertTrue(session.contains("HttpOnly") && session.contains("SameSite=Strict"), session);
        String sessionCookie = session.substring(0, session.indexOf(';'));
        HttpResponse<String> me = get(base + "/console/session", sessionCookie);
        assertEquals(200, me.statusCode(), me.body());
        assertTrue(me.body().contains("\"projects\":[\"alpha\"]"), me.body());
        assertEquals(200, get(base + "/v1beta/tunedModels", sessionCookie).statusCode());

        assertEquals(403, get(back, stateCookie).statusCode(), "a used state cannot open a second session");
    }

    @Test
    void aCodeTheIssuerWillNotExchangeOpensNoSession() throws Exception {
        HttpResponse<String> start = get(base + "/console/oidc/start", null);
        String toIssuer = start.headers().firstValue("Location").orElseThrow();
        String back = get(toIssuer, null).headers().firstValue("Location").orElseThrow();
        challengeByCode.clear();
        HttpResponse<String> callback = get(back, cookie(start));
        assertEquals(401, callback.statusCode(), callback.body());
        assertTrue(callback.body().contains("invalid_grant"), callback.body());
        assertTrue(callback.headers().allValues("Set-Cookie").stream().noneMatch(c -> c.startsWith("tuneforge_console=")));
    }

    private HttpResponse<String> get(String url, String cookie) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url));
        if (cookie != null) {
            b.header("Cookie", cookie);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String cookie(HttpResponse<String> r) {
        String c = r.headers().firstValue("Set-Cookie").orElseThrow();
        return c.substring(0, c.indexOf(';'));
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> out = new HashMap<>();
        if (raw == null) {
            return out;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                out.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    private static String s256(String verifier) {
        if (verifier == null) {
            return "";
        }
        try {
            return Base64.getUrlEncoder().withoutPadding().encodeToString(
                    MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII)));
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
