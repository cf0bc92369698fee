package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.auth.AuthException;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.Caller;
import dev.tuneforge.auth.Identities;
import dev.tuneforge.auth.Scopes;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.generate.ContinuousBatcher;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.store.StorageErrors;
import dev.tuneforge.store.TunedModelRecord;
import dev.tuneforge.tuning.DamagedModelException;
import dev.tuneforge.tuning.ErrorDetail;
import dev.tuneforge.tuning.InvalidRequestException;
import dev.tuneforge.tuning.PublicMessages;
import dev.tuneforge.tuning.ServiceException;
import dev.tuneforge.tuning.ServiceException.Code;
import dev.tuneforge.tuning.TunedModelPatch;
import dev.tuneforge.tuning.TuningRequestParser;
import dev.tuneforge.tuning.TuningService;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.javalin.http.HttpResponseException;
import org.eclipse.jetty.http.BadMessageException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
    private final GenerationEndpoint generationEndpoint;
    private final Readiness readiness;
    private final Quotas quotas;
    private final HttpSettings http;
    private final JettySetup jetty;
    private final Javalin app;
    private final ModelAccess access;
    private final PermissionRoutes permissions;
    private final ConsoleRoutes console;
    private volatile String publicBaseUrl;

    ApiServer(TuningService tuning, Authenticator auth, GenerationBatches generation, Readiness readiness,
              HttpSettings http, Quotas quotas, MetricsEndpoint metrics, ConsoleOidcSettings consoleLogin) {
        this.tuning = tuning;
        this.quotas = quotas;
        this.catalog = tuning.catalog();
        this.auth = auth;
        this.generationEndpoint = new GenerationEndpoint(generation);
        this.readiness = readiness;
        this.http = http;
        this.jetty = new JettySetup(http);
        this.access = new ModelAccess(tuning.store());
        this.permissions = new PermissionRoutes(access, tuning.store().permissions());
        this.console = new ConsoleRoutes(auth, http, this::publicBaseUrl, consoleLogin);
        this.app = Javalin.create(config -> {
            // platform threads: request handlers call JDBC (SQLite) and the tokenizer through JNI, and a virtual
            // thread that blocks inside a native frame pins its carrier (see ContinuousBatcher)
            config.useVirtualThreads = false;
            config.showJavalinBanner = false;
            config.router.ignoreTrailingSlashes = true;
            jetty.configure(config);
            ConsoleRoutes.configure(config);
        });
        metrics.register(app);
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
        app.before("/v1*", ctx -> ctx.attribute(CALLER, auth.authenticate(console.authorization(ctx),
                ctx.header("x-goog-api-key"), ctx.queryParam("key"))));
        new OAuthRoutes(auth, this::publicBaseUrl).register(app);
        console.register(app);
        app.get("/healthz", ctx -> ctx.json(GoogleJson.MAPPER.createObjectNode().put("status", "ok")));
        app.get("/readyz", this::readyz);
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
            permissions.register(app, base);
            app.post(base + "/apiKeys", this::createApiKey);
            app.get(base + "/apiKeys", this::listApiKeys);
            app.delete(base + "/apiKeys/{id}", this::revokeApiKey);
        }
        app.exception(DamagedModelException.class, (e, ctx) -> error(ctx, e.code(), e.getMessage() + " (request id "
                + ctx.<String>attribute("requestId") + ")"));
        app.exception(ServiceException.class, (e, ctx) -> {
            e.details().stream().filter(d -> d instanceof ErrorDetail.RetryInfo).findFirst().ifPresent(r ->
                    ctx.header("Retry-After", Long.toString(((ErrorDetail.RetryInfo) r).seconds())));
            error(ctx, e.code(), e.getMessage(), e.details());
        });
        app.exception(ContinuousBatcher.Busy.class, (e, ctx) -> {
            ctx.header("Retry-After", "1");
            error(ctx, Code.UNAVAILABLE, "the model is overloaded: " + e.getMessage() + "; retry later");
        });
        app.exception(HttpResponseException.class, (e, ctx) -> {
            Code code = Code.valueOf(GoogleError.statusOf(e.getStatus()));
            error(ctx, code, e.getStatus() == 413 ? "request payload size exceeds the limit: "
                    + Math.max(http.maxBodyBytes(), http.maxTuningBodyBytes()) + " bytes" : e.getMessage());
        });
        // a body over its limit or malformed (a bad chunk), met by a handler reading it with ctx.body()
        app.exception(PayloadTooLargeException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT, e.getMessage()));
        app.exception(BadMessageException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT,
                e.getReason() == null ? "malformed request" : e.getReason()));
        app.exception(IllegalArgumentException.class, (e, ctx) -> error(ctx, Code.INVALID_ARGUMENT, e.getMessage()));
        app.exception(org.jdbi.v3.core.JdbiException.class, (e, ctx) -> {
            if (!StorageErrors.unavailable(e)) {
                internalError(ctx, e);
                return;
            }
            LOG.warn("request_id={} the database is unavailable: {}", ctx.<String>attribute("requestId"),
                    PublicMessages.withoutPaths(e.getMessage()));
            ctx.header("Retry-After", "5");
            error(ctx, Code.UNAVAILABLE, "the database is unavailable; retry later (request id "
                    + ctx.<String>attribute("requestId") + ")");
        });
        app.exception(Exception.class, (e, ctx) -> internalError(ctx, e));
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

    private static void internalError(Context ctx, Exception e) {
        LOG.error("request_id={} failed", ctx.<String>attribute("requestId"), e);
        error(ctx, Code.INTERNAL, "internal error (request id " + ctx.<String>attribute("requestId") + ")");
    }

    private void readyz(Context ctx) {
        List<String> problems = readiness.problems();
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        if (problems.isEmpty()) {
            ctx.json(out.put("status", "ready"));
            return;
        }
        out.put("status", "not ready");
        problems.forEach(out.putArray("reasons")::add);
        ctx.status(503).json(out);
    }

    static void error(Context ctx, Code code, String message) {
        error(ctx, code, message, List.of());
    }

    static void error(Context ctx, Code code, String message, List<ErrorDetail> details) {
        ctx.status(code.httpStatus()).contentType("application/json").result(GoogleError.json(code.httpStatus(),
                code.name(), message, details, RpcMethods.of(ctx.method().name(), ctx.path())));
    }

    private static void errorIfEmpty(Context ctx, Code code, String message) {
        if (ctx.result() == null && !ctx.res().isCommitted()) {
            error(ctx, code, message);
        }
    }

    /** Any valid credentials: an access token or an API key. */
    static Caller requireCaller(Context ctx) {
        Caller caller = ctx.attribute(CALLER);
        if (caller == null) {
            throw AuthException.credentialsMissing("the request has no credentials: send 'Authorization: Bearer <access "
                    + "token>' or an API key (x-goog-api-key header or key parameter)");
        }
        return caller;
    }

    /** An OAuth 2.0 access token with a tuning scope, as tuning calls need. */
    static Caller requireTuning(Context ctx) {
        Caller caller = requireCaller(ctx);
        if (caller.apiKey()) {
            throw AuthException.credentialsMissing("API keys are not supported by this API: tuning calls need an "
                    + "OAuth 2.0 access token with scope " + Scopes.TUNING);
        }
        if (!caller.canTune()) {
            throw AuthException.scopeInsufficient("request had insufficient authentication scopes: tuning needs "
                    + Scopes.TUNING + " or " + Scopes.CLOUD_PLATFORM);
        }
        return caller;
    }

    /** The project a call acts for: x-goog-user-project, which must be one of the caller's, else its only one. */
    static String project(Context ctx) {
        Caller caller = requireCaller(ctx);
        String p = ctx.header("x-goog-user-project");
        if (p != null && !p.isBlank()) {
            if (!caller.projects().contains(p.trim())) {
                throw AuthException.userProjectDenied(p.trim(), "the caller has no access to project '" + p.trim() + "'");
            }
            return p.trim();
        }
        if (caller.projects().size() == 1) {
            return caller.projects().iterator().next();
        }
        if (caller.projects().isEmpty()) {
            throw AuthException.consumerInvalid("the caller belongs to no project");
        }
        throw new InvalidRequestException(null, "x-goog-user-project is required: the caller belongs to several projects");
    }

    // ---- models

    private void listModels(Context ctx) {
        requireCaller(ctx);
        List<String> ids = catalog.ids();
        int size = Page.size(ctx);
        int offset = Page.offset(ctx, ids.size());
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode arr = out.putArray("models");
        ids.stream().skip(offset).limit(size).forEach(id -> arr.add(Resources.model(id, catalog)));
        if (offset + size < ids.size()) {
            out.put("nextPageToken", Page.offsetToken(offset + size));
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

    /** The model {@code tunedModels/id} when the caller may do {@code action} with it ({@link ModelAccess}). */
    private TunedModelRecord visible(Context ctx, String id, ModelAccess.Action action) {
        return access.require(requireCaller(ctx), project(ctx), id, action).model();
    }

    private void listTunedModels(Context ctx) {
        requireTuning(ctx);
        int size = Page.size(ctx);
        String filterText = ctx.queryParam("filter");
        TunedModelFilter filter = TunedModelFilter.parse(filterText);
        TunedModelPageToken token = TunedModelPageToken.parse(Page.token(ctx), filterText);
        List<TunedModelRecord> rows = tuning.store().list(filter.access(Identities.principals(requireCaller(ctx),
                project(ctx))), filter.words(), token == null ? null : token.position(), size + 1);
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        ArrayNode arr = out.putArray("tunedModels");
        rows.stream().limit(size).forEach(r -> arr.add(Resources.tunedModel(r, tuning.store().snapshots(r.uid()))));
        if (rows.size() > size) {
            TunedModelRecord last = rows.get(size - 1);
            out.put("nextPageToken", new TunedModelPageToken(last.createTime(), last.id(), last.uid(), filterText).encode());
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
        if (request.sourceTunedModel() != null) {
            access.requireTuningSource(requireCaller(ctx), project(ctx), request.sourceTunedModel());
        }
        TunedModelRecord r = tuning.create(project(ctx), request);
        ctx.json(Resources.createdOperation(r));
    }

    private void getTunedModel(Context ctx) {
        String id = ctx.pathParam("id");
        if (id.contains(":")) {
            throw new ServiceException(Code.NOT_FOUND, "custom methods are called with POST: " + id);
        }
        requireCaller(ctx);
        TunedModelRecord r = visible(ctx, id, ModelAccess.Action.GET);
        ctx.json(Resources.tunedModel(r, tuning.store().snapshots(r.uid())));
    }

    private void patchTunedModel(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"), ModelAccess.Action.PATCH);
        JsonNode body = RequestBodies.json(ctx);
        String mask = ctx.queryParam("updateMask") != null ? ctx.queryParam("updateMask") : ctx.queryParam("update_mask");
        TunedModelPatch patched = TuningRequestParser.patch(body, mask, new TunedModelPatch(r.displayName(),
                r.description(), r.temperature(), r.topP(), r.topK()));
        tuning.store().patch(r.uid(), patched.displayName(), patched.description(), patched.temperature(),
                patched.topP(), patched.topK(), Instant.now().toString());
        TunedModelRecord updated = tuning.store().byUid(r.uid())
                .orElseThrow(() -> new ServiceException(Code.NOT_FOUND, r.name() + " not found"));
        ctx.json(Resources.tunedModel(updated, tuning.store().snapshots(r.uid())));
    }

    private void deleteTunedModel(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"), ModelAccess.Action.DELETE);
        tuning.delete(r);
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    private void tunedModelMethod(Context ctx) {
        requireCaller(ctx);
        String[] parts = splitMethod(ctx.pathParam("id"));
        if (parts[1].equals("cancel")) {
            // the Google GenAI SDKs' tunings.cancel posts to {job name}:cancel, and a job's name is its tuned model's
            requireTuning(ctx);
            cancel(visible(ctx, parts[0], ModelAccess.Action.CANCEL));
            ctx.json(GoogleJson.MAPPER.createObjectNode());
            return;
        }
        if (parts[1].equals("transferOwnership")) {
            permissions.transferOwnership(ctx, parts[0]);
            return;
        }
        TunedModelRecord r = visible(ctx, parts[0], ModelAccess.Action.USE);
        if (r.state() != TunedModelRecord.State.ACTIVE) {
            throw new ServiceException(Code.FAILED_PRECONDITION, r.name() + " is " + r.state()
                    + "; it can be used once it is ACTIVE");
        }
        var adapter = tuning.adapter(r);
        try {
            generationMethod(ctx, parts[1], new GenerateContent.Target(r.name(), tuning.baseOf(r), adapter,
                    r.temperature(), r.topP(), r.topK()));
        } finally {
            // the request's hold (its running sequences hold their own)
            adapter.release();
        }
    }

    // ---- operations

    private void listOperations(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"), ModelAccess.Action.READ_OPERATIONS);
        ObjectNode out = GoogleJson.MAPPER.createObjectNode();
        out.putArray("operations").add(Resources.operation(r, tuning.store().snapshots(r.uid())));
        ctx.json(out);
    }

    private void getOperation(Context ctx) {
        requireTuning(ctx);
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"), ModelAccess.Action.READ_OPERATIONS);
        if (!r.operationId().equals(ctx.pathParam("op"))) {
            throw new ServiceException(Code.NOT_FOUND, r.name() + "/operations/" + ctx.pathParam("op") + " not found");
        }
        ctx.json(Resources.operation(r, tuning.store().snapshots(r.uid())));
    }

    private void operationMethod(Context ctx) {
        requireTuning(ctx);
        String[] parts = splitMethod(ctx.pathParam("op"));
        TunedModelRecord r = visible(ctx, ctx.pathParam("id"), parts[1].equals("cancel")
                ? ModelAccess.Action.CANCEL : ModelAccess.Action.READ_OPERATIONS);
        if (!r.operationId().equals(parts[0])) {
            throw new ServiceException(Code.NOT_FOUND, r.name() + "/operations/" + parts[0] + " not found");
        }
        if (!parts[1].equals("cancel")) {
            throw new ServiceException(Code.NOT_FOUND, "no such method: operations:" + parts[1]);
        }
        cancel(r);
        ctx.json(GoogleJson.MAPPER.createObjectNode());
    }

    private void cancel(TunedModelRecord r) {
        if (!r.done()) {
            tuning.cancel(r);
        }
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
        if (method.equals("generateContent") || method.equals("streamGenerateContent")) {
            quotas.chargeGenerateContent(project(ctx));
        }
        generationEndpoint.handle(ctx, method, target);
    }

    private static String[] splitMethod(String segment) {
        int colon = segment.lastIndexOf(':');
        if (colon < 0) {
            throw new ServiceException(Code.NOT_FOUND, "no method in '" + segment + "' (expected name:method)");
        }
        return new String[]{segment.substring(0, colon), segment.substring(colon + 1)};
    }

    /** pageSize / pageToken of list calls. */
    static final class Page {
        private Page() {
        }

        /** The page size asked for: 50 when absent or 0, at most 1000. */
        static int size(Context ctx) {
            String sizeParam = ctx.queryParam("pageSize") != null ? ctx.queryParam("pageSize") : ctx.queryParam("page_size");
            if (sizeParam == null) {
                return 50;
            }
            int size;
            try {
                size = Integer.parseInt(sizeParam.trim());
            } catch (NumberFormatException e) {
                throw new InvalidRequestException("page_size must be an integer, got '" + sizeParam + "'");
            }
            if (size < 0) {
                throw new InvalidRequestException("page_size must not be negative");
            }
            return size == 0 ? 50 : Math.min(size, 1000);
        }

        /** The page token sent, or null. */
        static String token(Context ctx) {
            String token = ctx.queryParam("pageToken") != null ? ctx.queryParam("pageToken") : ctx.queryParam("page_token");
            return token == null || token.isEmpty() ? null : token;
        }

        /** Where a page of a fixed list of {@code total} items starts: an offset token this server issued. */
        static int offset(Context ctx, int total) {
            String token = token(ctx);
            if (token == null) {
                return 0;
            }
            try {
                String decoded = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
                if (decoded.startsWith("o:")) {
                    int offset = Integer.parseInt(decoded.substring(2));
                    if (offset > 0 && offset < total) {
                        return offset;
                    }
                }
            } catch (IllegalArgumentException e) {
                // refused below
            }
            throw new InvalidRequestException("page_token is not a token this server issued for this list");
        }

        static String offsetToken(int offset) {
            return Base64.getUrlEncoder().withoutPadding().encodeToString(("o:" + offset).getBytes(StandardCharsets.UTF_8));
        }
    }
}
