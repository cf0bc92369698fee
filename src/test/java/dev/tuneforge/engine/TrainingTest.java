package dev.tuneforge.engine;

import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import dev.tuneforge.engine.train.BatchSchedule;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.StepReport;
import dev.tuneforge.engine.train.TrainingCancelledException;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.engine.train.TrainingOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingTest {
    @TempDir
    Path tmp;

    @Test
    void totalStepsCountAsTheGeminiApiDoes() {
        assertEquals(38, new BatchSchedule(15, 5, 2, 1).totalSteps());
        assertEquals(19, new BatchSchedule(15, 5, 4, 1).totalSteps());
        assertEquals(1, new BatchSchedule(1, 1, 4, 1).totalSteps());
        assertEquals(5, new BatchSchedule(15, 5, 2, 1).epochOf(38) );
    }

    @Test
    void everyEpochVisitsEveryExampleOnceInASeededOrder() {
        BatchSchedule s = new BatchSchedule(15, 5, 2, 9);
        List<Integer> slots = new ArrayList<>();
        for (int step = 1; step <= s.totalSteps(); step++) {
            for (int i : s.batch(step)) {
                slots.add(i);
            }
        }
        assertEquals(75, slots.size());
        for (int e = 0; e < 5; e++) {
            assertEquals(15, new HashSet<>(slots.subList(e * 15, e * 15 + 15)).size());
        }
        assertTrue(!slots.subList(0, 15).equals(slots.subList(15, 30)), "epochs are reshuffled");
        assertArrayEquals(s.batch(7), new BatchSchedule(15, 5, 2, 9).batch(7));
        assertTrue(!Arrays.equals(s.batch(1), new BatchSchedule(15, 5, 2, 10).batch(1))
                || !Arrays.equals(s.batch(2), new BatchSchedule(15, 5, 2, 10).batch(2)), "seed changes the order");
    }

    @Test
    void lossIsOnlyOnOutputTokensAndTheFormatAppendsEos() {
        PromptFormat f = new PromptFormat(Stories.tokenizer());
        PromptFormat.TrainingSequence s = f.trainingSequence("twenty two", "twenty three");
        long[] prompt = f.promptIds("twenty two");
        assertArrayEquals(prompt, Arrays.copyOf(s.ids(), s.labelStart()));
        assertEquals(2, s.ids()[s.length() - 1]);
        long[] output = Arrays.copyOfRange(s.ids(), s.labelStart(), s.length() - 1);
        assertEquals("twenty three", Stories.tokenizer().decode(output));
        assertArrayEquals(new long[]{2}, f.addedTokenIds());
        assertEquals(Set.of(2L), f.stopIds());
    }

    @Test
    void checkpointResumeGivesTheSameAdapterAsAnUninterruptedRun() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), TinyModels.Spec.llama(), 4)),
                ScalarType.Float);
        PromptFormat format = new PromptFormat(Stories.tokenizer());
        TrainingOptions options = TrainingOptions.defaults().withEpochs(3).withBatchSize(4).withLearningRate(0.01)
                .withLora(LoraConfig.defaults(2)).withCheckpointEvery(3);
        List<TrainingExample> data = SeedExamples.NUMBERS;

        LoraTrainer straight = new LoraTrainer(model, format, data, options);
        List<Double> straightLosses = new ArrayList<>();
        straight.train(r -> straightLosses.add(r.meanLoss()));

        Path checkpoint = tmp.resolve("ckpt.safetensors");
        LoraTrainer first = new LoraTrainer(model, format, data, options);
        int[] seen = {0};
        assertThrows(TrainingCancelledException.class, () -> first.train(r -> seen[0]++, checkpoint, () -> seen[0] >= 7));
        assertEquals(7, first.completedSteps());

        LoraTrainer resumed = new LoraTrainer(model, format, data, options);
        resumed.resumeFrom(checkpoint);
        assertEquals(6, resumed.completedSteps(), "the last checkpoint was at step 6");
        List<StepReport> rest = new ArrayList<>();
        resumed.train(rest::add, checkpoint, () -> false);
        assertEquals(7, rest.get(0).step());
        assertEquals(straight.totalSteps(), resumed.completedSteps());
        for (StepReport r : rest) {
            assertEquals(straightLosses.get(r.step() - 1), r.meanLoss(), 0.0, "loss of step " + r.step());
        }
        var a = straight.adapter().namedParameters();
        var b = resumed.adapter().namedParameters();
        for (String k : a.keySet()) {
            assertTrue(Tensors.bitwiseEqual(a.get(k).detach(), b.get(k).detach()), k);
        }
        // a checkpoint of another dataset is refused
        LoraTrainer other = new LoraTrainer(model, format, data.subList(0, 5), options);
        assertThrows(IllegalArgumentException.class, () -> other.resumeFrom(checkpoint));
    }

    /**
     * A process that dies while a step is being recorded (here: the listener fails at a checkpoint's step) must not
     * leave a checkpoint ahead of what was recorded: resuming from it would skip the unrecorded step for good.
     */
    @Test
    void aCheckpointIsNeverWrittenBeforeItsStepWasRecorded() throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), TinyModels.Spec.llama(), 4)),
                ScalarType.Float);
        TrainingOptions options = TrainingOptions.defaults().withEpochs(2).withBatchSize(4).withLearningRate(0.01)
                .withLora(LoraConfig.defaults(2)).withCheckpointEvery(3);
        Path checkpoint = tmp.resolve("ckpt.safetensors");
        LoraTrainer trainer = new LoraTrainer(model, new PromptFormat(Stories.tokenizer()), SeedExamples.NUMBERS, options);
        List<Integer> recorded = new ArrayList<>();
        RuntimeException crash = new IllegalStateException("the process died while recording step 6");
        assertThrows(IllegalStateException.class, () -> trainer.train(r -> {
            if (r.step() == 6) {
                throw crash;
            }
            recorded.add(r.step());
        }, checkpoint, () -> false));
        assertEquals(List.of(1, 2, 3, 4, 5), recorded);
        LoraTrainer resumed = new LoraTrainer(model, new PromptFormat(Stories.tokenizer()), SeedExamples.NUMBERS, options);
        resumed.resumeFrom(checkpoint);
        assertEquals(3, resumed.completedSteps(), "the checkpoint holds only recorded steps");
    }

    /**
     * Also with the frozen base in bf16 or int8 (a base model's {@code "dtype": "bf16"} or {@code "int8"}, Q8_0 blocks
     * dequantized per matrix as the forward pass uses it): adapters stay float32.
     */
    @ParameterizedTest
    @ValueSource(strings = {"fp32", "bf16", "int8"})
    void lossFallsOnTinyModel(String dtype) throws Exception {
        LlamaModel model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), TinyModels.Spec.llama(), 4)),
                dev.tuneforge.engine.model.WeightDtype.parse(dtype, "dtype"));
        LoraTrainer t = new LoraTrainer(model, new PromptFormat(Stories.tokenizer()), SeedExamples.NUMBERS.subList(0, 4),
                TrainingOptions.defaults().withEpochs(30).withBatchSize(4).withLearningRate(0.05).withLora(LoraConfig.defaults(2)));
        List<Double> losses = new ArrayList<>();
        t.train(r -> losses.add(r.meanLoss()));
        assertEquals(30, losses.size());
        // the last steps wobble by ±0.3 around a plateau whose exact height depends on the CPU's kernels: their
        // mean, not the last value alone
        double lastFive = losses.subList(25, 30).stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        assertTrue(lastFive < losses.get(0) * 0.75, "loss " + losses.get(0) + " -> " + losses.subList(25, 30));
    }

    @Test
    void rejectsInputsLongerThanTheContext() {
        String longInput = "a ".repeat(600);
        var e = assertThrows(IllegalArgumentException.class, () -> new LoraTrainer(Stories.model(),
                new PromptFormat(Stories.tokenizer()), List.of(new TrainingExample("x", "y"), new TrainingExample(longInput, "y")),
                TrainingOptions.defaults()));
        assertTrue(e.getMessage().startsWith("example 1"), e.getMessage());
    }

    @Test
    void tokenizerReadsStopTokensFromGenerationConfig() {
        TextTokenizer tok = Stories.tokenizer();
        assertEquals(List.of(2), tok.eosIds());
        assertEquals(1, tok.bosId());
    }
}
