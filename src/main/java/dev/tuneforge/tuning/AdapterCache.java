package dev.tuneforge.tuning;

import dev.tuneforge.engine.lora.AdapterDtype;
import dev.tuneforge.engine.lora.ServedAdapter;
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
 * about {@code maximumBytes} ({@link ServedAdapter#servingBytes}), the least recently used evicted first (the adapter
 * just loaded stays, even alone over the budget). Requests racing for an adapter not yet loaded wait for one load.
 * <p>
 * The cache holds each adapter once ({@link ServedAdapter#retain}) and gives a hold of its own to every caller, who
 * releases it when done; an evicted adapter still serves the requests and sequences that hold it, and its memory is
 * freed when the last of them releases it (at once where none does).
 * <p>
 * Keyed by the model's uid: a uid is never reused, and a model's adapter is stored once, before the model turns
 * ACTIVE, and never changed after, so an entry cannot go stale; a deleted model is never looked up again because
 * every request reads the model's row first.
 */
public final class AdapterCache {
    public static final int DEFAULT_SIZE = 32;
    public static final long DEFAULT_BYTES = 2L << 30;
    private final Map<String, CompletableFuture<ServedAdapter>> entries = new LinkedHashMap<>(16, 0.75f, true);
    private final Map<String, Long> bytes = new HashMap<>();
    private final int maximumSize;
    private final long maximumBytes;
    private final AdapterDtype dtype;
    private long bytesHeld;
    private long hits;
    private long misses;
    private long evictions;

    public AdapterCache(int maximumSize) {
        this(maximumSize, DEFAULT_BYTES);
    }

    public AdapterCache(int maximumSize, long maximumBytes) {
        this(maximumSize, maximumBytes, AdapterDtype.AUTO);
    }

    /** As {@link #AdapterCache(int, long)}, the adapters loaded held as {@code dtype} says. */
    public AdapterCache(int maximumSize, long maximumBytes, AdapterDtype dtype) {
        if (maximumSize < 1) {
            throw new IllegalArgumentException("serving.adapterCacheSize must be at least 1, got " + maximumSize);
        }
        if (maximumBytes < 1) {
            throw new IllegalArgumentException("serving.adapterCacheBytes must be at least 1, got " + maximumBytes);
        }
        this.maximumSize = maximumSize;
        this.maximumBytes = maximumBytes;
        this.dtype = dtype;
    }

    /** How the adapters loaded into this cache hold their matrices ({@code serving.adapterDtype}). */
    public AdapterDtype dtype() {
        return dtype;
    }

    /**
     * The cached adapter of {@code uid}, else {@code load}'s (which hands its hold to the cache), with a hold for the
     * caller, who must {@link ServedAdapter#release} it; a failed load is not cached.
     */
    ServedAdapter get(String uid, Function<String, ServedAdapter> load) {
        while (true) {
            CompletableFuture<ServedAdapter> entry;
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
                return load(uid, entry, load);
            }
            ServedAdapter adapter;
            try {
                adapter = entry.join();
            } catch (CompletionException e) {
                // another request's load failed: this one fails the same way
                throw e.getCause() instanceof RuntimeException r ? r : e;
            }
            if (adapter == null || adapter.retain()) {
                return adapter;
            }
            // evicted and freed between its load and now: look it up (load it) again
        }
    }

    /**
     * Runs {@code load} for {@code entry} and completes it. The adapter comes with one hold: the cache's where the
     * entry is still cached, else (evicted during the load) the caller's, which then takes no other.
     */
    private ServedAdapter load(String uid, CompletableFuture<ServedAdapter> entry,
                               Function<String, ServedAdapter> load) {
        ServedAdapter adapter;
        try {
            adapter = load.apply(uid);
            if (adapter != null && adapter.released()) {
                throw new IllegalStateException("the load of " + uid + " gave an adapter already released");
            }
        } catch (RuntimeException | Error e) {
            synchronized (this) {
                if (entries.remove(uid, entry)) {
                    forget(uid);
                }
            }
            entry.completeExceptionally(e);
            throw e;
        }
        synchronized (this) {
            if (entries.get(uid) == entry) {
                long size = adapter == null ? 0 : adapter.servingBytes();
                bytes.put(uid, size);
                bytesHeld += size;
                evictOverBudget(uid);
                entry.complete(adapter);
                if (adapter != null) {
                    // the load's hold is the cache's; the caller's (cached and kept just now: cannot fail)
                    adapter.retain();
                }
                return adapter;
            }
        }
        // evicted while loading: the load's hold is the caller's; requests waiting on the entry retain it if they can
        entry.complete(adapter);
        return adapter;
    }

    synchronized void evict(String uid) {
        CompletableFuture<ServedAdapter> entry = entries.remove(uid);
        forget(uid);
        releaseLoaded(entry);
    }

    /** Evicts the least recently used entries but {@code keep} while over the count or the byte budget. */
    private void evictOverBudget(String keep) {
        for (var it = entries.entrySet().iterator(); it.hasNext() && (entries.size() > maximumSize
                || bytesHeld > maximumBytes); ) {
            var entry = it.next();
            if (!entry.getKey().equals(keep)) {
                it.remove();
                forget(entry.getKey());
                releaseLoaded(entry.getValue());
                evictions++;
            }
        }
    }

    /** Gives back the cache's hold on an entry's adapter where it was loaded (a load in progress keeps its own). */
    private static void releaseLoaded(CompletableFuture<ServedAdapter> entry) {
        if (entry != null && entry.isDone() && !entry.isCompletedExceptionally()) {
            ServedAdapter adapter = entry.join();
            if (adapter != null) {
                adapter.release();
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
