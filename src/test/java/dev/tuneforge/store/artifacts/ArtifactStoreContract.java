package dev.tuneforge.store.artifacts;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every artifact store guarantees, run against each implementation: adapters and checkpoints come back as
 * saved, a save is visible whole or not at all (also to readers racing with it), a failed save leaves the previous
 * artifact as it was, deletes are per model.
 */
abstract class ArtifactStoreContract {
    @TempDir
    Path tmp;
    ArtifactStore store;

    abstract ArtifactStore open(Path tmp) throws Exception;

    @BeforeEach
    void openStore() throws Exception {
        store = open(tmp);
    }

    @AfterEach
    void closeStore() {
        store.close();
    }

    @Test
    void anAdapterComesBackFileForFile() {
        Map<String, byte[]> files = Map.of("adapter_config.json", bytes("{\"r\": 8}"),
                "adapter_model.safetensors", randomBytes(300_000, 1));
        store.saveAdapter("m1", dir -> write(dir, files));
        Map<String, byte[]> read = store.readAdapter("m1", ArtifactStoreContract::readAll);
        assertEquals(files.keySet(), read.keySet());
        files.forEach((name, content) -> assertArrayEquals(content, read.get(name), name));
    }

    @Test
    void aModelWithoutAnAdapterIsMissingNotBroken() {
        assertThrows(MissingArtifactException.class, () -> store.readAdapter("never-saved", ArtifactStoreContract::readAll));
    }

    @Test
    void aSaveReplacesTheWholeAdapter() {
        store.saveAdapter("m1", dir -> write(dir, Map.of("a", bytes("old a"), "b", bytes("old b"))));
        store.saveAdapter("m1", dir -> write(dir, Map.of("a", bytes("new a"), "c", bytes("new c"))));
        Map<String, byte[]> read = store.readAdapter("m1", ArtifactStoreContract::readAll);
        assertEquals(List.of("a", "c"), List.copyOf(read.keySet()));
        assertEquals("new a", new String(read.get("a"), StandardCharsets.UTF_8));
    }

    @Test
    void aSaveThatFailsHalfwayLeavesNothingOrThePreviousAdapter() {
        assertThrows(IllegalStateException.class, () -> store.saveAdapter("fresh", dir -> {
            write(dir, Map.of("adapter_config.json", bytes("{}")));
            throw new IllegalStateException("disk gone while writing the weights");
        }));
        assertThrows(MissingArtifactException.class, () -> store.readAdapter("fresh", ArtifactStoreContract::readAll));

        store.saveAdapter("kept", dir -> write(dir, Map.of("a", bytes("first"), "b", bytes("first"))));
        assertThrows(IllegalStateException.class, () -> store.saveAdapter("kept", dir -> {
            write(dir, Map.of("a", bytes("second")));
            throw new IllegalStateException("failed before b");
        }));
        Map<String, byte[]> read = store.readAdapter("kept", ArtifactStoreContract::readAll);
        assertEquals("first", new String(read.get("a"), StandardCharsets.UTF_8));
        assertEquals("first", new String(read.get("b"), StandardCharsets.UTF_8));
    }

    /** Readers racing with saves see one save's files, all of them, or (between two saves) none. */
    @Test
    void readersRacingWithSavesNeverSeeAMixOrAPart() throws Exception {
        int fileSize = 64 * 1024;
        store.saveAdapter("race", dir -> write(dir, generation(0, fileSize)));
        AtomicBoolean saving = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            Future<Integer> reads = pool.submit(() -> {
                int complete = 0;
                while (saving.get()) {
                    try {
                        Map<String, byte[]> files = store.readAdapter("race", ArtifactStoreContract::readAll);
                        assertEquals(3, files.size(), files.keySet().toString());
                        byte marker = files.get("f0")[0];
                        for (byte[] content : files.values()) {
                            assertEquals(fileSize, content.length);
                            for (byte b : content) {
                                assertEquals(marker, b, "files of two saves mixed");
                            }
                        }
                        complete++;
                    } catch (MissingArtifactException between) {
                        // the previous save is gone and the next not yet visible: allowed
                    }
                }
                return complete;
            });
            for (int g = 1; g <= 20; g++) {
                int generation = g;
                store.saveAdapter("race", dir -> write(dir, generation(generation, fileSize)));
            }
            saving.set(false);
            assertTrue(reads.get() > 0, "the reader read at least one complete adapter");
        } finally {
            saving.set(false);
            pool.shutdownNow();
        }
    }

    @Test
    void aCheckpointIsReplacedWholeAndDeleted() {
        assertTrue(store.readCheckpoint("m1", ArtifactStoreContract::readFile).isEmpty());
        byte[] first = randomBytes(200_000, 2);
        byte[] second = randomBytes(100_000, 3);
        store.saveCheckpoint("m1", file -> write(file, first));
        assertArrayEquals(first, store.readCheckpoint("m1", ArtifactStoreContract::readFile).orElseThrow());
        store.saveCheckpoint("m1", file -> write(file, second));
        assertArrayEquals(second, store.readCheckpoint("m1", ArtifactStoreContract::readFile).orElseThrow());

        assertThrows(IllegalStateException.class, () -> store.saveCheckpoint("m1", file -> {
            write(file, new byte[10]);
            throw new IllegalStateException("process stopped while writing");
        }));
        assertArrayEquals(second, store.readCheckpoint("m1", ArtifactStoreContract::readFile).orElseThrow(),
                "a failed save leaves the previous checkpoint");

        store.deleteCheckpoint("m1");
        assertTrue(store.readCheckpoint("m1", ArtifactStoreContract::readFile).isEmpty());
        store.deleteCheckpoint("m1");
    }

    @Test
    void checkpointReadsRacingWithSavesGetOneWholeCheckpoint() throws Exception {
        int size = 256 * 1024;
        store.saveCheckpoint("race", file -> write(file, filled((byte) 0, size)));
        AtomicBoolean saving = new AtomicBoolean(true);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<Integer> reads = pool.submit(() -> {
                int n = 0;
                while (saving.get()) {
                    byte[] content = store.readCheckpoint("race", ArtifactStoreContract::readFile).orElseThrow();
                    assertEquals(size, content.length);
                    for (byte b : content) {
                        assertEquals(content[0], b, "parts of two checkpoints");
                    }
                    n++;
                }
                return n;
            });
            for (int g = 1; g <= 20; g++) {
                byte marker = (byte) g;
                store.saveCheckpoint("race", file -> write(file, filled(marker, size)));
            }
            saving.set(false);
            assertTrue(reads.get() > 0);
        } finally {
            saving.set(false);
            pool.shutdownNow();
        }
    }

    @Test
    void deleteRemovesOneModelsArtifactsOnly() {
        for (String uid : List.of("gone", "stays")) {
            store.saveAdapter(uid, dir -> write(dir, Map.of("a", bytes(uid))));
            store.saveCheckpoint(uid, file -> write(file, bytes(uid)));
        }
        store.delete("gone");
        assertThrows(MissingArtifactException.class, () -> store.readAdapter("gone", ArtifactStoreContract::readAll));
        assertTrue(store.readCheckpoint("gone", ArtifactStoreContract::readFile).isEmpty());
        assertEquals("stays", new String(store.readAdapter("stays", ArtifactStoreContract::readAll).get("a"),
                StandardCharsets.UTF_8));
        assertArrayEquals(bytes("stays"), store.readCheckpoint("stays", ArtifactStoreContract::readFile).orElseThrow());
        store.delete("gone");
        store.delete("never-existed");
    }

    @Test
    void aWorkingStorePassesItsCheck() {
        store.check();
    }

    // ---- helpers

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new java.util.Random(seed).nextBytes(b);
        return b;
    }

    private static byte[] filled(byte marker, int size) {
        byte[] b = new byte[size];
        java.util.Arrays.fill(b, marker);
        return b;
    }

    private static Map<String, byte[]> generation(int g, int size) {
        Map<String, byte[]> files = new TreeMap<>();
        for (int i = 0; i < 3; i++) {
            files.put("f" + i, filled((byte) g, size));
        }
        return files;
    }

    static void write(Path dir, Map<String, byte[]> files) {
        files.forEach((name, content) -> write(dir.resolve(name), content));
    }

    static void write(Path file, byte[] content) {
        try {
            Files.write(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] readFile(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Map<String, byte[]> readAll(Path dir) {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.toList()) {
                out.put(f.getFileName().toString(), readFile(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }
}
