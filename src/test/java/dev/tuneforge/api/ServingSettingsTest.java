package dev.tuneforge.api;

import dev.tuneforge.engine.lora.AdapterDtype;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The config file's "serving" section: generation capacity, the adapter cache, defaults, and errors that name the key. */
class ServingSettingsTest {
    @TempDir
    Path dir;

    private ServerConfig read(String serving) throws IOException {
        Path file = dir.resolve("tuneforge.json");
        Files.writeString(file, "{\"baseModels\": [{\"id\": \"stories-260k\", \"path\": \"models/stories-260k\"}]"
                + (serving == null ? "" : ", \"serving\": " + serving) + "}");
        return ServerConfig.read(file, dir.resolve("data"));
    }

    @Test
    void valuesDefaultsAndErrorsNamingTheKey() throws IOException {
        assertEquals(ServerConfig.Serving.defaults(), read(null).serving());
        assertEquals(new ServerConfig.Serving(4, 0), read("{\"maxConcurrentGenerations\": 4, \"maxQueuedGenerations\": 0}")
                .serving());
        String words = assertThrows(IllegalArgumentException.class,
                () -> read("{\"maxConcurrentGenerations\": \"ten\"}")).getMessage();
        assertTrue(words.contains("serving.maxConcurrentGenerations must be a whole number"), words);
        String zero = assertThrows(IllegalArgumentException.class,
                () -> read("{\"maxConcurrentGenerations\": 0}")).getMessage();
        assertTrue(zero.contains("serving.maxConcurrentGenerations must be at least 1"), zero);
        String negative = assertThrows(IllegalArgumentException.class,
                () -> read("{\"maxQueuedGenerations\": -1}")).getMessage();
        assertTrue(negative.contains("serving.maxQueuedGenerations must not be negative"), negative);
        assertEquals(3, read("{\"adapterCacheSize\": 3}").serving().adapterCacheSize());
        String noCache = assertThrows(IllegalArgumentException.class,
                () -> read("{\"adapterCacheSize\": 0}")).getMessage();
        assertTrue(noCache.contains("serving.adapterCacheSize must be at least 1"), noCache);
        assertEquals(5_000_000_000L, read("{\"adapterCacheBytes\": 5000000000}").serving().adapterCacheBytes());
        String noBytes = assertThrows(IllegalArgumentException.class,
                () -> read("{\"adapterCacheBytes\": 0}")).getMessage();
        assertTrue(noBytes.contains("serving.adapterCacheBytes must be at least 1"), noBytes);
        String halfBytes = assertThrows(IllegalArgumentException.class,
                () -> read("{\"adapterCacheBytes\": 1.5}")).getMessage();
        assertTrue(halfBytes.contains("serving.adapterCacheBytes must be a whole number"), halfBytes);
        assertEquals(AdapterDtype.AUTO, read(null).serving().adapterDtype());
        assertEquals(AdapterDtype.FP32, read("{\"adapterDtype\": \"fp32\"}").serving().adapterDtype());
        assertEquals(AdapterDtype.BF16, read("{\"adapterDtype\": \"bf16\"}").serving().adapterDtype());
        for (String bad : new String[]{"\"half\"", "16", "true"}) {
            String dtype = assertThrows(IllegalArgumentException.class,
                    () -> read("{\"adapterDtype\": " + bad + "}")).getMessage();
            assertTrue(dtype.contains("serving.adapterDtype must be auto, fp32 or bf16"), dtype);
        }
    }
}
