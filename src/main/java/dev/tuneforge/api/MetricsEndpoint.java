package dev.tuneforge.api;

import dev.tuneforge.store.TunedModelStore;
import io.javalin.Javalin;
import io.javalin.http.Context;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.Map;

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
    private final TunedModelStore store;
    /** The job counts of the scrape in progress: one query for all the states' gauges; empty (NaN) if it failed. */
    private volatile Map<String, Long> jobCounts = Map.of();

    MetricsEndpoint(PrometheusMeterRegistry registry, TunedModelStore store) {
        this.registry = registry;
        this.store = store;
        // a gauge holds its object weakly: this endpoint, which the server keeps
        for (String state : new String[]{"queued", "running", "active", "failed"}) {
            Gauge.builder("tuneforge.tuning.jobs", this, e -> e.jobCount(state))
                    .tag("state", state).description("tuning jobs (tuned models) in the database by state")
                    .register(registry);
        }
    }

    void register(Javalin app) {
        app.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
        app.after(this::record);
        app.get("/metrics", ctx -> ctx.contentType(CONTENT_TYPE).result(scrape()));
    }

    private synchronized String scrape() {
        try {
            jobCounts = store.jobCounts();
        } catch (RuntimeException e) {
            jobCounts = Map.of();
        }
        return registry.scrape();
    }

    private double jobCount(String state) {
        Long n = jobCounts.get(state);
        return n == null ? Double.NaN : n;
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
