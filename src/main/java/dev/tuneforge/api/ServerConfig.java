package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.catalog.BaseModelCatalog;
import dev.tuneforge.engine.lora.AdapterDtype;
import dev.tuneforge.engine.model.WeightDtype;
import dev.tuneforge.quota.QuotaSettings;
import dev.tuneforge.store.artifacts.ArtifactStoreSettings;
import dev.tuneforge.tuning.AdapterCache;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.tuning.JobSettings;
import dev.tuneforge.tuning.TuningService;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Server settings: data directory, base models and aliases, LoRA settings, tokens, the HTTP layer. Read from a JSON
 * file ({@code --config}); without one, the bundled stories-260k is the only base model, aliased by the tutorial's
 * Gemini model names.
 */
public record ServerConfig(Path dataDir, BaseModelCatalog catalog, TuningService.LoraSettings lora, Auth auth,
                           Serving serving, HttpSettings http, QuotaSettings quotas,
                           ArtifactStoreSettings artifactStore, DatabaseSettings database, JobSettings jobs) {

    /**
     * Generation capacity, per base model: how many sequences (one per candidate) decode at once in its continuous
     * batch, and how many more may wait for a place before requests are refused with UNAVAILABLE; how many tuned
     * models' adapters this process keeps loaded, about how many bytes they may hold, and in which dtype
     * ({@link AdapterDtype}).
     */
    public record Serving(int maxConcurrentGenerations, int maxQueuedGenerations, int adapterCacheSize,
                          long adapterCacheBytes, AdapterDtype adapterDtype) {
        public Serving(int maxConcurrentGenerations, int maxQueuedGenerations, int adapterCacheSize,
                       long adapterCacheBytes) {
            this(maxConcurrentGenerations, maxQueuedGenerations, adapterCacheSize, adapterCacheBytes, AdapterDtype.AUTO);
        }

        public Serving(int maxConcurrentGenerations, int maxQueuedGenerations) {
            this(maxConcurrentGenerations, maxQueuedGenerations, AdapterCache.DEFAULT_SIZE);
        }

        public Serving(int maxConcurrentGenerations, int maxQueuedGenerations, int adapterCacheSize) {
            this(maxConcurrentGenerations, maxQueuedGenerations, adapterCacheSize, AdapterCache.DEFAULT_BYTES);
        }

        public Serving {
            if (adapterCacheSize < 1) {
                throw new IllegalArgumentException("serving.adapterCacheSize must be at least 1, got "
                        + adapterCacheSize);
            }
            if (adapterCacheBytes < 1) {
                throw new IllegalArgumentException("serving.adapterCacheBytes must be at least 1, got "
                        + adapterCacheBytes);
            }
            if (maxConcurrentGenerations < 1) {
                throw new IllegalArgumentException("serving.maxConcurrentGenerations must be at least 1, got "
                        + maxConcurrentGenerations);
            }
            if (maxQueuedGenerations < 0) {
                throw new IllegalArgumentException("serving.maxQueuedGenerations must not be negative, got "
                        + maxQueuedGenerations);
            }
            if (adapterDtype == null) {
                throw new IllegalArgumentException("serving.adapterDtype must be " + AdapterDtype.NAMES);
            }
        }

        public static Serving defaults() {
            return new Serving(16, 64);
        }
    }

    /**
     * Token settings: the issuer name of tokens this server signs, their lifetime, an optional external issuer (and
     * how the web console signs in through it), and the brute-force defence of client authentication.
     */
    public record Auth(String issuer, java.time.Duration tokenTtl, dev.tuneforge.auth.ExternalIssuer external,
                       LoginThrottle.Settings loginThrottle, ConsoleOidcSettings consoleLogin) {
        public static Auth defaults() {
            return new Auth("tuneforge", java.time.Duration.ofHours(1), null, LoginThrottle.Settings.defaults(), null);
        }

        public Auth withExternal(dev.tuneforge.auth.ExternalIssuer e) {
            return new Auth(issuer, tokenTtl, e, loginThrottle, consoleLogin);
        }

        public Auth withLoginThrottle(LoginThrottle.Settings t) {
            return new Auth(issuer, tokenTtl, external, t, consoleLogin);
        }

        public Auth withConsoleLogin(ConsoleOidcSettings c) {
            return new Auth(issuer, tokenTtl, external, loginThrottle, c);
        }
    }

    /** Under the data directory: the base models' matrices, prepared once and memory-mapped. */
    public static final String PREPARED_WEIGHTS = "prepared-weights";

    public static ServerConfig defaults(Path dataDir, Path projectRoot) {
        return new ServerConfig(dataDir, BaseModelCatalog.withDefault(projectRoot.resolve("models/stories-260k"))
                        .preparedWeights(dataDir.resolve(PREPARED_WEIGHTS)),
                TuningService.LoraSettings.defaults(), Auth.defaults(), Serving.defaults(), HttpSettings.defaults(),
                QuotaSettings.defaults(), ArtifactStoreSettings.defaults(), DatabaseSettings.sqlite(), JobSettings.defaults());
    }

    public ServerConfig withAuth(Auth a) {
        return new ServerConfig(dataDir, catalog, lora, a, serving, http, quotas, artifactStore, database, jobs);
    }

    public ServerConfig withServing(Serving s) {
        return new ServerConfig(dataDir, catalog, lora, auth, s, http, quotas, artifactStore, database, jobs);
    }

    public ServerConfig withHttp(HttpSettings h) {
        return new ServerConfig(dataDir, catalog, lora, auth, serving, h, quotas, artifactStore, database, jobs);
    }

    public ServerConfig withQuotas(QuotaSettings q) {
        return new ServerConfig(dataDir, catalog, lora, auth, serving, http, q, artifactStore, database, jobs);
    }

    public ServerConfig withArtifactStore(ArtifactStoreSettings a) {
        return new ServerConfig(dataDir, catalog, lora, auth, serving, http, quotas, a, database, jobs);
    }

    public ServerConfig withDatabase(DatabaseSettings d) {
        return new ServerConfig(dataDir, catalog, lora, auth, serving, http, quotas, artifactStore, d, jobs);
    }

    public ServerConfig withJobs(JobSettings j) {
        return new ServerConfig(dataDir, catalog, lora, auth, serving, http, quotas, artifactStore, database, j);
    }

    /**
     * Reads {@code {"baseModels": [{"id", "path" | "hubRepo" + "revision", "displayName", "description", "dtype"}],
     * "aliases": {"alias": "id"}, "hubEndpoint", "hubCache", "preparedWeights" (default true: DATA/prepared-weights), "lora": {"rank", "alpha", "dropout",
     * "checkpointEvery"}, "auth": {...}, "serving": {"maxConcurrentGenerations", "maxQueuedGenerations",
     * "adapterCacheSize", "adapterCacheBytes", "adapterDtype"}, "http": {...} (HttpSettings), "quotas": {...} (QuotaSettings),
     * "artifactStore": {...} (ArtifactStoreSettings), "database": {"url"}, "jobs": {...} (JobSettings)}}; relative paths are resolved
     * against the file, the Hub cache defaults to DATA/hub.
     */
    public static ServerConfig read(Path file, Path dataDir) {
        JsonNode root;
        try {
            root = GoogleJson.parseBody(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config " + file, e);
        }
        Path dir = file.toAbsolutePath().getParent();
        HttpSettings http;
        ArtifactStoreSettings artifactStore;
        try {
            http = HttpSettings.read(root.path("http"), dir, System.getenv());
            artifactStore = ArtifactStoreSettings.read(root.path("artifactStore"), dir);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        BaseModelCatalog catalog = new BaseModelCatalog();
        JsonNode prepared = root.path("preparedWeights");
        if (!prepared.isMissingNode() && !prepared.isBoolean()) {
            throw new IllegalArgumentException(file + ": preparedWeights must be true or false");
        }
        if (prepared.asBoolean(true)) {
            catalog.preparedWeights(dataDir.resolve(PREPARED_WEIGHTS));
        }
        String endpoint = root.path("hubEndpoint").asText(System.getenv().getOrDefault("HF_ENDPOINT", "https://huggingface.co"));
        Path cache = root.hasNonNull("hubCache") ? dir.resolve(root.get("hubCache").asText()) : dataDir.resolve("hub");
        catalog.downloader(new dev.tuneforge.catalog.HubDownloader(endpoint, cache, System.getenv("HF_TOKEN")));
        JsonNode models = root.path("baseModels");
        if (!models.isArray() || models.isEmpty()) {
            throw new IllegalArgumentException(file + ": baseModels must list at least one model");
        }
        for (int i = 0; i < models.size(); i++) {
            JsonNode m = models.get(i);
            String id = m.path("id").asText(null);
            String path = m.path("path").asText(null);
            String repo = m.path("hubRepo").asText(null);
            if (id == null || (path == null) == (repo == null)) {
                throw new IllegalArgumentException(file + ": every base model needs an id and either path or hubRepo");
            }
            BaseModelCatalog.Entry entry = repo != null
                    ? BaseModelCatalog.Entry.hub(id, repo, m.path("revision").asText("main"), m.path("displayName").asText(id),
                            m.path("description").asText("Hugging Face Hub model " + repo))
                    : new BaseModelCatalog.Entry(id, dir.resolve(path).normalize(), m.path("displayName").asText(id),
                            m.path("description").asText(""));
            catalog.add(entry.withDtype(WeightDtype.parse(m.path("dtype").asText("fp32"),
                    file + ": baseModels[" + i + "].dtype")));
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.path("aliases").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> a = it.next();
            catalog.alias(a.getKey(), a.getValue().asText());
        }
        JsonNode l = root.path("lora");
        TuningService.LoraSettings d = TuningService.LoraSettings.defaults();
        TuningService.LoraSettings lora = new TuningService.LoraSettings(l.path("rank").asInt(d.rank()),
                l.path("alpha").asDouble(d.alpha()), l.path("dropout").asDouble(d.dropout()),
                l.path("checkpointEvery").asInt(d.checkpointEvery()));
        JsonNode a = root.path("auth");
        Auth auth = Auth.defaults();
        JsonNode ext = a.path("externalIssuer");
        auth = new Auth(a.path("issuer").asText(auth.issuer()),
                java.time.Duration.ofSeconds(a.path("tokenTtlSeconds").asLong(auth.tokenTtl().toSeconds())),
                ext.isObject() ? new dev.tuneforge.auth.ExternalIssuer(ext.path("issuer").asText(null),
                        ext.path("jwksUrl").asText(null), ext.path("audience").asText(null),
                        ext.path("projectsClaim").asText(null), ext.path("emailClaim").asText(null),
                        ext.path("groupsClaim").asText(null)) : null, loginThrottle(a.path("loginThrottle")),
                ConsoleOidcSettings.read(ext.path("consoleLogin")));
        QuotaSettings quotas;
        DatabaseSettings database;
        JobSettings jobs;
        try {
            quotas = QuotaSettings.read(root.path("quotas"));
            database = DatabaseSettings.read(root.path("database"), System.getenv());
            jobs = JobSettings.read(root.path("jobs"));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        return new ServerConfig(dataDir, catalog, lora, auth, serving(root.path("serving")), http, quotas,
                artifactStore, database, jobs);
    }

    /** {@code {"freeFailures", "firstBlockSeconds", "maxBlockSeconds", "forgetAfterSeconds", "maxTracked"}}, each optional. */
    private static LoginThrottle.Settings loginThrottle(JsonNode t) {
        LoginThrottle.Settings d = LoginThrottle.Settings.defaults();
        String at = "auth.loginThrottle";
        return new LoginThrottle.Settings(
                (int) wholeNumber(t, at, "freeFailures", d.freeFailures()),
                java.time.Duration.ofSeconds(wholeNumber(t, at, "firstBlockSeconds", d.firstBlock().toSeconds())),
                java.time.Duration.ofSeconds(wholeNumber(t, at, "maxBlockSeconds", d.maxBlock().toSeconds())),
                java.time.Duration.ofSeconds(wholeNumber(t, at, "forgetAfterSeconds", d.forgetAfter().toSeconds())),
                (int) wholeNumber(t, at, "maxTracked", d.maxTracked()));
    }

    /**
     * {@code {"maxConcurrentGenerations", "maxQueuedGenerations", "adapterCacheSize", "adapterCacheBytes",
     * "adapterDtype"}}, each optional.
     */
    private static Serving serving(JsonNode s) {
        Serving d = Serving.defaults();
        JsonNode cacheBytes = s.path("adapterCacheBytes");
        if (!cacheBytes.isMissingNode() && !cacheBytes.isNull() && !(cacheBytes.isIntegralNumber()
                && cacheBytes.canConvertToLong())) {
            throw new IllegalArgumentException("serving.adapterCacheBytes must be a whole number, not " + cacheBytes);
        }
        JsonNode dtype = s.path("adapterDtype");
        if (!dtype.isMissingNode() && !dtype.isNull() && !dtype.isTextual()) {
            throw new IllegalArgumentException("serving.adapterDtype must be " + AdapterDtype.NAMES + ", not " + dtype);
        }
        return new Serving((int) wholeNumber(s, "serving", "maxConcurrentGenerations", d.maxConcurrentGenerations()),
                (int) wholeNumber(s, "serving", "maxQueuedGenerations", d.maxQueuedGenerations()),
                (int) wholeNumber(s, "serving", "adapterCacheSize", d.adapterCacheSize()),
                cacheBytes.isIntegralNumber() ? cacheBytes.asLong() : d.adapterCacheBytes(),
                dtype.isTextual() ? AdapterDtype.parse(dtype.asText(), "serving.adapterDtype") : d.adapterDtype());
    }

    /** The whole number {@code parent.field} ({@code fallback} when absent); an error naming {@code path.field} else. */
    private static long wholeNumber(JsonNode parent, String path, String field, long fallback) {
        JsonNode v = parent.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException(path + "." + field + " must be a whole number, not " + v);
        }
        return v.asLong();
    }
}
