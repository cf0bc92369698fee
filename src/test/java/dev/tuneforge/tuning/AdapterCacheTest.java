package dev.tuneforge.tuning;

import dev.tuneforge.engine.Stories;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.ServedAdapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.BatchDecoders;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-process adapter cache: bounded, least recently used out first, one load for racing requests. */
class AdapterCacheTest {
    private final List<String> loads = new ArrayList<>();

    private void get(AdapterCache cache, String uid) {
        cache.get(uid, u -> {
            synchronized (loads) {
                loads.add(u);
            }
            return null;
        });
    }

    @Test
    void theLeastRecentlyUsedAdapterIsEvictedFirst() {
        AdapterCache cache = new AdapterCache(2);
        get(cache, "a");
        get(cache, "b");
        get(cache, "a");
        get(cache, "c");
        get(cache, "a");
        get(cache, "b");
        assertEquals(List.of("a", "b", "c", "b"), loads, "b was least recently used when c came");
        assertEquals(2, cache.size());
    }

    @Test
    void adaptersOverTheByteBudgetAreEvictedLeastRecentlyUsedFirstButTheNewestStays() {
        List<LoraAdapter> adapters = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            adapters.add(LoraAdapter.initialize(Stories.model(), LoraConfig.defaults(), i));
        }
        long one = ServedAdapter.of(adapters.getFirst(), false).servingBytes();
        assertTrue(one > 0, "an adapter has a size");
        AdapterCache cache = new AdapterCache(10, 2 * one + one / 2);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        cache.bindTo(registry);
        for (String uid : List.of("a", "b", "a", "c", "a", "b")) {
            cache.get(uid, u -> {
                loads.add(u);
                return ServedAdapter.of(adapters.get(u.charAt(0) - 'a'), false);
            });
        }
        assertEquals(List.of("a", "b", "c", "b"), loads, "two fit the budget: b was least recently used when c came");
        assertEquals(2, cache.size());
        assertEquals(2.0 * one, registry.get("cache.bytes").gauge().value());

        AdapterCache tiny = new AdapterCache(10, 1);
        tiny.get("a", u -> ServedAdapter.of(adapters.getFirst(), false));
        assertEquals(1, tiny.size(), "an adapter over the whole budget is still served");
        tiny.get("b", u -> ServedAdapter.of(adapters.get(1), false));
        assertEquals(1, tiny.size());
        assertEquals(one, tiny.bytesHeld());
    }

    /**
     * Eviction frees an adapter's memory at once where nothing else holds it; a request's hold (and a running
     * sequence's) keeps it until given back.
     */
    @Test
    void anEvictedAdapterIsFreedWhenItsLastHolderLetsGo() {
        LoraAdapter trained = LoraAdapter.initialize(Stories.model(), LoraConfig.defaults(), 1);
        List<ServedAdapter> loaded = new ArrayList<>();
        AdapterCache cache = new AdapterCache(1);
        java.util.function.Function<String, ServedAdapter> load = u -> {
            ServedAdapter adapter = ServedAdapter.of(trained, false);
            loaded.add(adapter);
            return adapter;
        };
        ServedAdapter a = cache.get("a", load);
        ServedAdapter b = cache.get("b", load);
        assertEquals(List.of(a, b), loaded);
        assertFalse(a.released(), "evicted, but the first request still holds it");
        a.release();
        assertTrue(a.released(), "freed when the request let go");
        b.release();
        assertFalse(b.released(), "the cache holds it");
        assertEquals(b.servingBytes(), cache.bytesHeld());

        try (BatchDecoder decoder = BatchDecoders.forModel(Stories.model())) {
            ServedAdapter again = cache.get("b", load);
            assertEquals(b, again, "a hit");
            BatchDecoder.Sequence sequence = decoder.open(again, 8);
            again.release();
            cache.evict("b");
            assertFalse(b.released(), "a running sequence holds it");
            sequence.close();
            assertTrue(b.released(), "freed when the sequence ended");
        }
        assertEquals(0, cache.bytesHeld());
        ServedAdapter reloaded = cache.get("b", load);
        assertEquals(3, loaded.size(), "an evicted adapter is loaded again");
        assertFalse(reloaded.released());
    }

    @Test
    void hitsMissesAndEvictionsAreCounted() {
        AdapterCache cache = new AdapterCache(1);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        cache.bindTo(registry);
        get(cache, "a");
        get(cache, "a");
        get(cache, "b");
        assertEquals(1.0, registry.get("cache.gets").tag("result", "hit").functionCounter().count());
        assertEquals(2.0, registry.get("cache.gets").tag("result", "miss").functionCounter().count());
        assertEquals(1.0, registry.get("cache.evictions").functionCounter().count());
        assertEquals(1.0, registry.get("cache.size").gauge().value());
    }

    @Test
    void aFailedLoadIsNotCachedAndAnEvictedModelLoadsAgain() {
        AdapterCache cache = new AdapterCache(4);
        assertThrows(IllegalStateException.class, () -> cache.get("a", u -> {
            throw new IllegalStateException("unreadable");
        }));
        get(cache, "a");
        cache.evict("a");
        get(cache, "a");
        assertEquals(List.of("a", "a"), loads);
    }

    @Test
    void requestsRacingForOneAdapterWaitForOneLoad() throws Exception {
        AdapterCache cache = new AdapterCache(4);
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            Future<?> first = pool.submit(() -> cache.get("a", u -> {
                loads.add(u);
                loading.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                }
                return null;
            }));
            loading.await();
            List<Future<?>> others = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                others.add(pool.submit(() -> get(cache, "a")));
            }
            release.countDown();
            first.get();
            for (Future<?> f : others) {
                f.get();
            }
            assertEquals(List.of("a"), loads);
        } finally {
            pool.shutdownNow();
        }
    }
}
