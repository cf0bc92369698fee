package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.AuthException;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.Caller;
import dev.tuneforge.auth.Scopes;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;
import dev.tuneforge.tuning.TuningRequestParser;
import dev.tuneforge.tuning.TuningService;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.eclipse.jetty.http.BadMessageException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Base64;
import java.util.List;
import java.util.UUID;

/**
 * The Gemini API tuning surface over HTTP (Javalin): models, tunedModels, their operations, generateContent,
 * streamGenerateContent and countTokens, under both /v1beta and /v1, with Google's JSON and error conventions.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);
    private static final String CALLER = "caller";
    private final TuningService tuning;
    private final BaseModelCatalog catalog;
    private final Authenticator auth;
    private final HttpSettings http;
    private final JettySetup jetty;
    private final Javalin app;
    private volatile String publicBaseUrl;

    public ApiServer(TuningService tuning, Authenticator auth, HttpSettings http) {
        this.tuning = tuning;
        this.catalog = tuning.catalog();
        this.auth = auth;
        this.http = http;
        this.jetty = new JettySetup(http);
        this.app = Javalin.create(config -> {
            config.useVirtualThreads = true;
            config.showJavalinBanner = false;
            config.router.ignoreTrailingSlashes = true;
            jetty.configure(config);
        });
        routes();
    }

    public ApiServer start(String host, int port) {
        jetty.listenOn(host, port);
        app.start();
        publicBaseUrl = http.publicBaseUrl() != null ? http.publicBaseUrl()
                : PublicBaseUrl.derive(host, port(), http.servesTls());
        return this;
    }

    public int port() {
        return app.port();
    }

    /** The URL clients reach the server at: configured, else derived from where it listens. */
    public String publicBaseUrl() {
        return publicBaseUrl;
    }

    @Override
    public void close() {
        app.stop();
    }

    private void routes() {
        app.before(ctx -> {
            String id = ctx.header("X-Request-Id");
            ctx.attribute("requestId", id != null && id.matches("[A-Za-z0-9._-]{1,64}") ? id : UUID.randomUUID().toString());
            ctx.attribute("started", System.nanoTime());
            ctx.header("X-Request-Id", ctx.attribute("requestId"));
        });
        app.after(ctx -> {
            Long started = ctx.attribute("started");
            LOG.info("request_id={} method={} path={} status={} duration_ms={}", ctx.<String>attribute("requestId"),
                    ctx.method(), ctx.path(), ctx.statusCode(),
                    started == null ? -1 : (System.nanoTime() - started) / 1_000_000);
        });
        app.before("/v1*", ctx -> ctx.attribute(CALLER, auth.authenticate(ctx.header("Authorization"),
                ctx.header("x-goog-api-key"), ctx.queryParam("key"))));
        new OAuthRoutes(auth, this::publicBaseUrl).register(app);
        app.get("/healthz", ctx -> ctx.json(GoogleJson.MAPPER.createObjectNode().put("status", "ok")));
        app.get("/readyz", ctx -> ctx.json(GoogleJson.MAPPER.createObjectNode().put("status", "ready")
                .put("tunedModels", tuning.store().count())));
        for (String v : List.of("v1beta", "v1")) {
            String base = "/" + v;
            app.get(base + "/models", this::listModels);
            app.get(base + "/models/{model}", this::getModel);
            app.post(base + "/models/{model}", this::modelMethod);
            app.get(base + "/tunedModels", this::listTunedModels);
            app.post(base + "/tunedModels", this::createTunedModel);
            app.get(base + "/tunedModels/{id}", this::getTunedModel);
            app.patch(base + "/tunedModels/{id}", this::patchTunedModel);
            app.delete(base + "/tunedModels/{id}", this::deleteTunedModel);
            app.post(base + "/tunedModels/{id}", this::tunedModelMethod);
            app.get(base + "/tunedModels/{id}/operations", this::listOperations);
            app.get(base + "/tunedModels/{id}/operations/{op}", this::getOperation);
            app.post(base + "/tunedModels/{id}/operations/{op}", this::operationMethod);
            app.post(base + "/apiKeys", this::createApiKey);
            app.get(base + "/apiKeys", this::listApiKeys);
            app.delete(base + "/apiKeys/{id}", this::revokeApiKey);
        }
        app.exception(ServiceException.class, (e, ctx) -> error(ctx, e.code(), e.getMessage()));
        app.exception(HttpResponseException.class, (e, ctx) -> {
            Code code = switch (e.getStatus()) {
                case 413 -> Code.INVALID_ARGUMENT;
                case 404 -> Code.NOT_FOUND;
                case 405 -> Code.NOT_FOUND;
                default -> e.getStatus() >= 500 ? Code.INTERNAL : Code.INVALID_ARGUMENT;
            };
            error(ctx, code, e.getStatus() == 413 ? "request payload size exceeds the limit: "
                    + Math.max(http.maxBodyBytes(), http.maxTuningBodyBytes()) + " bytes" : e.getMessage());
        });
        // a body over its limit or malformed (a bad chunk), met by a handler reading it with ctx.body()
        app.exception(PayloadTooLargeException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT, e.getMessage()));
        app.exception(BadMessageException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT,
                e.getReason() == null ? "malformed request" : e.getReason()));
        app.exception(IllegalArgumentException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT, e.getMessage()));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request_id={} failed", ctx.<String>attribute("requestId"), e);
            error(ctx, Code.INTERNAL, "internal error (request id " + ctx.<String>attribute("requestId") + ")");
        });
        app.error(404, ctx -> {
            String result = ctx.result();
            if (result == null || !result.contains("\"error\"")) {
                error(ctx, Code.NOT_FOUND, "no such method: " + ctx.method() + " " + ctx.path());
            }
        });
        app.error(405, ctx -> error(ctx, Code.NOT_FOUND, "no such method: " + ctx.method() + " " + ctx.path()));
        // Javalin answers a body that breaks off (a bad chunk, a client gone) and a java.lang.Error with a bare status
        app.error(400, ctx -> errorIfEmpty(ctx, Code.INVALID_ARGUMENT, "the request body could not be read"));
        app.error(500, ctx -> errorIfEmpty(ctx, Code.INTERNAL, "internal error (request id "
                + ctx.<String>attribute("requestId") + ")"));
    }

    static void error(Context ctx, Code code, String message) {
        ctx.status(code.httpStatus()).contentType("application/json")
                .result(GoogleError.json(code.httpStatus(), code.name(), message));
    }

    private static void errorIfEmpty(Context ctx, Code code, String message) {
        if (ctx.result() == null && !ctx.res().isCommitted()) {
            error(ctx, code, message);
        }
    }

    /** Any valid credentials: an access token or an API key. */
    private static Caller requireCaller(Context ctx) {
        Caller caller = ctx.attribute(CALLER);
        if (caller == null) {
            throw AuthException.unauthenticated("the request has no credentials: send 'Authorization: Bearer <access "
                    + "token>' or an API key (x-goog-api-key header or key parameter)");
        }
        return caller;
    }

    /** An OAuth 2.0 access token with a tuning scope, as tuning calls need. */
    private static Caller requireTuning(Context ctx) {
        Caller caller = requireCaller(ctx);
        if (caller.apiKey()) {
            throw AuthException.unauthenticated("API keys cannot be used for tuning calls; use an OAuth 2.0 access token "
                    + "with scope " + Scopes.TUNING);
        }
        if (!caller.canTune()) {
            throw AuthException.denied("request had insufficient authentication scopes: tuning needs " + Scopes.TUNING
                    + " or " + Scopes.CLOUD_PLATFORM);
        }
        return caller;
    }

    /** The project a call acts for: x-goog-user-project, which must be one of the caller's, else its only one. */
    private static String project(Context ctx) {
        Caller caller = requireCaller(ctx);
        String p = ctx.header("x-goog-user-project");
        if (p != null && !p.isBlank()) {
            if (!caller.projects().contains(p.trim())) {
                throw AuthException.denied("the caller has no access to project '" + p.trim() + "'");
            }
            return p.trim();
        }
        if (caller.projects().size() == 1) {
            return caller.projects().iterator().next();
        }
        if (caller.projects().isEmpty()) {
            throw AuthException.denied("the caller belongs to no project");
        }
        throw new InvalidRequestException("x-goog-user-project is required: the caller belongs to several projects");
    }

    // ---- models

    private void listModels(Context ctx) {
        requireCaller(ctx);
        Page page = Page.of(ctx);
        List<String> ids = catalog.ids();
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode arr = out.putArray("models");
        ids.stream().skip(page.offset()).limit(page.size()).forEach(id -> arr.add(Resources.model(id, catalog)));
        if (page.offset() + page.size() < ids.size()) {
            out.put("nextPageToken", Page.token(page.offset() + page.size()));
        }
        ctx.json(out);
    }

    private void getModel(Context ctx) {
        requireCaller(ctx);
        String id = ctx.pathParam("model");
        if (catalog.resolve(id) == null) {
            throw new ServiceException(Code.NOT_FOUND, "models/" + id + " not found");
        }
        ctx.json(Resources.model(id, catalog));
    }

    private void modelMethod(Context ctx) {
        requireCaller(ctx);
        String[] parts = splitMethod(ctx.pathParam("model"));
        BaseModelCatalog.Entry e = catalog.resolve(parts[0]);
        if (e == null) {
            throw new ServiceException(Code.NOT_FOUND, "models/" + parts[0] + " not found");
        }
        var gen = catalog.directory(e).generationConfig();
        GenerateContent.Target target = new GenerateContent.Target("models/" + parts[0], catalog.load(e), null,
                gen.hasNonNull("temperature") ? gen.get("temperature").asDouble() : null,
                gen.hasNonNull("top_p") ? gen.get("top_p").asDouble() : null,
                gen.hasNonNull("top_k") ? gen.get("top_k").asInt() : null);
        generationMethod(ctx, parts[1], target);
    }

    // ---- tuned models

    private TunedModelRecord visible(Context ctx, String id) {
        return tuning.store().get(id).filter(r -> r.project().equals(project(ctx)))
                .orElseThrow(() -> new ServiceException(Code.NOT_FOUND, "tunedModels/" + id + " not found"));
    }

    private void listTunedModels(Context ctx) {
        requireTuning(ctx);
        Page page = Page.of(ctx);
        TunedModelFilter filter = TunedModelFilter.parse(ctx.queryParam("filter"));
        List<TunedModelRecord> rows = tuning.store().list(project(ctx)).stream()
                .filter(filter::matches).skip(page.offset()).limit(page.size() + 1L).toList();
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode arr = out.putArray("tunedModels");
        rows.stream().limit(page.size()).forEach(r -> arr.add(Resources.tunedModel(r, tuning.store().snapshots(r.id()))));
        if (rows.size() > page.size()) {
            out.put("nextPageToken", Page.token(page.offset() + page.size()));
        }
        if (arr.isEmpty()) {
            out.remove("tunedModels");
        }
        ctx.json(out);
    }

    private void createTunedModel(Context ctx) {
        requireTuning(ctx);
        JsonNode body = RequestBodies.json(ctx);
        var request = TuningRequestParser.parse(body, ctx.queryParam("tunedModelId") != null
                ? ctx.queryParam("tunedModelId") : ctx.queryParam("tuned_model_id"));
        TunedModelRecord r = tuning.create(project(ctx), request);
        ctx.json(Resources.createdOperation(r));
    }

    private void getTunedModel(Context ctx) {
        String id = ctx.pathParam("id");
        if (id.contains(":")) {
            throw new ServiceException(Code.NOT_FOUND, "custom methods are called with POST: " + id);
        }
        requireCaller(ctx);
        TunedModelRecord r = visible(ctx, id);
        ctx.json(Resources.tunedModel(r, tuning.store().snapshots(r.id())));
    }

    private void patchTunedModel(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"));
        JsonNode body = RequestBodies.json(ctx);
        String mask = ctx.queryParam("updateMask") != null ? ctx.queryParam("updateMask") : ctx.queryParam("update_mask");
        if (mask == null || mask.isBlank()) {
            throw new InvalidRequestException("update_mask is required (displayName, description, temperature, topP, topK)");
        }
        String displayName = r.displayName();
        String description = r.description();
        Double temperature = r.temperature();
        Double topP = r.topP();
        Integer topK = r.topK();
        for (String raw : mask.split(",")) {
            String f = GoogleJson.toCamel(raw.trim());
            switch (f) {
                case "displayName" -> displayName = textOrNull(body, "displayName", "display_name");
                case "description" -> description = textOrNull(body, "description", "description");
                case "temperature" -> temperature = numberOrNull(body, "temperature", 0, 2);
                case "topP" -> topP = numberOrNull(body, "topP", 0, 1);
                case "topK" -> {
                    Double k = numberOrNull(body, "topK", 1, 1000);
                    topK = k == null ? null : k.intValue();
                }
                default -> throw new InvalidRequestException("update_mask field '" + raw.trim()
                        + "' cannot be updated (displayName, description, temperature, topP, topK)");
            }
        }
        tuning.store().patch(r.id(), displayName, description, temperature, topP, topK, Instant.now().toString());
        TunedModelRecord updated = visible(ctx, r.id());
        ctx.json(Resources.tunedModel(updated, tuning.store().snapshots(r.id())));
    }

    private void deleteTunedModel(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"));
        tuning.delete(r.id());
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    private void tunedModelMethod(Context ctx) {
        requireCaller(ctx);
        String[] parts = splitMethod(ctx.pathParam("id"));
        TunedModelRecord r = visible(ctx, parts[0]);
        if (r.state() != TunedModelRecord.State.ACTIVE) {
            throw new ServiceException(Code.FAILED_PRECONDITION, r.name() + " is " + r.state()
                    + "; it can be used once it is ACTIVE");
        }
        GenerateContent.Target target = new GenerateContent.Target(r.name(), tuning.baseOf(r), tuning.adapter(r),
                r.temperature(), r.topP(), r.topK());
        generationMethod(ctx, parts[1], target);
    }

    // ---- operations

    private void listOperations(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"));
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        out.putArray("operations").add(Resources.operation(r, tuning.store().snapshots(r.id())));
        ctx.json(out);
    }

    private void getOperation(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"));
        if (!r.operationId().equals(ctx.pathParam("op"))) {
            throw new ServiceException(Code.NOT_FOUND, r.name() + "/operations/" + ctx.pathParam("op") + " not found");
        }
        ctx.json(Resources.operation(r, tuning.store().snapshots(r.id())));
    }

    private void operationMethod(Context ctx) {
        requireTuning(ctx);
        String[] parts = splitMethod(ctx.pathParam("op"));
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"));
        if (!r.operationId().equals(parts[0])) {
            throw new ServiceException(Code.NOT_FOUND, r.name() + "/operations/" + parts[0] + " not found");
        }
        if (!parts[1].equals("cancel")) {
            throw new ServiceException(Code.NOT_FOUND, "no such method: operations:" + parts[1]);
        }
        if (!r.done()) {
            tuning.cancel(r.id());
        }
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    // ---- API keys (created by an authorized caller, shown once, stored as hashes)

    private void createApiKey(Context ctx) {
        Caller caller = requireTuning(ctx);
        String project = project(ctx);
        JsonNode body = RequestBodies.json(ctx);
        String displayName = body.path("displayName").isTextual() ? body.get("displayName").asText() : null;
        String[] created = auth.store().createApiKey(project, displayName, caller.subject());
        ObjectNode out = apiKeyJson(created[0], project, displayName);
        out.put("keyString", created[1]);
        ctx.json(out);
    }

    private void listApiKeys(Context ctx) {
        requireTuning(ctx);
        String project = project(ctx);
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode keys = out.putArray("keys");
        for (AuthStore.ApiKey k : auth.store().listApiKeys(project)) {
            ObjectNode n = apiKeyJson(k.id(), k.project(), k.displayName());
            n.put("createTime", k.createTime());
            if (k.revokeTime() != null) {
                n.put("revokeTime", k.revokeTime());
            }
            keys.add(n);
        }
        ctx.json(out);
    }

    private void revokeApiKey(Context ctx) {
        requireTuning(ctx);
        if (!auth.store().revokeApiKey(project(ctx), ctx.pathParam("id"))) {
            throw new ServiceException(Code.NOT_FOUND, "apiKeys/" + ctx.pathParam("id") + " not found or already revoked");
        }
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    private static ObjectNode apiKeyJson(String id, String project, String displayName) {
        ObjectNode n = GoogleJson.MAPPER.createObjectNode().put("name", "apiKeys/" + id).put("project", project);
        if (displayName != null) {
            n.put("displayName", displayName);
        }
        return n;
    }

    // ---- generation

    private void generationMethod(Context ctx, String method, GenerateContent.Target target) {
        JsonNode body = RequestBodies.json(ctx);
        switch (method) {
            case "generateContent" -> {
                String input = GenerateContent.inputText(body, target.tuned());
                GenerationOptions options = GenerateContent.options(body, target);
                GenerationResult result = GenerateContent.run(target, input, options, t -> { });
                ctx.json(GenerateContent.response(target, result.text(), result));
            }
            case "streamGenerateContent" -> stream(ctx, body, target);
            case "countTokens" -> {
                String input = GenerateContent.inputText(body, target.tuned());
                ctx.json(GoogleJson.MAPPER.createObjectNode().put("totalTokens", GenerateContent.countTokens(target, input)));
            }
            default -> throw new ServiceException(Code.NOT_FOUND, "no such method: " + method
                    + " (generateContent, streamGenerateContent, countTokens)");
        }
    }

    private void stream(Context ctx, JsonNode body, GenerateContent.Target target) {
        String input = GenerateContent.inputText(body, target.tuned());
        GenerationOptions options = GenerateContent.options(body, target);
        boolean sse = "sse".equals(ctx.queryParam("alt"));
        ctx.status(200);
        ctx.res().setContentType(sse ? "text/event-stream" : "application/json");
        ctx.res().setCharacterEncoding("UTF-8");
        try {
            OutputStream out = ctx.res().getOutputStream();
            boolean[] first = {true};
            StringBuilder pending = new StringBuilder();
            java.util.function.Consumer<ObjectNode> emit = chunk -> {
                String json = chunk.toString();
                String framed = sse ? "data: " + json + "\r\n\r\n" : (first[0] ? "[" : ",\r\n") + json;
                first[0] = false;
                try {
                    out.write(framed.getBytes(StandardCharsets.UTF_8));
                    out.flush();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            };
            GenerationResult result = GenerateContent.run(target, input, options, piece -> {
                if (pending.length() > 0) {
                    emit.accept(GenerateContent.chunk(target, pending.toString()));
                    pending.setLength(0);
                }
                pending.append(piece);
            });
            emit.accept(GenerateContent.response(target, pending.toString(), result));
            if (!sse) {
                out.write("]".getBytes(StandardCharsets.UTF_8));
            }
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String[] splitMethod(String segment) {
        int colon = segment.lastIndexOf(':');
        if (colon < 0) {
            throw new ServiceException(Code.NOT_FOUND, "no method in '" + segment + "' (expected name:method)");
        }
        return new String[]{segment.substring(0, colon), segment.substring(colon + 1)};
    }

    private static String textOrNull(JsonNode body, String field, String path) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new InvalidRequestException(path + " must be a string");
        }
        return v.asText();
    }

    private static Double numberOrNull(JsonNode body, String field, double min, double max) {
        JsonNode v = body.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max) {
            throw new InvalidRequestException(field + " must be a number between " + min + " and " + max + ", got " + v);
        }
        return v.asDouble();
    }

    /** pageSize / pageToken of list calls; tokens are opaque offsets. */
    record Page(int offset, int size) {
        static Page of(Context ctx) {
            String sizeParam = ctx.queryParam("pageSize") != null ? ctx.queryParam("pageSize") : ctx.queryParam("page_size");
            String token = ctx.queryParam("pageToken") != null ? ctx.queryParam("pageToken") : ctx.queryParam("page_token");
            int size = 50;
            if (sizeParam != null) {
                try {
                    size = Integer.parseInt(sizeParam);
                } catch (NumberFormatException e) {
                    throw new InvalidRequestException("page_size must be an integer, got '" + sizeParam + "'");
                }
                if (size < 0) {
                    throw new InvalidRequestException("page_size must not be negative");
                }
                size = size == 0 ? 50 : Math.min(size, 1000);
            }
            int offset = 0;
            if (token != null && !token.isEmpty()) {
                try {
                    String decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
                    if (!decoded.startsWith("o:")) {
                        throw new IllegalArgumentException();
                    }
                    offset = Integer.parseInt(decoded.substring(2));
                } catch (IllegalArgumentException e) {
                    throw new InvalidRequestException("page_token is not a token this server issued");
                }
            }
            return new Page(offset, size);
        }

        static String token(int offset) {
            return Base64.getUrlEncoder().withoutPadding().encodeToString(("o:" + offset).getBytes(StandardCharsets.UTF_8));
        }
    }
}
