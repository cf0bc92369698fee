package dev.tuneforge.engine.train;

import dev.tuneforge.engine.TinyModels;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.model.LlamaModel;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.tokenizer.PromptFormat.TrainingSequence;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A step split into microbatches computes what one batch computes, the same way every time. */
class TrainingStepTest {
    @TempDir
    Path tmp;

    private LlamaModel model;
    private LoraAdapter adapter;
    private AdamW optimizer;

    private void setUp(double dropout) throws Exception {
        // untied, with trained token rows: embedding and head rows get gradients from every microbatch too
        var spec = new TinyModels.Spec("llama", false, 2, false, ScalarType.Float, 1);
        model = LlamaModel.load(new HfModelDirectory(TinyModels.write(tmp.resolve("m"), spec, 6)), ScalarType.Float);
        adapter = LoraAdapter.initialize(model, new LoraConfig(4, 8, dropout, LoraConfig.ALL_PROJECTIONS,
                new long[]{2, 9}), 3);
        try (NoGradGuard g = new NoGradGuard()) {
            for (var e : adapter.namedParameters().entrySet()) {
                if (e.getKey().endsWith("lora_B.weight")) {
                    e.getValue().normal_();
                }
            }
        }
        optimizer = new AdamW(adapter.namedParameters(), 1e-3, 0);
    }

    /** Sequences of different lengths and prompt lengths, containing the trained tokens 2 and 9. */
    private static List<TrainingSequence> batch() {
        Random random = new Random(4);
        int[][] shapes = {{9, 3}, {14, 5}, {6, 1}, {11, 8}, {7, 2}, {10, 4}};
        List<TrainingSequence> batch = new java.util.ArrayList<>();
        for (int[] s : shapes) {
            long[] ids = new long[s[0]];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = i % 4 == 1 ? 9 : random.nextInt(TinyModels.VOCAB);
            }
            ids[ids.length - 1] = 2;
            batch.add(new TrainingSequence(ids, s[1]));
        }
        return batch;
    }

    private Map<String, float[]> takeGradients() {
        Map<String, float[]> out = new LinkedHashMap<>();
        optimizer.gradients().forEach((name, g) -> out.put(name, Tensors.toFloats(g)));
        optimizer.zeroGrad();
        return out;
    }

    @Test
    void microbatchesGiveTheLossAndGradientsOfOneBatch() throws Exception {
        setUp(0);
        TrainingStep.Result whole = new TrainingStep(model, adapter, optimizer, 0, 1).forwardBackward(batch(), 11);
        Map<String, float[]> wholeGradients = takeGradients();
        TrainingStep.Result split = new TrainingStep(model, adapter, optimizer, 0).forwardBackward(batch(), 11);
        Map<String, float[]> splitGradients = takeGradients();
        assumeTrue(split.microbatches() >= 2, "needs two cores");
        assertEquals(1, whole.microbatches());

        assertEquals(whole.meanLoss(), split.meanLoss(), 1e-5);
        assertEquals(wholeGradients.keySet(), splitGradients.keySet());
        for (String name : wholeGradients.keySet()) {
            float[] w = wholeGradients.get(name);
            assertTrue(Tensors.floats(w, w.length).abs().max().item_double() > 1e-6, name + " has a gradient");
            assertArrayEquals(w, splitGradients.get(name), 2e-5f, name);
        }
        // one batch pads all six to 14 tokens; on two cores, microbatches of three pad to 14 and 11
        assertEquals(6 * 14, whole.tokens());
        if (split.microbatches() == 2) {
            assertEquals(3 * 14 + 3 * 11, split.tokens());
        }
    }

    @Test
    void microbatchedGradientsAreTheSameEveryTime() throws Exception {
        setUp(0.2);
        TrainingStep step = new TrainingStep(model, adapter, optimizer, 0);
        double firstLoss = step.forwardBackward(batch(), 5).meanLoss();
        Map<String, float[]> first = takeGradients();
        for (int run = 0; run < 4; run++) {
            assertEquals(firstLoss, step.forwardBackward(batch(), 5).meanLoss(), 0.0);
            Map<String, float[]> again = takeGradients();
            for (String name : first.keySet()) {
                assertArrayEquals(first.get(name), again.get(name), 0f, name);
            }
        }
        // and dropout draws other masks for another step
        step.forwardBackward(batch(), 6);
        Map<String, float[]> other = takeGradients();
        assertTrue(first.keySet().stream().anyMatch(n -> !java.util.Arrays.equals(first.get(n), other.get(n))));
    }

    @Test
    void aFailedMicrobatchLeavesNoGradientBehind() throws Exception {
        setUp(0);
        TrainingStep step = new TrainingStep(model, adapter, optimizer, 0);
        List<TrainingSequence> batch = new java.util.ArrayList<>(batch());
        // the last sequence, in the last microbatch, is longer than the model's 128 positions
        long[] tooLong = new long[200];
        java.util.Arrays.fill(tooLong, 5);
        batch.set(5, new TrainingSequence(tooLong, 100));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> step.forwardBackward(batch, 3));
        assertTrue(e.getMessage().contains("exceeds the model's 128 positions"), e.getMessage());
        for (Tensor g : optimizer.gradients().values()) {
            assertEquals(0.0, g.abs().sum().item_double(), "no gradient of the failed step is left");
        }
        // the next step computes as if the failed one had never run
        double loss = step.forwardBackward(batch(), 11).meanLoss();
        Map<String, float[]> after = takeGradients();
        assertEquals(new TrainingStep(model, adapter, optimizer, 0).forwardBackward(batch(), 11).meanLoss(), loss, 0.0);
        Map<String, float[]> fresh = takeGradients();
        for (String name : fresh.keySet()) {
            assertArrayEquals(fresh.get(name), after.get(name), 0f, name);
        }
    }

    @Test
    void splitKeepsTheOrderAndBalancesTheSizes() {
        List<TrainingSequence> five = batch().subList(0, 5);
        assertEquals(List.of(five.subList(0, 3), five.subList(3, 5)), TrainingStep.split(five, 2));
        assertEquals(List.of(five), TrainingStep.split(five, 1));
        assertEquals(5, TrainingStep.split(five, 5).size());
        List<TrainingSequence> six = batch();
        assertEquals(List.of(six.subList(0, 2), six.subList(2, 4), six.subList(4, 6)), TrainingStep.split(six, 3));
    }

    @Test
    void sequencesWithoutAnOutputTokenAreRefused() throws Exception {
        setUp(0);
        TrainingStep step = new TrainingStep(model, adapter, optimizer, 0);
        var noOutput = List.of(new TrainingSequence(new long[]{1, 5, 6}, 3));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> step.forwardBackward(noOutput, 1));
        assertTrue(e.getMessage().contains("labelStart 3 of 3 tokens"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> step.forwardBackward(List.of(), 1));
        assertThrows(IllegalArgumentException.class, () -> new TrainingStep(model, adapter, optimizer, 0, 0));
        for (Tensor g : optimizer.gradients().values()) {
            assertEquals(0.0, g.abs().sum().item_double(), "no gradient left behind");
        }
    }
}
