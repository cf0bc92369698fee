package dev.tuneforge.engine;

import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.model.WeightDtype;
import dev.tuneforge.engine.tensor.Safetensors;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A base's matrices prepared once in a file and memory-mapped (PreparedWeights): the first load writes the file, later
 * loads map it instead of reading the checkpoint's matrices (projections, embedding, head), and every path computes what the model held in
 * memory computes, bit for bit.
 */
class PreparedWeightsTest {
    private static final long[] IDS = {1, 17, 250, 3, 99, 400, 12};

    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"fp32", "bf16", "int8"})
    void aSecondLoadMapsTheFileTheFirstWroteInsteadOfReadingTheMatrices(String dtypeName) throws IOException {
        ScalarType dtype = WeightDtype.parse(dtypeName, "dtype");
        // bf16 with an untied head, the others tied
        boolean tied = !dtypeName.equals("bf16");
        Path dir = TinyModels.write(tmp.resolve("model"), new TinyModels.Spec("llama", tied, 2, false, ScalarType.Float, 1), 3);
        Path prepared = tmp.resolve("prepared");
        LlamaModel inMemory = LlamaModel.load(new HfModelDirectory(dir), dtype);
        assertNull(inMemory.preparedWeightsFile());

        LlamaModel first = LlamaModel.load(new HfModelDirectory(dir), dtype, prepared);
        Path file = first.preparedWeightsFile();
        assertNotNull(file, "prepared on the first load");
        assertTrue(Files.isRegularFile(file));
        assertEquals(List.of(file), files(prepared), "the file under its final name, nothing partial left");
        assertTrue(mapped(file), "the first load's matrices are the file's mapping");

        // the checkpoint's matrices overwritten, its size and time kept: a load that read them would differ
        overwriteMatrices(dir.resolve("model.safetensors"));
        LlamaModel second = LlamaModel.load(new HfModelDirectory(dir), dtype, prepared);
        assertEquals(file, second.preparedWeightsFile());

        float[] want = logits(inMemory);
        assertArrayEquals(want, logits(first), "first load, " + dtypeName);
        assertArrayEquals(want, logits(second), "second load (mapped, checkpoint's matrices not read), " + dtypeName);
        assertFalse(java.util.Arrays.equals(want, logits(LlamaModel.load(new HfModelDirectory(dir), dtype))),
                "the overwritten checkpoint does give other logits when read");
        float[][] batched = batchedLogits(inMemory);
        float[][] mappedBatched = batchedLogits(second);
        for (int p = 0; p < IDS.length; p++) {
            assertArrayEquals(batched[p], mappedBatched[p], "batched decoder, position " + p);
        }
    }

    /**
     * A changed checkpoint is prepared again under another name and its earlier version's file removed (a model still
     * mapping it keeps decoding); another dtype's file and another checkpoint's stay.
     */
    @Test
    void aChangedCheckpointIsPreparedAgainUnderAnotherNameAndTheEarlierFileRemoved() throws IOException {
        Path dir = TinyModels.write(tmp.resolve("model"), TinyModels.Spec.llama(), 4);
        Path other = TinyModels.write(tmp.resolve("other"), TinyModels.Spec.llama(), 6);
        Path prepared = tmp.resolve("prepared");
        LlamaModel beforeModel = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared);
        Path before = beforeModel.preparedWeightsFile();
        float[] beforeLogits = logits(beforeModel);
        Path asBf16 = LlamaModel.load(new HfModelDirectory(dir), ScalarType.BFloat16, prepared).preparedWeightsFile();
        Path otherFile = LlamaModel.load(new HfModelDirectory(other), ScalarType.Float, prepared).preparedWeightsFile();
        assertEquals(3, files(prepared).size());

        Path weights = dir.resolve("model.safetensors");
        Files.setLastModifiedTime(weights, FileTime.fromMillis(Files.getLastModifiedTime(weights).toMillis() + 5_000));
        LlamaModel after = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared);
        assertNotEquals(before, after.preparedWeightsFile());
        assertArrayEquals(logits(LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float)), logits(after));
        assertEquals(List.of(after.preparedWeightsFile(), asBf16, otherFile).stream().sorted().toList(),
                files(prepared), "the earlier version's file removed, the bf16 one and the other checkpoint's kept");
        assertTrue(mapped(after.preparedWeightsFile()));
        assertArrayEquals(beforeLogits, logits(beforeModel), "the model mapping the removed file decodes as before");
    }

    /** A file cut short or whose header is not the one written last (a load that died midway) is not used. */
    @Test
    void anIncompleteFileIsPreparedAgain() throws IOException {
        Path dir = TinyModels.write(tmp.resolve("model"), TinyModels.Spec.llama(), 5);
        Path prepared = tmp.resolve("prepared");
        Path file = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared).preparedWeightsFile();
        float[] want = logits(LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float));
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.write(ByteBuffer.wrap(new byte[16]), 0);
        }
        LlamaModel again = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared);
        assertArrayEquals(want, logits(again), "header zeroed");
        assertTrue(mapped(again.preparedWeightsFile()));
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(channel.size() - 64);
        }
        assertArrayEquals(want, logits(LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared)),
                "cut short");
        assertEquals(List.of(file), files(prepared));
    }

    /** A partial file whose process is gone (a load killed midway) is removed; one of a live process is left. */
    @Test
    void partialFilesOfDeadProcessesAreRemoved() throws IOException {
        Path dir = TinyModels.write(tmp.resolve("model"), TinyModels.Spec.llama(), 7);
        Path prepared = Files.createDirectories(tmp.resolve("prepared"));
        Process gone = new ProcessBuilder("true").start();
        try {
            gone.waitFor();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        Path dead = Files.writeString(prepared.resolve("0123.partial-" + gone.pid()), "half a file");
        Path alive = Files.writeString(prepared.resolve("4567.partial-" + ProcessHandle.current().pid()), "busy");
        Path file = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, prepared).preparedWeightsFile();
        assertEquals(List.of(alive, file).stream().sorted().toList(), files(prepared));
        assertFalse(Files.exists(dead));
    }

    @Test
    void whereNoFileCanBeWrittenTheMatricesStayInMemory() throws IOException {
        Path dir = TinyModels.write(tmp.resolve("model"), TinyModels.Spec.llama(), 6);
        Path notADirectory = Files.writeString(tmp.resolve("taken"), "a file where the directory would be");
        LlamaModel model = LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float, notADirectory);
        assertNull(model.preparedWeightsFile());
        assertArrayEquals(logits(LlamaModel.load(new HfModelDirectory(dir), ScalarType.Float)), logits(model));
    }

    private static float[] logits(LlamaModel model) {
        return ModelReferenceTest.logits(model, IDS);
    }

    private static float[][] batchedLogits(LlamaModel model) {
        try (BatchDecoder decoder = TeamBatchDecoderTest.batchDecoder(model)) {
            return TeamBatchDecoderTest.decode(decoder, null, IDS, 3);
        }
    }

    private static List<Path> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    /** Whether this process maps {@code file} (/proc/self/maps names it). */
    private static boolean mapped(Path file) throws IOException {
        String path = file.toRealPath().toString();
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(line -> line.endsWith(path));
    }

    /**
     * Overwrites the bytes of a projection (layer 0's query), the embedding and the head where there is one with
     * others, keeping the file's size and time.
     */
    private static void overwriteMatrices(Path weights) throws IOException {
        FileTime time = Files.getLastModifiedTime(weights);
        Safetensors.Header header = Safetensors.readHeader(weights);
        Random random = new Random(1);
        for (String name : List.of("model.layers.0.self_attn.q_proj.weight", "model.embed_tokens.weight",
                "lm_head.weight")) {
            Safetensors.Entry e = header.entries().get(name);
            if (e == null) {
                continue;
            }
            byte[] noise = new byte[(int) (e.end() - e.begin())];
            random.nextBytes(noise);
            for (int i = 3; i < noise.length; i += 4) {
                noise[i] = (byte) (noise[i] & 0x3f); // fp32 values of modest size, no NaN
            }
            try (FileChannel channel = FileChannel.open(weights, StandardOpenOption.WRITE)) {
                channel.write(ByteBuffer.wrap(noise), header.dataStart() + e.begin());
            }
        }
        Files.setLastModifiedTime(weights, time);
    }
}
