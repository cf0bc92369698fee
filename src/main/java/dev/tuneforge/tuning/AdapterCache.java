package dev.tuneforge.tuning;

import dev.tuneforge.engine.lora.LoraAdapter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;

/**
 * The adapters this process has loaded from the artifact store: at most {@code maximumSize}, the least recently
 * used evicted first. Requests racing for an adapter not yet loaded wait for one load.
 * <p>
 * Keyed by the model's uid: a uid is never reused, and a model's adapter is stored once, before the model turns
 * ACTIVE, and never changed after, so an entry cannot go stale; a deleted model is never looked up again because
 * every request reads the model's row first.
 */
public final class AdapterCache {
    public static final int DEFAULT_SIZE = 32;
    private final Map<String, CompletableFuture<LoraAdapter>> entries;
    private long hits;
    private long misses;
    private long evictions;

    public AdapterCache(int maximumSize) {
        if (maximumSize < 1) {
            throw new IllegalArgumentException("serving.adapterCacheSize must be at least 1, got " + maximumSize);
        }
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, CompletableFuture<LoraAdapter>> eldest) {
                boolean evict = size() > maximumSize;
                if (evict) {
                    evictions++;
                }
                return evict;
            }
        };
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
            } else {
                hits++;
            }
        }
        if (loadHere) {
            try {
                entry.complete(load.apply(uid));
            } catch (RuntimeException | Error e) {
                synchronized (this) {
                    entries.remove(uid, entry);
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
    }

    private synchronized double count(boolean hit) {
        return hit ? hits : misses;
    }

    private synchronized double evictions() {
        return evictions;
    }
}
