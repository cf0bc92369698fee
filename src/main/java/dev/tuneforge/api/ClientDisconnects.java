package dev.tuneforge.api;

import dev.tuneforge.engine.generate.ContinuousBatcher;
import io.javalin.http.Context;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Generations stopped because their client went away: an ordinary event, one log line each, counted by where the
 * request was ({@code tuneforge_generation_client_disconnects_total{phase="queued|prefilling|decoding"}}).
 */
final class ClientDisconnects {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationEndpoint.class);
    private final Map<ContinuousBatcher.Phase, LongAdder> counts = new EnumMap<>(ContinuousBatcher.Phase.class);

    ClientDisconnects() {
        for (ContinuousBatcher.Phase phase : ContinuousBatcher.Phase.values()) {
            counts.put(phase, new LongAdder());
        }
    }

    /**
     * Logs and counts a generation stopped in {@code phase}; {@code chunks}: how many had been streamed (-1: not a
     * stream).
     */
    void record(Context ctx, ContinuousBatcher.Phase phase, int chunks) {
        counts.get(phase).increment();
        LOG.info("request_id={} client disconnected {}; generation stopped while {}", ctx.<String>attribute("requestId"),
                chunks < 0 ? "before its answer" : "after " + chunks + " chunks", phase.name().toLowerCase(Locale.ROOT));
    }

    long count(ContinuousBatcher.Phase phase) {
        return counts.get(phase).sum();
    }

    void bindTo(MeterRegistry registry) {
        for (ContinuousBatcher.Phase phase : ContinuousBatcher.Phase.values()) {
            FunctionCounter.builder("tuneforge.generation.client.disconnects", this, d -> d.count(phase))
                    .tag("phase", phase.name().toLowerCase(Locale.ROOT))
                    .description("generation requests stopped because their client went away, by where they were")
                    .register(registry);
        }
    }
}
