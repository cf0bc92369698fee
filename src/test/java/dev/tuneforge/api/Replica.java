package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.IssuedTokens;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.AdapterCache;
import dev.tuneforge.tuning.StorageRetry;
import dev.tuneforge.tuning.TuningMetrics;
import dev.tuneforge.tuning.TuningService;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Clock;

/**
 * A second API process for tests: its own HTTP server, tuning service (no worker), adapter cache, metrics and
 * artifact store client over the database and artifacts of a running {@link TuneforgeServer} with the same
 * config, as another replica behind a load balancer would be. It holds no data-directory lock: the first server
 * does, and a replica must not (the lock keeps a second full server, with its own worker, away).
 */
final class Replica implements AutoCloseable {
    private final ArtifactStore artifacts;
    private final GenerationBatches generation;
    private final ApiServer api;

    Replica(ServerConfig config) {
        Database db = Database.sqlite(config.dataDir().resolve("tuneforge.db"));
        this.artifacts = config.artifactStore().open(config.dataDir());
        PrometheusMeterRegistry metrics = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        AdapterCache adapters = new AdapterCache(config.serving().adapterCacheSize(),
                config.serving().adapterCacheBytes(), config.serving().adapterDtype());
        adapters.bindTo(metrics);
        Quotas quotas = new Quotas(config.quotas());
        TuningService tuning = new TuningService(db, artifacts, config.catalog(), config.lora(),
                config.jobs(), StorageRetry.defaults(), adapters, new TuningMetrics(metrics), quotas);
        TokenService tokens = new TokenService(config.auth().issuer(), new SigningKeys(config.dataDir()),
                config.auth().tokenTtl(), null, new IssuedTokens(db));
        Authenticator auth = new Authenticator(tokens, new AuthStore(db),
                new LoginThrottle(config.auth().loginThrottle(), Clock.systemUTC()));
        this.generation = new GenerationBatches(new ServerConfig.Serving(2, 4));
        this.api = new ApiServer(tuning, auth, generation, new Readiness(tuning, config.dataDir(), artifacts),
                config.http(), quotas, new MetricsEndpoint(metrics, tuning.store()),
                config.auth().consoleLogin()).start("127.0.0.1", 0);
    }

    int port() {
        return api.port();
    }

    @Override
    public void close() {
        api.close();
        generation.close();
        artifacts.close();
    }
}
