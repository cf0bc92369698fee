package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.IssuedTokens;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.engine.generate.GenerationThreads;
import dev.tuneforge.store.ArtifactStore;
import dev.tuneforge.store.DataDirectoryLock;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.OwnerOnly;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.tuning.StorageRetry;
import dev.tuneforge.tuning.TuningService;
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
    private static final String DATABASE_FILE = "tuneforge.db";
    private final DataDirectoryLock lock;
    private final TuningService tuning;
    private final Authenticator auth;
    private final GenerationThreads generation;
    private final ApiServer api;

    public TuneforgeServer(ServerConfig config) {
        this(config, Clock.systemUTC());
    }

    /** A server whose login throttle reads {@code clock} (tests advance it instead of waiting out a block). */
    public TuneforgeServer(ServerConfig config, Clock clock) {
        Path dataDir = config.dataDir();
        this.lock = DataDirectoryLock.acquire(dataDir);
        try {
            Database db = Database.sqlite(dataDir.resolve(DATABASE_FILE));
            warnIfOthersHaveAccess(List.of(dataDir, dataDir.resolve(DATABASE_FILE), dataDir.resolve("tunedModels")));
            Quotas quotas = new Quotas(config.quotas());
            this.tuning = new TuningService(new TunedModelStore(db), new ArtifactStore(dataDir), config.catalog(),
                    config.lora(), StorageRetry.defaults(), quotas);
            TokenService tokens = new TokenService(config.auth().issuer(), new SigningKeys(dataDir),
                    config.auth().tokenTtl(), config.auth().external(), new IssuedTokens(db));
            this.auth = new Authenticator(tokens, new AuthStore(db), new LoginThrottle(config.auth().loginThrottle(), clock));
            this.generation = new GenerationThreads(config.serving().maxConcurrentGenerations(),
                    config.serving().maxQueuedGenerations());
            this.api = new ApiServer(tuning, auth, generation, new Readiness(tuning, dataDir), config.http(), quotas,
                    config.auth().consoleLogin());
        } catch (RuntimeException | Error e) {
            lock.close();
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
        tuning.start();
        return this;
    }

    public int port() {
        return api.port();
    }

    /** The URL clients reach the server at (configured, or derived from where it listens); known once started. */
    public String publicBaseUrl() {
        return api.publicBaseUrl();
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
        } finally {
            lock.close();
        }
    }
}
