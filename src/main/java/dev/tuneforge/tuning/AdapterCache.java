package dev.tuneforge.tuning;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tuneforge.engine.lora.LoraAdapter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.cache.CaffeineCacheMetrics;

import java.util.function.Function;

/**
 * The adapters this process has loaded from the artifact store, at most {@code maximumSize}, the least recently
 * used evicted first (Caffeine's size-bounded policy). Keyed by the model's uid: a uid is never reused, and a
 * model's adapter is stored once, before the model turns ACTIVE, and never changed after, so an entry cannot go
 * stale; a deleted model is never looked up again because every request reads the model's row first.
 */
public final class AdapterCache {
    public static final int DEFAULT_SIZE = 32;
    private final Cache<String, LoraAdapter> cache;

    public AdapterCache(int maximumSize) {
        if (maximumSize < 1) {
            throw new IllegalArgumentException("serving.adapterCacheSize must be at least 1, got " + maximumSize);
        }
        this.cache = Caffeine.newBuilder().maximumSize(maximumSize).recordStats().build();
    }

    /** The cached adapter of {@code uid}, else {@code load}'s (loaded once when requests for it race). */
    LoraAdapter get(String uid, Function<String, LoraAdapter> load) {
        return cache.get(uid, load);
    }

    void evict(String uid) {
        cache.invalidate(uid);
    }

    /** Exposes hits, misses, evictions and size as {@code cache_*{cache="adapters"}}. */
    public void bindTo(MeterRegistry registry) {
        CaffeineCacheMetrics.monitor(registry, cache, "adapters");
    }

    long size() {
        cache.cleanUp();
        return cache.estimatedSize();
    }
}
