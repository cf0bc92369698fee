package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.AuthStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The web console's sessions over real HTTP: the cookie, CSRF and Origin checks, the project, sign-out. */
class ConsoleSessionTest {
    @TempDir
    Path dataDir;
    private TuneforgeServer server;
    private final HttpClient client = HttpClient.newHttpClient();
    private String origin;

    @BeforeEach
    void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        origin = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> send(HttpRequest.Builder b) throws Exception {
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(origin + path));
    }

    private HttpResponse<String> signIn(AuthStore.ClientCredentials c, String fromOrigin) throws Exception {
        String form = "client_id=" + URLEncoder.encode(c.clientId(), StandardCharsets.UTF_8) + "&client_secret="
                + URLEncoder.encode(c.clientSecret(), StandardCharsets.UTF_8);
        return send(request("/console/session").header("Content-Type", "application/x-www-form-urlencoded")
                .header("Origin", fromOrigin).POST(HttpRequest.BodyPublishers.ofString(form)));
    }

    private static String cookie(HttpResponse<String> signedIn) {
        String setCookie = signedIn.headers().firstValue("Set-Cookie").orElseThrow();
        return setCookie.substring(0, setCookie.indexOf(';'));
    }

    @Test
    void aSessionActsAsItsClientWithCsrfOnEveryStateChangingCallAndEndsAtSignOut() throws Exception {
        AuthStore store = server.auth().store();
        AuthStore.ClientCredentials c = store.createClient("alpha");
        HttpResponse<String> signedIn = signIn(c, origin);
        assertEquals(200, signedIn.statusCode(), signedIn.body());
        String setCookie = signedIn.headers().firstValue("Set-Cookie").orElseThrow();
        assertTrue(setCookie.startsWith("tuneforge_console="), setCookie);
        assertTrue(setCookie.contains("; HttpOnly") && setCookie.contains("; SameSite=Strict")
                && setCookie.matches(".*; Max-Age=3[56]\\d\\d;.*"), setCookie);
        assertFalse(setCookie.contains("Secure"), "no Secure flag over plain HTTP: " + setCookie);
        assertEquals("no-store", signedIn.headers().firstValue("Cache-Control").orElse(""));
        JsonNode session = GoogleJson.MAPPER.readTree(signedIn.body());
        assertEquals("[\"alpha\"]", session.get("projects").toString());
        assertFalse(signedIn.body().contains(c.clientSecret()) || signedIn.body().contains("eyJ"),
                "neither the secret nor the access token reaches the browser");
        String csrf = session.get("csrfToken").asText();
        String cookie = cookie(signedIn);

        HttpResponse<String> list = send(request("/v1beta/tunedModels").header("Cookie", cookie));
        assertEquals(200, list.statusCode(), list.body());

        String keyBody = "{\"displayName\":\"k\"}";
        HttpResponse<String> noToken = send(request("/v1beta/apiKeys").header("Cookie", cookie)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(keyBody)));
        assertEquals(403, noToken.statusCode(), noToken.body());
        assertTrue(noToken.body().contains("X-CSRF-Token"), noToken.body());
        HttpResponse<String> wrongToken = send(request("/v1beta/apiKeys").header("Cookie", cookie)
                .header("X-CSRF-Token", csrf + "x").POST(HttpRequest.BodyPublishers.ofString(keyBody)));
        assertEquals(403, wrongToken.statusCode(), wrongToken.body());
        HttpResponse<String> otherOrigin = send(request("/v1beta/apiKeys").header("Cookie", cookie)
                .header("X-CSRF-Token", csrf).header("Origin", "http://evil.example")
                .POST(HttpRequest.BodyPublishers.ofString(keyBody)));
        assertEquals(403, otherOrigin.statusCode(), otherOrigin.body());
        HttpResponse<String> crossSite = send(request("/v1beta/apiKeys").header("Cookie", cookie)
                .header("X-CSRF-Token", csrf).header("Sec-Fetch-Site", "cross-site")
                .POST(HttpRequest.BodyPublishers.ofString(keyBody)));
        assertEquals(403, crossSite.statusCode(), crossSite.body());
        assertEquals(0, store.listApiKeys("alpha").size(), "no refused call stored anything");

        HttpResponse<String> created = send(request("/v1beta/apiKeys").header("Cookie", cookie)
                .header("X-CSRF-Token", csrf).header("Origin", origin).POST(HttpRequest.BodyPublishers.ofString(keyBody)));
        assertEquals(200, created.statusCode(), created.body());
        assertEquals(1, store.listApiKeys("alpha").size());

        HttpResponse<String> otherProject = send(request("/v1beta/tunedModels").header("Cookie", cookie)
                .header("x-goog-user-project", "beta"));
        assertEquals(403, otherProject.statusCode(), "a session gains no project its client lacks: " + otherProject.body());

        HttpResponse<String> signOutWithoutCsrf = send(request("/console/session").header("Cookie", cookie).DELETE());
        assertEquals(403, signOutWithoutCsrf.statusCode(), signOutWithoutCsrf.body());
        HttpResponse<String> signedOut = send(request("/console/session").header("Cookie", cookie)
                .header("X-CSRF-Token", csrf).header("Origin", origin).DELETE());
        assertEquals(204, signedOut.statusCode(), signedOut.body());
        assertTrue(signedOut.headers().firstValue("Set-Cookie").orElse("").contains("Max-Age=0"));
        HttpResponse<String> after = send(request("/v1beta/tunedModels").header("Cookie", cookie));
        assertEquals(401, after.statusCode(), after.body());
        assertEquals(401, send(request("/console/session").header("Cookie", cookie)).statusCode());
    }

    @Test
    void signInRefusesAnotherOriginAndWrongSecretsAndAClientInSeveralProjectsCanSwitch() throws Exception {
        AuthStore store = server.auth().store();
        AuthStore.ClientCredentials c = store.createClient("alpha");
        HttpResponse<String> foreign = signIn(c, "http://evil.example");
        assertEquals(403, foreign.statusCode(), foreign.body());
        assertTrue(foreign.headers().firstValue("Set-Cookie").isEmpty());
        HttpResponse<String> wrong = signIn(new AuthStore.ClientCredentials(c.clientId(), c.clientSecret() + "x"), origin);
        assertEquals(401, wrong.statusCode(), wrong.body());
        assertEquals("invalid_client", GoogleJson.MAPPER.readTree(wrong.body()).get("error").asText());
        assertTrue(wrong.headers().firstValue("Set-Cookie").isEmpty());

        store.addClientToProject(c.clientId(), "beta");
        HttpResponse<String> signedIn = signIn(c, origin);
        assertEquals("[\"alpha\",\"beta\"]", GoogleJson.MAPPER.readTree(signedIn.body()).get("projects").toString());
        HttpResponse<String> inBeta = send(request("/v1beta/apiKeys").header("Cookie", cookie(signedIn))
                .header("x-goog-user-project", "beta"));
        assertEquals(200, inBeta.statusCode(), inBeta.body());
    }

    @Test
    void theConsoleIsServedWithItsOwnPolicyAndTheRootRedirectsToIt() throws Exception {
        HttpResponse<String> root = send(request("/"));
        assertEquals(302, root.statusCode());
        assertEquals("/console", root.headers().firstValue("Location").orElse(""));
        HttpResponse<String> page = send(request("/console"));
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("/console/app.js"), page.body());
        assertEquals(SecurityHeaders.CONSOLE_CONTENT_SECURITY_POLICY, page.headers().firstValue("Content-Security-Policy").orElse(""));
        HttpResponse<String> script = send(request("/console/app.js"));
        assertEquals(200, script.statusCode());
        assertTrue(script.headers().firstValue("Content-Type").orElse("").contains("javascript"));
        HttpResponse<String> chart = send(request("/webjars/uplot/1.6.30/dist/uPlot.esm.js"));
        assertEquals(200, chart.statusCode(), "uPlot is served from its WebJar");
        assertEquals(SecurityHeaders.API_CONTENT_SECURITY_POLICY,
                send(request("/v1beta/models")).headers().firstValue("Content-Security-Policy").orElse(""));
    }
}
