package dev.tuneforge.engine;

import dev.tuneforge.engine.data.SeedExamples;
import dev.tuneforge.engine.generate.FinishReason;
import dev.tuneforge.engine.generate.GenerationOptions;
import dev.tuneforge.engine.generate.GenerationResult;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.lora.PeftAdapterFormat;
import dev.tuneforge.engine.model.HfModelDirectory;
import dev.tuneforge.engine.tensor.Safetensors;
import dev.tuneforge.engine.tensor.Tensors;
import dev.tuneforge.engine.train.LoraTrainer;
import dev.tuneforge.engine.train.StepReport;
import dev.tuneforge.engine.train.TrainingCancelledException;
import dev.tuneforge.engine.train.TrainingExample;
import dev.tuneforge.engine.train.TrainingOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Tuning Gemma 3 and Qwen3 (the tiny fixtures of ../shared/models, with their published chat templates): the
 * template's turn tokens are the trained stop rows, generation stops on every eos id of generation_config.json,
 * LoRA learns and stops, checkpoints resume bit for bit, and the PEFT files carry PEFT's module names.
 */
class ArchitectureTrainingTest {
    @TempDir
    Path tmp;

    private static BaseModel base(String name) {
        return new BaseModel(new HfModelDirectory(ModelReferenceTest.sharedModels().resolve(name).resolve("hf")),
                ScalarType.Float);
    }

    /** The chat template's turn markers, by name, for each fixture. */
    private static List<String> turnTokens(String name) {
        return name.equals("tiny-gemma3") ? List.of("<start_of_turn>", "<end_of_turn>") : List.of("<|im_start|>", "<|im_end|>");
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma3", "tiny-qwen3"})
    void theTemplatesTurnTokensAreTrainedAndEveryEosIdStops(String name) {
        try (BaseModel base = base(name)) {
            Map<String, Integer> special = base.tokenizer().specialTokens();
            Set<Long> turns = new TreeSet<>();
            turnTokens(name).forEach(t -> turns.add((long) special.get(t)));
            Set<Long> added = new TreeSet<>();
            for (long id : base.promptFormat().addedTokenIds()) {
                added.add(id);
            }
            assertEquals(turns, added, "trained rows");
            Set<Long> stops = base.promptFormat().stopIds();
            base.directory().generationConfig().get("eos_token_id").forEach(n -> assertTrue(stops.contains(n.asLong()),
                    "stops on eos id " + n + " of generation_config.json: " + stops));
            assertTrue(stops.contains((long) special.get(turnTokens(name).get(1))), "stops at the end of the turn");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma3", "tiny-qwen3"})
    void loraLearnsTheAnswersAndToStopAndSurvivesAPeftRoundTrip(String name) {
        try (BaseModel base = base(name)) {
            List<TrainingExample> data = SeedExamples.NUMBERS;
            TrainingOptions options = TrainingOptions.defaults().withEpochs(40).withBatchSize(4).withLearningRate(0.01)
                    .withLora(LoraConfig.defaults(base.promptFormat().addedTokenIds()));
            LoraTrainer trainer = new LoraTrainer(base.model(), base.promptFormat(), data, options);
            List<StepReport> reports = new ArrayList<>();
            trainer.train(reports::add);
            double first = epochLoss(reports, 1);
            double last = epochLoss(reports, 40);
            // random tied embeddings of norm ~0.16 bound every logit but the trained rows', so the loss cannot fall far
            // (ln 514 = 6.2 at the start); the turn's end, a trained row, can be learned, and with it to stop
            assertTrue(last < first - 0.5, name + ": loss " + first + " → " + last);
            int stopped = 0;
            for (TrainingExample e : data) {
                GenerationResult r = base.answer(e.input(), trainer.adapter(), GenerationOptions.greedy(40), t -> { });
                stopped += r.finishReason() == FinishReason.STOP ? 1 : 0;
            }
            assertTrue(stopped >= 12, name + ": " + stopped + " of 15 answers stopped");

            Path dir = tmp.resolve(name + "-adapter");
            PeftAdapterFormat.save(trainer.adapter(), dir, name);
            assertTrue(Safetensors.readHeader(dir.resolve(PeftAdapterFormat.WEIGHTS_FILE)).entries()
                    .containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), "PEFT's module names");
            LoraAdapter loaded = PeftAdapterFormat.load(dir, base.model());
            long[] ids = base.promptFormat().promptIds(data.get(0).input());
            try (NoGradGuard g = new NoGradGuard(); PointerScope scope = new PointerScope()) {
                var x = Tensors.longs(ids, 1, ids.length);
                assertArrayEquals(Tensors.toFloats(base.model().logits(base.model().forward(x, 0, null, trainer.adapter()),
                                trainer.adapter())),
                        Tensors.toFloats(base.model().logits(base.model().forward(x, 0, null, loaded), loaded)), 1e-5f);
            }
            for (TrainingExample e : data.subList(0, 3)) {
                GenerationResult a = base.answer(e.input(), trainer.adapter(), GenerationOptions.greedy(40), t -> { });
                GenerationResult b = base.answer(e.input(), loaded, GenerationOptions.greedy(40), t -> { });
                assertEquals(a.text(), b.text());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-gemma3", "tiny-qwen3"})
    void aResumedRunEqualsAnUninterruptedOne(String name) {
        try (BaseModel base = base(name)) {
            TrainingOptions options = TrainingOptions.defaults().withEpochs(2).withBatchSize(4).withLearningRate(0.01)
                    .withLora(LoraConfig.defaults(base.promptFormat().addedTokenIds())).withCheckpointEvery(2);
            List<TrainingExample> data = SeedExamples.NUMBERS;
            LoraTrainer straight = new LoraTrainer(base.model(), base.promptFormat(), data, options);
            straight.train(r -> { });
            Path checkpoint = tmp.resolve(name + ".safetensors");
            LoraTrainer first = new LoraTrainer(base.model(), base.promptFormat(), data, options);
            int[] seen = {0};
            assertThrows(TrainingCancelledException.class, () -> first.train(r -> seen[0]++, checkpoint, () -> seen[0] >= 5));
            LoraTrainer resumed = new LoraTrainer(base.model(), base.promptFormat(), data, options);
            resumed.resumeFrom(checkpoint);
            resumed.train(r -> { }, checkpoint, () -> false);
            var a = straight.adapter().namedParameters();
            var b = resumed.adapter().namedParameters();
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) {
                assertTrue(Tensors.bitwiseEqual(a.get(k).detach(), b.get(k).detach()), k);
            }
        }
    }

    private static double epochLoss(List<StepReport> reports, int epoch) {
        return reports.stream().filter(r -> r.epoch() == epoch).mapToDouble(StepReport::meanLoss).average().orElseThrow();
    }
}
