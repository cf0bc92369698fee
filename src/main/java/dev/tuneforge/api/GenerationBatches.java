package dev.tuneforge.api;

import dev.tuneforge.engine.BaseModel;
import dev.tuneforge.engine.generate.ContinuousBatcher;
import dev.tuneforge.engine.model.BatchDecoders;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToLongFunction;

/**
 * The server's continuous batchers: one per loaded base model, started on its first generation, every tuned model
 * of that base batched with it; each with the limits of {@code serving} ({@link ServerConfig.Serving}).
 */
final class GenerationBatches implements AutoCloseable {
    private final ServerConfig.Serving serving;
    private final Map<BaseModel, ContinuousBatcher> batchers = new IdentityHashMap<>();
    private final ClientDisconnects clientDisconnects = new ClientDisconnects();
    private boolean closed;

    GenerationBatches(ServerConfig.Serving serving) {
        this.serving = serving;
    }

    /** The batcher of {@code base}. */
    synchronized ContinuousBatcher of(BaseModel base) {
        if (closed) {
            throw new java.util.concurrent.CancellationException("the server is shutting down");
        }
        return batchers.computeIfAbsent(base, b -> new ContinuousBatcher(b.directory().path().getFileName().toString(),
                BatchDecoders.forModel(b.model()), b.tokenizer(), b.model().config().maxPositionEmbeddings(),
                serving.maxConcurrentGenerations(), serving.maxQueuedGenerations()));
    }

    /** The generations stopped because their client went away. */
    ClientDisconnects clientDisconnects() {
        return clientDisconnects;
    }

    /** Sequences in every batch. */
    long batchSize() {
        return sum(ContinuousBatcher::batchSize);
    }

    /** Sequences waiting for a place in a batch. */
    long queueLength() {
        return sum(ContinuousBatcher::queueLength);
    }

    /** Bytes of KV cache held by every batch. */
    long kvBytesInUse() {
        return sum(ContinuousBatcher::kvBytesInUse);
    }

    private long sum(ToLongFunction<ContinuousBatcher> value) {
        List<ContinuousBatcher> all;
        synchronized (this) {
            all = new ArrayList<>(batchers.values());
        }
        return all.stream().mapToLong(value).sum();
    }

    /**
     * Exposes {@code tuneforge_generation_batch_size}, {@code tuneforge_generation_queue_length},
     * {@code tuneforge_generation_kv_bytes} and {@code tuneforge_generation_client_disconnects_total}.
     */
    void bindTo(MeterRegistry registry) {
        Gauge.builder("tuneforge.generation.batch.size", this, GenerationBatches::batchSize)
                .description("sequences (one per candidate) decoding in the continuous batches").register(registry);
        Gauge.builder("tuneforge.generation.queue.length", this, GenerationBatches::queueLength)
                .description("sequences waiting for a place in a batch").register(registry);
        Gauge.builder("tuneforge.generation.kv.bytes", this, GenerationBatches::kvBytesInUse)
                .description("bytes of KV cache held by the batches' sequences").register(registry);
        clientDisconnects.bindTo(registry);
    }

    @Override
    public void close() {
        List<ContinuousBatcher> all;
        synchronized (this) {
            closed = true;
            all = new ArrayList<>(batchers.values());
            batchers.clear();
        }
        all.forEach(ContinuousBatcher::close);
    }
}
