package dev.tuneforge.api;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.AuthException;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.OAuthClient;
import dev.tuneforge.tuning.TuningRequestParser;
import dev.tuneforge.tuning.TuningService;
import io.javalin.Javalin;
import io.javalin.config.JavalinConfig;
import io.javalin.http.Context;
import io.javalin.http.staticfiles.Location;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The web console: its page and assets (from the classpath, uPlot from its WebJar; nothing from elsewhere), and its
 * sessions. Signing in exchanges an OAuth client's id and secret, server-side, for a session ({@link ConsoleSessions})
 * whose id travels only in an HttpOnly, SameSite=Strict cookie (Secure, and named {@code __Host-...}, over TLS). The
 * console then calls the same {@code /v1*} API as everyone: {@link #authorization} turns the cookie into the session's
 * bearer token, and refuses a state-changing call that lacks the session's CSRF token in {@code X-CSRF-Token} or comes
 * from another origin (Origin, Sec-Fetch-Site).
 */
final class ConsoleRoutes {
    static final String CSRF_HEADER = "X-CSRF-Token";
    private static final Set<String> SAFE_METHODS = Set.of("GET", "HEAD", "OPTIONS");
    private final Authenticator auth;
    private final HttpSettings http;
    private final Supplier<String> publicBaseUrl;
    private final ClientAuthentication clients;
    private final ConsoleSessions sessions;
    private final ConsoleOidcLogin oidc;

    ConsoleRoutes(Authenticator auth, HttpSettings http, Supplier<String> publicBaseUrl, ConsoleOidcSettings oidc) {
        this.auth = auth;
        this.http = http;
        this.publicBaseUrl = publicBaseUrl;
        this.clients = new ClientAuthentication(auth.store(), auth.throttle());
        this.sessions = new ConsoleSessions(auth.tokens(), Clock.systemUTC());
        this.oidc = oidc == null ? null : new ConsoleOidcLogin(oidc, auth.tokens(), sessions, publicBaseUrl);
    }

    /** The console's assets: {@code /console/*} from the classpath's {@code console/}, and WebJars at /webjars. */
    static void configure(JavalinConfig config) {
        config.staticFiles.add(files -> {
            files.hostedPath = "/console";
            files.directory = "/console";
            files.location = Location.CLASSPATH;
        });
        config.staticFiles.enableWebjars();
    }

    void register(Javalin app) {
        app.get("/", ctx -> ctx.redirect("/console"));
        app.get("/console", ConsoleRoutes::page);
        app.get("/console/settings", this::settings);
        app.post("/console/session", this::signIn);
        app.get("/console/session", ctx -> ctx.json(sessionJson(requireSession(ctx))));
        app.delete("/console/session", this::signOut);
        if (oidc != null) {
            app.get("/console/oidc/start", ctx -> oidc.start(ctx, secure()));
            app.get("/console/oidc/callback", ctx -> {
                ConsoleSessions.Opened opened = oidc.callback(ctx);
                setCookie(ctx, opened.id(), Math.max(0, Duration.between(Instant.now(), opened.session().expireTime()).toSeconds()));
                ctx.redirect("/console");
            });
        }
    }

    /**
     * The Authorization header a {@code /v1*} request stands for: its own when it has one; else, with no API key, its
     * console session's token, once a state-changing call has passed the CSRF checks; null without credentials.
     */
    String authorization(Context ctx) {
        String header = ctx.header("Authorization");
        if (header != null && !header.isBlank()) {
            return header;
        }
        if (present(ctx.header("x-goog-api-key")) || present(ctx.queryParam("key")) || ctx.cookie(cookieName()) == null) {
            return null;
        }
        ConsoleSessions.Session session = requireSession(ctx);
        if (!SAFE_METHODS.contains(ctx.method().name())) {
            requireSameOrigin(ctx);
            if (!ConsoleSessions.csrfMatches(session, ctx.header(CSRF_HEADER))) {
                throw AuthException.denied("the console session's CSRF token is missing or wrong: a state-changing "
                        + "call with the session cookie needs the header " + CSRF_HEADER);
            }
        }
        return "Bearer " + session.accessToken();
    }

    private static void page(Context ctx) throws IOException {
        try (InputStream in = ConsoleRoutes.class.getResourceAsStream("/console/index.html")) {
            if (in == null) {
                throw new IllegalStateException("console/index.html is missing from the classpath");
            }
            ctx.contentType("text/html; charset=utf-8").result(in.readAllBytes());
        }
    }

    /** The server's limits and defaults, which the Tune page checks rows and fills hyperparameters with. */
    private void settings(Context ctx) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("maxInputChars", TuningRequestParser.MAX_INPUT_CHARS);
        n.put("maxOutputChars", TuningRequestParser.MAX_OUTPUT_CHARS);
        n.put("maxExamples", TuningRequestParser.MAX_EXAMPLES);
        n.put("defaultEpochCount", TuningRequestParser.DEFAULT_EPOCH_COUNT);
        n.put("defaultBatchSize", TuningRequestParser.DEFAULT_BATCH_SIZE);
        n.put("defaultLearningRate", TuningService.DEFAULT_LEARNING_RATE);
        n.put("maxTuningBodyBytes", http.maxTuningBodyBytes());
        n.put("externalSignIn", oidc != null);
        ctx.json(n);
    }

    private void signIn(Context ctx) {
        requireSameOrigin(ctx);
        if (ctx.header("Origin") == null) {
            throw AuthException.denied("signing in to the console needs the browser's Origin header");
        }
        OAuthClient client = clients.authenticate(ctx);
        ConsoleSessions.Opened opened = sessions.open(client);
        setCookie(ctx, opened.id(), Duration.between(Instant.now(), opened.session().expireTime()).toSeconds());
        ctx.json(sessionJson(opened.session()));
    }

    private void signOut(Context ctx) {
        String id = ctx.cookie(cookieName());
        if (id != null) {
            sessions.find(id).ifPresent(s -> {
                requireSameOrigin(ctx);
                if (!ConsoleSessions.csrfMatches(s, ctx.header(CSRF_HEADER))) {
                    throw AuthException.denied("signing out needs the session's CSRF token in " + CSRF_HEADER);
                }
            });
            sessions.close(id);
        }
        setCookie(ctx, "", 0);
        ctx.status(204);
    }

    private ConsoleSessions.Session requireSession(Context ctx) {
        return sessions.find(ctx.cookie(cookieName())).orElseThrow(() -> AuthException.invalidToken(
                "the console session has ended (signed out or expired) or never existed: sign in again"));
    }

    private ObjectNode sessionJson(ConsoleSessions.Session s) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode();
        n.put("clientId", s.clientId());
        n.put("csrfToken", s.csrfToken());
        n.put("expireTime", s.expireTime().toString());
        n.set("projects", projects(auth.tokens().verify(s.accessToken()).projects()));
        return n;
    }

    private static com.fasterxml.jackson.databind.node.ArrayNode projects(Set<String> projects) {
        var arr = GoogleJson.MAPPER.createArrayNode();
        projects.stream().sorted().forEach(arr::add);
        return arr;
    }

    /** Refuses a request another site's page sent: its Origin must be this server's, Sec-Fetch-Site same-origin. */
    private void requireSameOrigin(Context ctx) {
        String origin = ctx.header("Origin");
        if (origin != null && !origin.equals(ownOrigin(ctx)) && !origin.equals(originOf(publicBaseUrl.get()))) {
            throw AuthException.denied("the request comes from another origin (" + origin + "); the console's calls "
                    + "must come from its own pages");
        }
        String site = ctx.header("Sec-Fetch-Site");
        if (site != null && !site.equals("same-origin")) {
            throw AuthException.denied("the request comes from another site (Sec-Fetch-Site: " + site + ")");
        }
    }

    private static String ownOrigin(Context ctx) {
        return ctx.scheme() + "://" + ctx.host();
    }

    private static String originOf(String url) {
        if (url == null) {
            return null;
        }
        URI u = URI.create(url);
        return u.getScheme() + "://" + u.getRawAuthority();
    }

    private boolean secure() {
        return http.servesTls();
    }

    /** {@code __Host-} (Secure, host-only, Path=/) over TLS; a plain name over HTTP, where Secure cannot be set. */
    String cookieName() {
        return secure() ? "__Host-tuneforge_console" : "tuneforge_console";
    }

    private void setCookie(Context ctx, String value, long maxAgeSeconds) {
        ctx.header("Set-Cookie", cookieName() + "=" + value + "; Path=/; Max-Age=" + Math.max(0, maxAgeSeconds)
                + "; HttpOnly; SameSite=Strict" + (secure() ? "; Secure" : ""));
    }

    private static boolean present(String s) {
        return s != null && !s.isBlank();
    }
}
