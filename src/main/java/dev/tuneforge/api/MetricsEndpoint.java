package dev.tuneforge.api;

import dev.tuneforge.store.TunedModelStore;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;

/**
 * {@code GET /metrics} in Prometheus's text format, and what only the HTTP layer sees: every request Javalin
 * handles, timed as {@code http_server_requests_seconds{method, status, route}} (route: the matched path pattern,
 * so that ids do not multiply the series), and the tuning jobs in the database by state
 * ({@code tuneforge_tuning_jobs{state}}, read at each scrape).
 */
final class MetricsEndpoint {
    private static final String STARTED = "metricsStarted";
    private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    private final PrometheusMeterRegistry registry;

    MetricsEndpoint(PrometheusMeterRegistry registry, TunedModelStore store) {
        this.registry = registry;
        // a gauge holds its object weakly: the store must be one the server keeps (the tuning service's)
        for (String state : new String[]{"queued", "running", "active", "failed"}) {
            Gauge.builder("tuneforge.tuning.jobs", store, s -> s.jobCounts().get(state))
                    .tag("state", state).description("tuning jobs (tuned models) in the database by state")
                    .register(registry);
        }
    }

    void register(Javalin app) {
        app.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
        app.after(this::record);
        app.get("/metrics", ctx -> ctx.contentType(CONTENT_TYPE).result(registry.scrape()));
    }

    private void record(Context ctx) {
        Long started = ctx.attribute(STARTED);
        if (started == null) {
            return;
        }
        Timer.builder("http.server.requests").description("HTTP requests by method, status and route")
                .tag("method", ctx.method().name()).tag("status", Integer.toString(ctx.statusCode()))
                .tag("route", route(ctx)).register(registry)
                .record(Duration.ofNanos(System.nanoTime() - started));
    }

    private static String route(Context ctx) {
        try {
            String path = ctx.endpointHandlerPath();
            return path == null || path.isEmpty() || path.equals("*") ? "unmatched" : path;
        } catch (RuntimeException e) {
            return "unmatched";
        }
    }
}
