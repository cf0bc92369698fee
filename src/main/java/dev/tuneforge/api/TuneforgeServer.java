package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.IssuedTokens;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.store.DataDirectoryLock;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.OwnerOnly;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.AdapterCache;
import dev.tuneforge.tuning.StorageRetry;
import dev.tuneforge.tuning.TuningMetrics;
import dev.tuneforge.tuning.TuningService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

/**
 * Wires the database, artifact store, tuning worker and HTTP API of one server process, which holds its data
 * directory exclusively ({@link DataDirectoryLock}) until it is closed.
 */
public final class TuneforgeServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TuneforgeServer.class);
    private final DataDirectoryLock lock;
    private final ArtifactStore artifacts;
    private final Database db;
    private final TuningService tuning;
    private final Authenticator auth;
    private final GenerationBatches generation;
    private final ApiServer api;
    private final ServerConfig config;

    public TuneforgeServer(ServerConfig config) {
        this(config, Clock.systemUTC());
    }

    /** A server whose login throttle reads {@code clock} (tests advance it instead of waiting out a block). */
    public TuneforgeServer(ServerConfig config, Clock clock) {
        this.config = config;
        Path dataDir = config.dataDir();
        // with a shared database the data directory is shared by the cluster's processes; with SQLite it is this one's
        this.lock = config.database().shared() ? null : DataDirectoryLock.acquire(dataDir);
        ArtifactStore opened = null;
        try {
            this.db = Database.open(config.database(), dataDir);
            opened = config.artifactStore().open(dataDir);
            this.artifacts = opened;
            LOG.info("artifacts are stored in {}", artifacts.describe());
            warnIfOthersHaveAccess(config.database().shared() ? List.of(dataDir, dataDir.resolve("tunedModels"))
                    : List.of(dataDir, config.database().sqliteFile(dataDir), dataDir.resolve("tunedModels")));
            if (!config.database().shared() && config.jobs().slots() == 0) {
                throw new IllegalArgumentException("a server without a tuning worker needs workers elsewhere, on a "
                        + "shared database: give --database-url jdbc:postgresql://... (with SQLite the server is the "
                        + "only process and tunes itself)");
            }
            Quotas quotas = new Quotas(config.quotas());
            PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            AdapterCache adapters = new AdapterCache(config.serving().adapterCacheSize(),
                config.serving().adapterCacheBytes(), config.serving().adapterDtype());
            adapters.bindTo(metrics);
            this.tuning = new TuningService(db, artifacts, config.catalog(), config.lora(), config.jobs(),
                    StorageRetry.defaults(), adapters, new TuningMetrics(metrics), quotas);
            TokenService tokens = new TokenService(config.auth().issuer(), new SigningKeys(dataDir),
                    config.auth().tokenTtl(), config.auth().external(), new IssuedTokens(db));
            this.auth = new Authenticator(tokens, new AuthStore(db), new LoginThrottle(config.auth().loginThrottle(), clock));
            this.generation = new GenerationBatches(config.serving());
            generation.bindTo(metrics);
            this.api = new ApiServer(tuning, auth, generation, new Readiness(tuning, dataDir, artifacts), config.http(),
                    quotas, new MetricsEndpoint(metrics, tuning.store()), config.auth().consoleLogin());
        } catch (RuntimeException | Error e) {
            if (opened != null) {
                opened.close();
            }
            if (lock != null) {
                lock.close();
            }
            throw e;
        }
    }

    private static void warnIfOthersHaveAccess(List<Path> paths) {
        for (Path p : paths) {
            if (OwnerOnly.othersHaveAccess(p)) {
                LOG.warn("{} can be read by users other than its owner; it holds training data and credentials: "
                        + "chmod go-rwx it", p.toAbsolutePath());
            }
        }
    }

    /** Projects, clients, API keys and tokens of this server (tests and the demo set up callers with it). */
    public Authenticator auth() {
        return auth;
    }

    public TuneforgeServer start(String host, int port) {
        api.start(host, port);
        tuning.start(config.jobs().slots() > 0, !config.database().shared());
        return this;
    }

    public int port() {
        return api.port();
    }

    /** The URL clients reach the server at (configured, or derived from where it listens); known once started. */
    public String publicBaseUrl() {
        return api.publicBaseUrl();
    }

    /** The metadata database (tests read and write it directly). */
    public Database database() {
        return db;
    }

    public TuningService tuning() {
        return tuning;
    }

    @Override
    public void close() {
        try {
            api.close();
            tuning.close();
            generation.close();
            artifacts.close();
        } finally {
            db.close();
            if (lock != null) {
                lock.close();
            }
        }
    }
}
