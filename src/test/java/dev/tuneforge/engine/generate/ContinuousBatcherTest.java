package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.Stories;
import dev.tuneforge.engine.lora.LoraAdapter;
import dev.tuneforge.engine.lora.LoraConfig;
import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.model.BatchDecoders;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler over the real fallback decoder on stories-260k: requests batched together give what each gives
 * alone; prompts are cut at the same fixed boundaries however busy the batch is; decode rows come before prompt
 * chunks and a long generation does not hold up the others; cancelled, expired and refused requests.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ContinuousBatcherTest {
    private static final Set<Long> EOS = Set.of(2L);
    private static final Set<Long> NEVER = Set.of();

    /** The stories model's real batched decoder, which a test decoder wraps: every call but the ones it adds to. */
    private abstract static class Wrapping implements BatchDecoder {
        final BatchDecoder real = BatchDecoders.forModel(Stories.model());

        @Override
        public Sequence open(Adapter adapter, int expectedPositions) {
            return real.open(adapter, expectedPositions);
        }

        @Override
        public float[][] step(List<Row> rows) {
            return real.step(rows);
        }

        @Override
        public int preferredRowsPerStep() {
            return real.preferredRowsPerStep();
        }

        @Override
        public long kvBytesInUse() {
            return real.kvBytesInUse();
        }

        @Override
        public String describe() {
            return "test decoder over " + real.describe();
        }

        @Override
        public void close() {
            real.close();
        }
    }

    /** The real decoder, with every step's rows recorded (which sequence, how many rows, at which position). */
    private static final class Recording extends Wrapping {
        record Run(Sequence sequence, int start, int rows) {
        }

        final List<List<Run>> steps = new CopyOnWriteArrayList<>();
        final List<Sequence> opened = new CopyOnWriteArrayList<>();

        @Override
        public Sequence open(Adapter adapter, int expectedPositions) {
            Sequence s = super.open(adapter, expectedPositions);
            opened.add(s);
            return s;
        }

        /** The index of the last step that held {@code sequence}. */
        int lastStepOf(Sequence sequence) {
            for (int i = steps.size() - 1; i >= 0; i--) {
                if (steps.get(i).stream().anyMatch(r -> r.sequence() == sequence)) {
                    return i;
                }
            }
            return -1;
        }

        @Override
        public float[][] step(List<Row> rows) {
            List<Run> runs = new ArrayList<>();
            Map<Sequence, Integer> offsets = new IdentityHashMap<>();
            for (Row r : rows) {
                int offset = offsets.merge(r.sequence(), 1, Integer::sum) - 1;
                if (offset == 0) {
                    runs.add(new Run(r.sequence(), r.sequence().length(), 0));
                }
                Run last = runs.getLast();
                runs.set(runs.size() - 1, new Run(last.sequence(), last.start(), last.rows() + 1));
            }
            steps.add(runs);
            return real.step(rows);
        }
    }

    /** The real decoder, whose steps each wait for a permit: a test looks at the batch between steps. */
    private static final class Gated extends Wrapping {
        final java.util.concurrent.Semaphore permits = new java.util.concurrent.Semaphore(0);
        final java.util.concurrent.atomic.AtomicInteger called = new java.util.concurrent.atomic.AtomicInteger();

        void untilStepsCalled(int n) {
            while (called.get() < n) {
                Thread.onSpinWait();
            }
        }

        @Override
        public float[][] step(List<Row> rows) {
            called.incrementAndGet();
            permits.acquireUninterruptibly();
            return super.step(rows);
        }
    }

    private static ContinuousBatcher batcher(BatchDecoder decoder, int maxRunning, int maxWaiting) {
        return new ContinuousBatcher("test", decoder, Stories.tokenizer(), Stories.model().config().maxPositionEmbeddings(),
                maxRunning, maxWaiting);
    }

    private static ContinuousBatcher.Request request(long[] prompt, Adapter adapter, GenerationOptions options,
                                                     Set<Long> stops) {
        return new ContinuousBatcher.Request(prompt, adapter, List.of(options), stops, null);
    }

    private static long[] prompt(String text) {
        return Stories.tokenizer().encode(text, true);
    }

    private static LoraAdapter adapter(double b) {
        LoraAdapter adapter = LoraAdapter.initialize(Stories.model(), LoraConfig.defaults(), 1);
        try (NoGradGuard g = new NoGradGuard()) {
            adapter.namedParameters().forEach((k, v) -> {
                if (k.endsWith("lora_B.weight")) {
                    v.fill_(new Scalar(b));
                }
            });
        }
        adapter.parametersChanged();
        return adapter;
    }

    /** A prompt of {@code n} tokens. */
    private static long[] longPrompt(int n) {
        long[] words = prompt("Once upon a time there was a little girl named Lily who loved to play in the park");
        long[] out = new long[n];
        out[0] = 1;
        for (int i = 1; i < n; i++) {
            out[i] = words[1 + (i - 1) % (words.length - 1)];
        }
        return out;
    }

    @Test
    void requestsBatchedTogetherGiveExactlyWhatEachGivesAlone() throws Exception {
        TextGenerator alone = new TextGenerator(Stories.model(), Stories.tokenizer());
        List<LoraAdapter> adapters = List.of(adapter(0.02), adapter(-0.03));
        List<ContinuousBatcher.Request> requests = List.of(
                request(prompt("Once upon a time"), null, GenerationOptions.greedy(40), EOS),
                request(prompt("Once upon a time"), adapters.get(0), GenerationOptions.greedy(40), EOS),
                request(prompt("The dog"), adapters.get(1), GenerationOptions.greedy(30), EOS),
                request(longPrompt(150), null, GenerationOptions.greedy(20), EOS),
                request(prompt("Lily"), null, new GenerationOptions(40, 1.0, 0.95, 40, 1234L, List.of()), EOS),
                request(prompt("Lily"), null, new GenerationOptions(40, 1.0, 0.95, 40, 99L, List.of()), EOS),
                request(prompt("Tom was"), adapters.get(0), new GenerationOptions(40, 0.8, 0.9, 20, 7L, List.of(),
                        0.5, 0.3, 3, null), EOS),
                request(prompt("Once upon a time"), null, new GenerationOptions(64, 0, 1, 0, null, List.of("Lily")), EOS));
        List<GenerationResult> expected = new ArrayList<>();
        for (ContinuousBatcher.Request r : requests) {
            expected.add(alone.generate(r.promptIds(), r.adapter(), r.candidates().getFirst(), r.stopIds()));
        }
        assertFalse(java.util.Arrays.equals(expected.get(0).outputIds(), expected.get(1).outputIds()),
                "the adapter changes the answer");
        assertNotEquals(expected.get(4).text(), expected.get(5).text(), "another seed samples another text");

        Recording decoder = new Recording();
        try (ContinuousBatcher batcher = batcher(decoder, 16, 16)) {
            List<ContinuousBatcher.Generation> generations = new ArrayList<>();
            for (ContinuousBatcher.Request r : requests) {
                generations.add(batcher.submit(r));
            }
            for (int i = 0; i < requests.size(); i++) {
                GenerationResult got = generations.get(i).results().getFirst();
                GenerationResult want = expected.get(i);
                assertArrayEquals(want.outputIds(), got.outputIds(), "request " + i);
                assertEquals(want.text(), got.text(), "request " + i);
                assertEquals(want.finishReason(), got.finishReason(), "request " + i);
                assertEquals(want.logprobSum(), got.logprobSum(), "request " + i);
                if (want.steps() != null) {
                    assertEquals(want.steps().size(), got.steps().size());
                    for (int s = 0; s < want.steps().size(); s++) {
                        assertArrayEquals(want.steps().get(s).topIds(), got.steps().get(s).topIds());
                        assertArrayEquals(want.steps().get(s).topLogprobs(), got.steps().get(s).topLogprobs());
                    }
                }
            }
            assertTrue(decoder.steps.stream().anyMatch(runs -> runs.size() > 4), "requests were batched together");
            assertEquals(0, batcher.kvBytesInUse());
            assertEquals(0, batcher.batchSize());
        }
    }

    @Test
    void promptsAreCutAtFixedBoundariesAndDecodeRowsComeFirst() throws Exception {
        Recording decoder = new Recording();
        int chunk = SequenceGeneration.chunkSize(decoder);
        try (ContinuousBatcher batcher = batcher(decoder, 8, 8)) {
            List<ContinuousBatcher.Generation> generations = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                generations.add(batcher.submit(request(prompt("Once upon a time"), null, GenerationOptions.greedy(60), NEVER)));
            }
            // no prompt ends in a chunk of one row: every run of one row is then a decode row
            for (int length : new int[]{chunk * 3 + 5, chunk * 2, 7, chunk + 2}) {
                generations.add(batcher.submit(request(longPrompt(length), null, GenerationOptions.greedy(10), NEVER)));
            }
            for (ContinuousBatcher.Generation g : generations) {
                g.results();
            }
        }
        boolean prefillBesideDecoding = false;
        for (List<Recording.Run> runs : decoder.steps) {
            boolean prefillSeen = false;
            Set<BatchDecoder.Sequence> seen = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            for (Recording.Run run : runs) {
                assertTrue(seen.add(run.sequence()), "a sequence's rows in a step are one run");
                boolean prefill = run.rows() > 1;
                if (prefill) {
                    assertEquals(0, run.start() % chunk, "a chunk starts at a multiple of " + chunk + ": " + run);
                    assertTrue(run.rows() <= chunk, "a chunk holds at most " + chunk + " rows: " + run);
                }
                if (prefill) {
                    prefillSeen = true;
                } else {
                    assertFalse(prefillSeen, "decode rows come before prompt chunks in a step");
                }
            }
            long chunks = runs.stream().filter(r -> r.rows() > 1).count();
            long decodes = runs.stream().filter(r -> r.rows() == 1).count();
            prefillBesideDecoding |= chunks > 0 && decodes > 0;
            int rows = runs.stream().mapToInt(Recording.Run::rows).sum();
            assertTrue(rows <= decoder.preferredRowsPerStep() || chunks == 1,
                    "a step keeps to the budget, or holds one chunk: " + runs);
        }
        assertTrue(prefillBesideDecoding, "a prompt was prefilled while others decoded");
    }

    @Test
    void aLongGenerationDoesNotHoldUpShortOnes() throws Exception {
        Recording decoder = new Recording();
        try (ContinuousBatcher batcher = batcher(decoder, 2, 8)) {
            ContinuousBatcher.Generation longOne = batcher.submit(request(prompt("Once"), null,
                    GenerationOptions.greedy(400), NEVER));
            List<ContinuousBatcher.Generation> shortOnes = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                shortOnes.add(batcher.submit(request(prompt("The cat " + i), null, GenerationOptions.greedy(8), NEVER)));
            }
            for (ContinuousBatcher.Generation g : shortOnes) {
                assertEquals(8, g.results().getFirst().outputTokenCount());
            }
            int shortOnesDone = decoder.steps.size();
            assertEquals(400, longOne.results().getFirst().outputTokenCount());
            // the short ones went through the second place while the long one held the first
            assertTrue(decoder.lastStepOf(decoder.opened.getFirst()) > shortOnesDone,
                    "the long generation was still running when the short ones had finished");
            assertEquals(6, decoder.opened.size());
        }
    }

    @Test
    void aCancelledRequestLeavesTheBatchAtTheNextStepAndGivesBackItsCache() throws Exception {
        Recording decoder = new Recording();
        try (ContinuousBatcher batcher = batcher(decoder, 4, 4)) {
            ContinuousBatcher.Generation other = batcher.submit(request(prompt("Once"), null, GenerationOptions.greedy(300), NEVER));
            // a long prompt: its cache outweighs what the other sequence's may grow by (a page) until it has left
            ContinuousBatcher.Generation cancelled = batcher.submit(request(prompt("Lily went to the park. ".repeat(12)),
                    null, GenerationOptions.greedy(400), NEVER));
            assertInstanceOf(ContinuousBatcher.Text.class, cancelled.next());
            long kvBoth = batcher.kvBytesInUse();
            cancelled.cancel();
            int stepsAtCancel = decoder.steps.size();
            assertInstanceOf(CancellationException.class, ((ContinuousBatcher.Failed) last(cancelled)).error());
            while (batcher.batchSize() != 1) {
                Thread.onSpinWait();
            }
            assertTrue(batcher.kvBytesInUse() < kvBoth, "its KV cache was given back");
            // the step running when cancel() was called may still hold it; none after
            Set<BatchDecoder.Sequence> inLaterSteps = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
            List<List<Recording.Run>> steps = decoder.steps;
            for (int s = stepsAtCancel + 1; s < steps.size(); s++) {
                steps.get(s).forEach(r -> inLaterSteps.add(r.sequence()));
            }
            assertTrue(inLaterSteps.size() <= 1, "only the other sequence stepped after the cancellation");
            assertEquals(300, other.results().getFirst().outputTokenCount());
            assertEquals(0, batcher.kvBytesInUse());
        }
    }

    private static ContinuousBatcher.Event last(ContinuousBatcher.Generation g) throws InterruptedException {
        while (true) {
            ContinuousBatcher.Event e = g.next();
            if (e instanceof ContinuousBatcher.Failed || e instanceof ContinuousBatcher.Finished) {
                return e;
            }
        }
    }

    @Test
    void aRequestCancelledInTheQueueLeavesItAndHearsSoAtOnceAndEachRequestSaysWhereItIs() throws Exception {
        Gated gated = new Gated();
        try (ContinuousBatcher batcher = batcher(gated, 1, 2)) {
            ContinuousBatcher.Generation running = batcher.submit(request(prompt("Once"), null,
                    GenerationOptions.greedy(300), NEVER));
            gated.untilStepsCalled(1);
            ContinuousBatcher.Generation queued = batcher.submit(request(prompt("Lily"), null,
                    GenerationOptions.greedy(5), NEVER));
            assertEquals(ContinuousBatcher.Phase.QUEUED, queued.phase());
            assertEquals(1, batcher.queueLength());
            queued.cancel();
            assertEquals(0, batcher.queueLength(), "it left the queue at once");
            // failed by cancel() itself: no step of the batch was needed for its thread to hear it
            assertInstanceOf(CancellationException.class, ((ContinuousBatcher.Failed) queued.next()).error());
            assertEquals(1, gated.called.get());

            gated.permits.release(2);
            assertInstanceOf(ContinuousBatcher.Text.class, running.next());
            assertEquals(ContinuousBatcher.Phase.DECODING, running.phase());
            running.cancel();
            gated.permits.release(1000);
            assertInstanceOf(CancellationException.class, ((ContinuousBatcher.Failed) last(running)).error());
            while (batcher.batchSize() != 0) {
                Thread.onSpinWait();
            }
            assertEquals(0, batcher.kvBytesInUse());
        }
    }

    @Test
    void aRequestIsPrefillingFromWhenItJoinsTheBatchUntilItsFirstToken() throws Exception {
        Gated gated = new Gated();
        try (ContinuousBatcher batcher = batcher(gated, 1, 1)) {
            ContinuousBatcher.Generation g = batcher.submit(request(longPrompt(400), null, GenerationOptions.greedy(2),
                    NEVER));
            gated.untilStepsCalled(1);
            assertEquals(ContinuousBatcher.Phase.PREFILLING, g.phase(), "in the batch, its first chunk being read");
            gated.permits.release(3);
            gated.untilStepsCalled(4);
            assertEquals(ContinuousBatcher.Phase.PREFILLING, g.phase(), "400 tokens take more than three chunks");
            gated.permits.release(1000);
            assertEquals(2, g.results().getFirst().outputTokenCount());
            assertEquals(ContinuousBatcher.Phase.DECODING, g.phase());
        }
    }

    @Test
    void aFullQueueRefusesAtOnceAndTakesRequestsAgainOnceThereIsRoom() throws Exception {
        try (ContinuousBatcher batcher = batcher(new Recording(), 1, 1)) {
            ContinuousBatcher.Generation running = batcher.submit(request(prompt("Once"), null, GenerationOptions.greedy(300), NEVER));
            assertInstanceOf(ContinuousBatcher.Text.class, running.next());
            ContinuousBatcher.Generation queued = batcher.submit(request(prompt("Lily"), null, GenerationOptions.greedy(5), NEVER));
            var busy = assertThrows(ContinuousBatcher.Busy.class,
                    () -> batcher.submit(request(prompt("Tom"), null, GenerationOptions.greedy(5), NEVER)));
            assertTrue(busy.getMessage().contains("1 sequences in the batch, 1 waiting"), busy.getMessage());
            // two candidates need two places: refused whole even with one free
            running.cancel();
            assertEquals(5, queued.results().getFirst().outputTokenCount());
            assertThrows(ContinuousBatcher.Busy.class, () -> batcher.submit(new ContinuousBatcher.Request(prompt("Tom"),
                    null, List.of(GenerationOptions.greedy(5), GenerationOptions.greedy(5), GenerationOptions.greedy(5)),
                    NEVER, null)));
            while (batcher.batchSize() != 0) {
                Thread.onSpinWait();
            }
            ContinuousBatcher.Generation two = batcher.submit(new ContinuousBatcher.Request(prompt("Tom"), null,
                    List.of(GenerationOptions.greedy(5), new GenerationOptions(5, 1, 1, 0, 3L, List.of())), NEVER, null));
            assertEquals(2, two.results().size());
        }
    }

    @Test
    void aRequestPastItsDeadlineEndsWithDeadlineExceeded() throws Exception {
        try (ContinuousBatcher batcher = batcher(new Recording(), 2, 2)) {
            ContinuousBatcher.Generation g = batcher.submit(new ContinuousBatcher.Request(prompt("Once"), null,
                    List.of(GenerationOptions.greedy(400)), NEVER, java.time.Duration.ofNanos(1)));
            var e = assertThrows(ContinuousBatcher.DeadlineExceeded.class, g::results);
            assertTrue(e.getMessage().contains("deadline"), e.getMessage());
            while (batcher.batchSize() != 0) {
                Thread.onSpinWait();
            }
            assertEquals(0, batcher.kvBytesInUse());
            assertEquals(3, batcher.submit(request(prompt("Once"), null, GenerationOptions.greedy(3), NEVER))
                    .results().getFirst().outputTokenCount());
        }
    }

    @Test
    void aPromptThatDoesNotFitIsRefusedBeforeItIsQueued() {
        try (ContinuousBatcher batcher = batcher(new Recording(), 1, 0)) {
            long[] tooLong = longPrompt(Stories.model().config().maxPositionEmbeddings());
            var e = assertThrows(IllegalArgumentException.class,
                    () -> batcher.submit(request(tooLong, null, GenerationOptions.greedy(4), EOS)));
            assertTrue(e.getMessage().contains("context"), e.getMessage());
            assertEquals(0, batcher.queueLength());
        }
    }
}
