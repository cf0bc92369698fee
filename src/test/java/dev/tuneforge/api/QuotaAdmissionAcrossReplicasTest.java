package dev.tuneforge.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.quota.QuotaExceededException;
import dev.tuneforge.quota.QuotaSettings;
import dev.tuneforge.quota.Quotas;
import dev.tuneforge.store.Database;
import dev.tuneforge.store.DatabaseSettings;
import dev.tuneforge.store.TestPostgres;
import dev.tuneforge.store.artifacts.ArtifactStore;
import dev.tuneforge.tuning.AdapterCache;
import dev.tuneforge.tuning.StorageRetry;
import dev.tuneforge.tuning.TuningMetrics;
import dev.tuneforge.tuning.TuningRequestParser;
import dev.tuneforge.tuning.TuningService;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Quotas on stored models and jobs in progress hold across API replicas: two tuning services, each with its own
 * connection pool as two processes have, over one database, take concurrent creates of one project; no more models
 * are stored than the limit allows, whichever replica each create reaches. No worker runs, so every stored job stays
 * in progress.
 */
class QuotaAdmissionAcrossReplicasTest {
    private static final int LIMIT = 3;
    private static final int CREATES_PER_REPLICA = 6;
    private static final String BODY = """
            {"baseModel": "models/stories-260k",
             "tuningTask": {"hyperparameters": {"batchSize": 2, "epochCount": 1},
                            "trainingData": {"examples": {"examples": [{"textInput": "1", "output": "2"},
                                                                       {"textInput": "3", "output": "4"}]}}}}
            """;

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"postgresql", "sqlite"})
    void concurrentCreatesThroughTwoReplicasNeverExceedAProjectsLimits(String database) throws Exception {
        QuotaSettings.Limits d = QuotaSettings.Limits.defaults();
        QuotaSettings quotas = new QuotaSettings(d, Map.of(
                "stored", new QuotaSettings.Limits(d.generateContentRequestsPerMinute(), 1_000, LIMIT,
                        d.trainingTokensPerJob()),
                "jobs", new QuotaSettings.Limits(d.generateContentRequestsPerMinute(), LIMIT, 1_000,
                        d.trainingTokensPerJob())));
        ServerConfig config = ServerConfig.defaults(dir, Path.of("."));
        Supplier<Database> open;
        if (database.equals("postgresql")) {
            DatabaseSettings settings = TestPostgres.shared().newDatabase();
            open = () -> Database.open(settings, dir);
        } else {
            open = () -> Database.sqlite(dir.resolve("tuneforge.db"));
        }
        try (Database firstDb = open.get(); Database secondDb = open.get();
             ArtifactStore artifacts = config.artifactStore().open(dir)) {
            TuningService first = replica(firstDb, artifacts, config, quotas);
            TuningService second = replica(secondDb, artifacts, config, quotas);
            try {
                for (String project : List.of("stored", "jobs")) {
                    int stored = createConcurrently(project, first, second);
                    assertEquals(LIMIT, stored, project + ": creates admitted");
                    assertEquals(LIMIT, (int) firstDb.jdbi().withHandle(h -> h.createQuery(
                                    "SELECT COUNT(*) FROM tuned_models WHERE project = :p AND state = 'CREATING'")
                            .bind("p", project).mapTo(Integer.class).one()), project + ": models stored");
                }
            } finally {
                first.close();
                second.close();
            }
        }
    }

    private static TuningService replica(Database db, ArtifactStore artifacts, ServerConfig config, QuotaSettings quotas) {
        return new TuningService(db, artifacts, config.catalog(), config.lora(), config.jobs(), StorageRetry.defaults(),
                new AdapterCache(1), TuningMetrics.none(), new Quotas(quotas));
    }

    /** Creates of {@code project} through both replicas at once; the number admitted (the rest must be refused). */
    private static int createConcurrently(String project, TuningService first, TuningService second) throws Exception {
        ObjectMapper json = new ObjectMapper();
        int creates = 2 * CREATES_PER_REPLICA;
        CyclicBarrier start = new CyclicBarrier(creates);
        AtomicInteger admitted = new AtomicInteger();
        AtomicInteger refused = new AtomicInteger();
        List<Throwable> unexpected = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < creates; i++) {
            TuningService replica = i % 2 == 0 ? first : second;
            String id = project + "-" + i;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    var request = TuningRequestParser.parse(json.readTree(BODY), id);
                    start.await();
                    replica.create(project, request);
                    admitted.incrementAndGet();
                } catch (QuotaExceededException e) {
                    refused.incrementAndGet();
                } catch (Throwable e) {
                    unexpected.add(e);
                }
            }));
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(List.of(), unexpected);
        assertEquals(creates, admitted.get() + refused.get());
        return admitted.get();
    }
}
