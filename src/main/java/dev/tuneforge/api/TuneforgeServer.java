package dev.tuneforge.api;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.Authenticator;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.auth.TokenService;
import dev.tuneforge.store.ArtifactStore;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.TunedModelStore;
import dev.tuneforge.tuning.TuningService;

/** Wires the database, artifact store, tuning worker and HTTP API of one server process. */
public final class TuneforgeServer implements AutoCloseable {
    private final TuningService tuning;
    private final Authenticator auth;
    private final ApiServer api;

    public TuneforgeServer(ServerConfig config) {
        Database db = Database.sqlite(config.dataDir().resolve("tuneforge.db"));
        this.tuning = new TuningService(new TunedModelStore(db), new ArtifactStore(config.dataDir()), config.catalog(),
                config.lora());
        TokenService tokens = new TokenService(config.auth().issuer(), new SigningKeys(config.dataDir()),
                config.auth().tokenTtl(), config.auth().external());
        this.auth = new Authenticator(tokens, new AuthStore(db));
        this.api = new ApiServer(tuning, auth, config.http());
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
        api.close();
        tuning.close();
    }
}
