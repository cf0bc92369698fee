package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.IssuedTokens;
import dev.tuneforge.auth.LoginThrottle;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.store.ArtifactStore;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.tuning.TuningService;

import java.time.Clock;

/** Wires the database, artifact store, tuning worker and HTTP API of one server process. */
public final class TuneforgeServer implements AutoCloseable {
    private final TuningService tuning;
    private final Authenticator auth;
    private final ApiServer api;

    public TuneforgeServer(ServerConfig config) {
        this(config, Clock.systemUTC());
    }

    /** A server whose login throttle reads {@code clock} (tests advance it instead of waiting out a block). */
    public TuneforgeServer(ServerConfig config, Clock clock) {
        Database db = Database.sqlite(config.dataDir().resolve("tuneforge.db"));
        this.tuning = new TuningService(new TunedModelStore(db), new ArtifactStore(config.dataDir()), config.catalog(),
                config.lora());
        TokenService tokens = new TokenService(config.auth().issuer(), new SigningKeys(config.dataDir()),
                config.auth().tokenTtl(), config.auth().external(), new IssuedTokens(db));
        this.auth = new Authenticator(tokens, new AuthStore(db), new LoginThrottle(config.auth().loginThrottle(), clock));
        this.api = new ApiServer(tuning, auth);
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

    public TuningService tuning() {
        return tuning;
    }

    @Override
    public void close() {
        api.close();
        tuning.close();
    }
}
