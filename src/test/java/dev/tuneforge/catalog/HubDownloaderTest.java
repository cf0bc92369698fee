package dev.tuneforge.catalog;

import dev.tuneforge.engine.Stories;
import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HubDownloaderTest {
    private static final String REPO = "karpathy/stories-260k";

    @TempDir
    Path cache;

    @Test
    void downloadsVerifiesAndThenServesFromTheCache() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            HubDownloader d = new HubDownloader(hub.endpoint(), cache, null);
            Path dir = d.ensure(REPO, "main");
            for (String f : new String[]{"config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json", "model.safetensors"}) {
                assertArrayEquals(Files.readAllBytes(Stories.DIR.resolve(f)), Files.readAllBytes(dir.resolve(f)), f);
            }
            int requests = hub.requests.size();
            assertEquals(dir, d.ensure(REPO, "main"));
            assertEquals(requests, hub.requests.size(), "a complete cache needs no request");
            assertTrue(hub.requests.stream().anyMatch(r -> r.endsWith("model.safetensors.index.json")) == false);
        }
    }

    @Test
    void resumesAPartialFileWithARangeRequest() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            Path dir = cache.resolve("karpathy--stories-260k/main");
            Files.createDirectories(dir);
            byte[] full = Files.readAllBytes(Stories.DIR.resolve("model.safetensors"));
            Files.write(dir.resolve("model.safetensors.part"), Arrays.copyOf(full, full.length / 2));
            new HubDownloader(hub.endpoint(), cache, null).ensure(REPO, "main");
            assertTrue(hub.requests.contains("/" + REPO + "/resolve/main/model.safetensors bytes=" + full.length / 2 + "-"),
                    hub.requests.toString());
            assertArrayEquals(full, Files.readAllBytes(dir.resolve("model.safetensors")));
            assertFalse(Files.exists(dir.resolve("model.safetensors.part")));
        }
    }

    @Test
    void aCorruptDownloadIsRejectedAndNotKept() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            byte[] bad = Files.readAllBytes(Stories.DIR.resolve("model.safetensors"));
            bad[bad.length - 1] ^= 1;
            hub.corrupt.put("model.safetensors", bad);
            var e = assertThrows(UncheckedIOException.class, () -> new HubDownloader(hub.endpoint(), cache, null).ensure(REPO, "main"));
            assertTrue(e.getMessage().contains("SHA-256"), e.getMessage());
            Path dir = cache.resolve("karpathy--stories-260k/main");
            assertFalse(Files.exists(dir.resolve("model.safetensors")));
            assertFalse(Files.exists(dir.resolve("model.safetensors.part")));
            hub.corrupt.clear();
            new HubDownloader(hub.endpoint(), cache, null).ensure(REPO, "main");
            assertTrue(Files.exists(dir.resolve("model.safetensors")));
        }
    }

    @Test
    void unknownReposAndBadIdsFailClearly() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            HubDownloader d = new HubDownloader(hub.endpoint(), cache, null);
            var missing = assertThrows(IllegalArgumentException.class, () -> d.ensure("nobody/nothing", "main"));
            assertTrue(missing.getMessage().contains("has no config.json"), missing.getMessage());
            assertThrows(IllegalArgumentException.class, () -> d.ensure("../etc", "main"));
        }
    }

    @Test
    void aCatalogEntryFromTheHubLoadsAndGenerates() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            BaseModelCatalog catalog = new BaseModelCatalog().downloader(new HubDownloader(hub.endpoint(), cache, null))
                    .add(BaseModelCatalog.Entry.hub("stories-hub", REPO, "main", "Stories (Hub)", ""));
            var base = catalog.load(catalog.resolve("models/stories-hub"));
            assertArrayEquals(Tensors.toFloats(Stories.model().embedTokens()), Tensors.toFloats(base.model().embedTokens()));
        }
    }

    @Test
    void aServerConfigFileNamesHubModelsAndAliases() throws Exception {
        try (FakeHub hub = new FakeHub(REPO, "main", Stories.DIR)) {
            Path file = cache.resolve("tuneforge.json");
            Files.writeString(file, "{\"hubEndpoint\": \"" + hub.endpoint() + "\", \"hubCache\": \"hub\","
                    + " \"baseModels\": [{\"id\": \"stories-hub\", \"hubRepo\": \"" + REPO + "\"},],"
                    + " \"aliases\": {\"gemini-1.5-flash-001-tuning\": \"stories-hub\"}, \"lora\": {\"rank\": 4}}");
            var config = dev.tuneforge.api.ServerConfig.read(file, cache.resolve("data"));
            assertEquals(4, config.lora().rank());
            var entry = config.catalog().resolve("models/gemini-1.5-flash-001-tuning");
            assertEquals("stories-hub", entry.id());
            assertEquals(512, config.catalog().directory(entry).config().vocabSize());
            assertTrue(Files.exists(cache.resolve("hub/karpathy--stories-260k/main/model.safetensors")));
            assertEquals(ScalarType.Float.value, entry.dtype().value, "fp32 unless configured");
            Files.writeString(file, "{\"baseModels\": [{\"id\": \"a\", \"path\": \"m\"},"
                    + " {\"id\": \"b\", \"path\": \"m\", \"dtype\": \"bf16\"}]}");
            assertEquals(ScalarType.BFloat16.value,
                    dev.tuneforge.api.ServerConfig.read(file, cache).catalog().resolve("b").dtype().value);
            Files.writeString(file, "{\"baseModels\": [{\"id\": \"a\", \"path\": \"m\"},"
                    + " {\"id\": \"b\", \"path\": \"m\", \"dtype\": \"int8\"}]}");
            assertEquals(dev.tuneforge.engine.model.WeightDtype.INT8.value,
                    dev.tuneforge.api.ServerConfig.read(file, cache).catalog().resolve("b").dtype().value);
            Files.writeString(file, "{\"baseModels\": [{\"id\": \"a\", \"path\": \"m\"},"
                    + " {\"id\": \"b\", \"path\": \"m\", \"dtype\": \"fp8\"}]}");
            var e = assertThrows(IllegalArgumentException.class, () -> dev.tuneforge.api.ServerConfig.read(file, cache));
            assertTrue(e.getMessage().contains("baseModels[1].dtype must be fp32, bf16, int8 or auto"), e.getMessage());
            Files.writeString(file, "{\"baseModels\": [{\"id\": \"x\"}]}");
            assertThrows(IllegalArgumentException.class, () -> dev.tuneforge.api.ServerConfig.read(file, cache));
        }
    }
}
