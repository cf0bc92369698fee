package dev.tuneforge.tuning;

import dev.tuneforge.engine.lora.LoraAdapter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * The adapters this process has loaded from the artifact store, loaded on demand: at most {@code maximumSize} and
 * about {@code maximumBytes} ({@link LoraAdapter#servingBytes}), the least recently used evicted first (the adapter
 * just loaded stays, even alone over the budget). Requests racing for an adapter not yet loaded wait for one load.
 * An evicted adapter still serves the sequences that hold it; its memory goes when they end.
 * <p>
 * Keyed by the model's uid: a uid is never reused, and a model's adapter is stored once, before the model turns
 * ACTIVE, and never changed after, so an entry cannot go stale; a deleted model is never looked up again because
 * every request reads the model's row first.
 */
public final class AdapterCache {
    public static final int DEFAULT_SIZE = 32;
    public static final long DEFAULT_BYTES = 2L << 30;
    private final Map<String, CompletableFuture<LoraAdapter>> entries = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Long> bytes = new HashMap<>();
    private final int maximumSize;
    private final long maximumBytes;
    private long bytesHeld;
    private long hits;
    private long misses;
    private long evictions;

    public AdapterCache(int maximumSize) {
        this(maximumSize, DEFAULT_BYTES);
    }

    public AdapterCache(int maximumSize, long maximumBytes) {
        if (maximumSize < 1) {
            throw new IllegalArgumentException("serving.adapterCacheSize must be at least 1, got " + maximumSize);
        }
        if (maximumBytes < 1) {
            throw new IllegalArgumentException("serving.adapterCacheBytes must be at least 1, got " + maximumBytes);
        }
        this.maximumSize = maximumSize;
        this.maximumBytes = maximumBytes;
    }

    /** The cached adapter of {@code uid}, else {@code load}'s; a failed load is not cached. */
    LoraAdapter get(String uid, Function<String, LoraAdapter> load) {
        CompletableFuture<LoraAdapter> entry;
        boolean loadHere = false;
        synchronized (this) {
            entry = entries.get(uid);
            if (entry == null) {
                entry = new CompletableFuture<>();
                entries.put(uid, entry);
                loadHere = true;
                misses++;
                evictOverBudget(uid);
            } else {
                hits++;
            }
        }
        if (loadHere) {
            try {
                LoraAdapter adapter = load.apply(uid);
                synchronized (this) {
                    if (entries.get(uid) == entry) {
                        long size = adapter == null ? 0 : adapter.servingBytes();
                        bytes.put(uid, size);
                        bytesHeld += size;
                        evictOverBudget(uid);
                    }
                }
                entry.complete(adapter);
            } catch (RuntimeException | Error e) {
                synchronized (this) {
                    if (entries.remove(uid, entry)) {
                        forget(uid);
                    }
                }
                entry.completeExceptionally(e);
                throw e;
            }
        }
        try {
            return entry.join();
        } catch (CompletionException e) {
            // another request's load failed: this one fails the same way
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    synchronized void evict(String uid) {
        entries.remove(uid);
        forget(uid);
    }

    /** Evicts the least recently used entries but {@code keep} while over the count or the byte budget. */
    private void evictOverBudget(String keep) {
        for (var it = entries.keySet().iterator(); it.hasNext() && (entries.size() > maximumSize
                || bytesHeld > maximumBytes); ) {
            String uid = it.next();
            if (!uid.equals(keep)) {
                it.remove();
                forget(uid);
                evictions++;
            }
        }
    }

    private void forget(String uid) {
        Long size = bytes.remove(uid);
        if (size != null) {
            bytesHeld -= size;
        }
    }

    synchronized long bytesHeld() {
        return bytesHeld;
    }

    synchronized int size() {
        return entries.size();
    }

    /** Exposes {@code cache_gets_total{cache="adapters", result="hit"|"miss"}}, evictions and size. */
    public void bindTo(MeterRegistry registry) {
        FunctionCounter.builder("cache.gets", this, c -> c.count(true)).tag("cache", "adapters").tag("result", "hit")
                .description("adapter lookups answered from this process's cache").register(registry);
        FunctionCounter.builder("cache.gets", this, c -> c.count(false)).tag("cache", "adapters").tag("result", "miss")
                .description("adapter lookups that loaded the adapter from the artifact store").register(registry);
        FunctionCounter.builder("cache.evictions", this, AdapterCache::evictions).tag("cache", "adapters")
                .description("adapters evicted as least recently used").register(registry);
        Gauge.builder("cache.size", this, AdapterCache::size).tag("cache", "adapters")
                .description("adapters loaded in this process").register(registry);
        Gauge.builder("cache.bytes", this, AdapterCache::bytesHeld).tag("cache", "adapters")
                .description("bytes the loaded adapters hold (estimated)").register(registry);
    }

    private synchronized double count(boolean hit) {
        return hit ? hits : misses;
    }

    private synchronized double evictions() {
        return evictions;
    }
}
