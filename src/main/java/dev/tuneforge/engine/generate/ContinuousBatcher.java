package dev.tuneforge.engine.generate;

import dev.tuneforge.engine.model.Adapter;
import dev.tuneforge.engine.model.BatchDecoder;
import dev.tuneforge.engine.tokenizer.TextTokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CancellationException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching for one base model: every generation of the model runs in one batch, stepped by one platform
 * thread of its own. A request's sequences (one per candidate) wait in a bounded queue, join the batch at a step
 * boundary when a place is free (oldest first), and leave it the step they end; each keeps its own sampling
 * options, seed, penalties, constraint, stop ids and stop sequences ({@link SequenceGeneration}).
 * <p>
 * A step holds one decode row per decoding sequence first, then prompt chunks in the rows left of the decoder's
 * {@link BatchDecoder#preferredRowsPerStep()}, oldest request first, at most one chunk per sequence (and always at
 * least one chunk a step, so a full batch of decoding sequences cannot starve a prompt). Prompts are cut at fixed
 * chunk boundaries and the decoder computes each row as it would alone, so a request gives the same result however
 * busy the server is; one long generation only ever holds its one place.
 * <p>
 * Nothing the scheduler thread does waits for a client: text and results go to each request's own queue
 * ({@link Generation#next}), which the request's thread drains at its own pace. A cancelled request ({@link
 * Generation#cancel}, e.g. its client went away) or one past its deadline leaves the batch at the next step and its
 * KV cache is given back.
 * <p>
 * Engine code runs here, on a platform thread, never on a virtual thread: libtorch calls back into Java from native
 * frames (JavaCPP registers every new tensor under one global monitor), and a virtual thread that blocks there pins
 * its carrier; with every carrier pinned that way the server froze (docs/architecture.md, "Threads").
 */
public final class ContinuousBatcher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ContinuousBatcher.class);

    /** The batch and the queue are full: refused at once. */
    public static final class Busy extends RuntimeException {
        Busy(String message) {
            super(message);
        }
    }

    /** The request's deadline passed before it finished. */
    public static final class DeadlineExceeded extends RuntimeException {
        DeadlineExceeded(String message) {
            super(message);
        }
    }

    /**
     * One request: its prompt, adapter (null: the base), the options of each candidate (each generated as a
     * sequence of its own), the ids that end it, and how long it may take (null: no limit).
     */
    public record Request(long[] promptIds, Adapter adapter, List<GenerationOptions> candidates, Set<Long> stopIds,
                          Duration timeout) {
        public Request {
            candidates = List.copyOf(candidates);
            if (candidates.isEmpty()) {
                throw new IllegalArgumentException("a request needs at least one candidate");
            }
        }
    }

    /** What a request's thread receives, in order. */
    public sealed interface Event {
    }

    /** Text of candidate {@code index} that has become final. */
    public record Text(int index, String text) implements Event {
    }

    /** Candidate {@code index} has ended; its text has all been sent before this. */
    public record Finished(int index, GenerationResult result) implements Event {
    }

    /**
     * The request has failed ({@link DeadlineExceeded}, {@link CancellationException} at shutdown, or the engine's
     * error); nothing follows.
     */
    public record Failed(RuntimeException error) implements Event {
    }

    /**
     * Where a request is: waiting for a place, its prompt being read (none of its sequences has chosen a token yet),
     * or generating tokens.
     */
    public enum Phase {
        QUEUED, PREFILLING, DECODING
    }

    /** A submitted request, as its own thread sees it. */
    public final class Generation {
        private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
        private final int candidates;
        private final long deadlineNanos;
        private final boolean hasDeadline;
        private final List<Slot> slots = new ArrayList<>();
        private volatile boolean cancelled;
        private volatile Phase phase = Phase.QUEUED;
        /** Set once (under the generation's monitor): no event follows a Failed. */
        private volatile boolean failed;
        private int unfinished;

        private Generation(int candidates, Duration timeout) {
            this.candidates = candidates;
            this.unfinished = candidates;
            this.hasDeadline = timeout != null;
            this.deadlineNanos = timeout == null ? 0 : System.nanoTime() + timeout.toNanos();
        }

        /** The next event, waiting for it; an interrupted caller cancels the request. */
        public Event next() throws InterruptedException {
            try {
                return events.take();
            } catch (InterruptedException e) {
                cancel();
                throw e;
            }
        }

        /** Waits for every candidate's result, in candidate order; rethrows the request's failure. */
        public List<GenerationResult> results() throws InterruptedException {
            GenerationResult[] out = new GenerationResult[candidates];
            for (int done = 0; done < candidates; ) {
                Event e = next();
                if (e instanceof Failed f) {
                    throw f.error();
                }
                if (e instanceof Finished f) {
                    out[f.index()] = f.result();
                    done++;
                }
            }
            return List.of(out);
        }

        /** Where the request is now. */
        public Phase phase() {
            return phase;
        }

        /**
         * Ends the request: it leaves the queue now (failed with a CancellationException at once when none of its
         * sequences had joined the batch), the batch at the next step.
         */
        public void cancel() {
            cancelled = true;
            boolean wholeInQueue;
            lock.lock();
            try {
                int before = waiting.size();
                waiting.removeIf(s -> s.generation == this);
                wholeInQueue = before - waiting.size() == slots.size();
                wake.signal();
            } finally {
                lock.unlock();
            }
            if (wholeInQueue) {
                fail(this, new CancellationException("the request was cancelled"));
            }
        }

        private boolean expired(long now) {
            return hasDeadline && now - deadlineNanos >= 0;
        }
    }

    /** One candidate's sequence. */
    private final class Slot {
        final Generation generation;
        final int index;
        final SequenceGeneration state;
        final Adapter adapter;
        BatchDecoder.Sequence sequence;
        int lastRow;

        Slot(Generation generation, int index, SequenceGeneration state, Adapter adapter) {
            this.generation = generation;
            this.index = index;
            this.state = state;
            this.adapter = adapter;
        }
    }

    private final String name;
    private final TextTokenizer tokenizer;
    private final int contextLimit;
    private final BatchDecoder decoder;
    private final int chunkSize;
    private final int maxRunning;
    private final int maxWaiting;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final ArrayDeque<Slot> waiting = new ArrayDeque<>();
    /** The batch: touched by the scheduler thread only. */
    private final List<Slot> running = new ArrayList<>();
    private volatile int runningCount;
    private volatile boolean closed;
    private final Thread thread;

    /**
     * A batcher over {@code decoder} (which it owns and closes) with at most {@code maxRunning} sequences in the
     * batch and {@code maxWaiting} more waiting; its thread starts at once.
     */
    public ContinuousBatcher(String name, BatchDecoder decoder, TextTokenizer tokenizer, int contextLimit,
                             int maxRunning, int maxWaiting) {
        if (maxRunning < 1 || maxWaiting < 0) {
            throw new IllegalArgumentException("a batch needs room for at least one sequence and a queue of no "
                    + "negative size, got " + maxRunning + " and " + maxWaiting);
        }
        this.name = name;
        this.decoder = decoder;
        this.tokenizer = tokenizer;
        this.contextLimit = contextLimit;
        this.chunkSize = SequenceGeneration.chunkSize(decoder);
        this.maxRunning = maxRunning;
        this.maxWaiting = maxWaiting;
        this.thread = Thread.ofPlatform().name("batcher-" + name).daemon(true).unstarted(this::loop);
        LOG.info("{}: continuous batching, at most {} sequences in the batch and {} waiting, prompts in chunks of {} "
                + "tokens; {}", name, maxRunning, maxWaiting, chunkSize, decoder.describe());
        thread.start();
    }

    /**
     * Queues {@code request}'s candidates, all or none: throws {@link Busy} at once when the batch and the queue have
     * no room for them, IllegalArgumentException for a prompt that does not fit the context.
     */
    public Generation submit(Request request) {
        Generation generation = new Generation(request.candidates().size(), request.timeout());
        for (int i = 0; i < request.candidates().size(); i++) {
            int index = i;
            SequenceGeneration state = new SequenceGeneration(request.promptIds(), request.candidates().get(i),
                    request.stopIds(), contextLimit, tokenizer, text -> generation.events.add(new Text(index, text)));
            generation.slots.add(new Slot(generation, i, state, request.adapter()));
        }
        lock.lock();
        try {
            if (closed) {
                throw new CancellationException("the server is shutting down");
            }
            int held = runningCount + waiting.size();
            if (held + generation.slots.size() > maxRunning + maxWaiting) {
                throw new Busy("the server is generating as much as it can (" + runningCount + " sequences in the batch, "
                        + waiting.size() + " waiting; this request needs " + generation.slots.size() + ")");
            }
            waiting.addAll(generation.slots);
            wake.signal();
        } finally {
            lock.unlock();
        }
        return generation;
    }

    /** Sequences in the batch now. */
    public int batchSize() {
        return runningCount;
    }

    /** Sequences waiting for a place in the batch. */
    public int queueLength() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** Bytes of KV cache the batch holds. */
    public long kvBytesInUse() {
        return decoder.kvBytesInUse();
    }

    public String describe() {
        return decoder.describe();
    }

    private void loop() {
        List<BatchDecoder.Row> rows = new ArrayList<>();
        List<Slot> stepped = new ArrayList<>();
        try {
            while (true) {
                List<Slot> joining = new ArrayList<>();
                lock.lock();
                try {
                    while (!closed && running.isEmpty() && waiting.isEmpty()) {
                        wake.await();
                    }
                    if (closed) {
                        break;
                    }
                    long now = System.nanoTime();
                    for (Iterator<Slot> it = waiting.iterator(); it.hasNext(); ) {
                        Slot s = it.next();
                        if (s.generation.cancelled || s.generation.failed || s.generation.expired(now)) {
                            it.remove();
                            endEarly(s.generation, now);
                        }
                    }
                    while (running.size() + joining.size() < maxRunning && !waiting.isEmpty()) {
                        joining.add(waiting.poll());
                    }
                    runningCount = running.size() + joining.size();
                } finally {
                    lock.unlock();
                }
                for (Slot s : joining) {
                    join(s);
                }
                if (!joining.isEmpty()) {
                    // a place taken for a request that ended meanwhile is free again
                    updateRunningCount();
                }
                leaveEnded();
                if (running.isEmpty()) {
                    continue;
                }
                step(rows, stepped);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            LOG.error("{}: the batch scheduler failed; failing every request it held", name, e);
        } finally {
            shutDown();
        }
    }

    /** Opens the slot's sequence and adds it to the batch. */
    private void join(Slot s) {
        if (s.generation.failed || s.generation.cancelled) {
            // cancelled while it was being taken from the queue: it still hears why it ended
            endEarly(s.generation, System.nanoTime());
            return;
        }
        try {
            s.sequence = decoder.open(s.adapter, s.state.expectedPositions());
            running.add(s);
            if (s.generation.phase == Phase.QUEUED) {
                s.generation.phase = Phase.PREFILLING;
            }
        } catch (RuntimeException e) {
            fail(s.generation, e);
        }
    }

    /** Takes out of the batch what was cancelled, is past its deadline, or failed. */
    private void leaveEnded() {
        long now = System.nanoTime();
        List<Generation> ended = new ArrayList<>();
        for (Iterator<Slot> it = running.iterator(); it.hasNext(); ) {
            Slot s = it.next();
            Generation g = s.generation;
            if (g.cancelled || g.failed || g.expired(now)) {
                s.sequence.close();
                it.remove();
                ended.add(g);
            }
        }
        if (!ended.isEmpty()) {
            updateRunningCount();
        }
        // told after its place and cache are given back: whoever waits on it sees the batch without it
        for (Generation g : ended) {
            endEarly(g, now);
        }
    }

    /** Fails a generation that ends before its time: past its deadline, or cancelled (no one is listening). */
    private void endEarly(Generation g, long now) {
        if (!g.failed && !g.cancelled && g.expired(now)) {
            fail(g, new DeadlineExceeded("the request's deadline passed before its generation finished"));
        } else if (!g.failed) {
            fail(g, new CancellationException("the request was cancelled"));
        }
    }

    private void step(List<BatchDecoder.Row> rows, List<Slot> stepped) {
        rows.clear();
        stepped.clear();
        for (Slot s : running) {
            if (!s.state.prefilling()) {
                s.state.addRows(rows, s.sequence, chunkSize);
                s.lastRow = rows.size() - 1;
                stepped.add(s);
            }
        }
        int budget = decoder.preferredRowsPerStep() - rows.size();
        boolean chunkTaken = false;
        for (Slot s : running) {
            if (s.state.prefilling()) {
                int n = s.state.nextRowCount(chunkSize);
                if (chunkTaken && n > budget) {
                    continue;
                }
                s.state.addRows(rows, s.sequence, chunkSize);
                s.lastRow = rows.size() - 1;
                stepped.add(s);
                budget -= n;
                chunkTaken = true;
            }
        }
        float[][] logits;
        try {
            logits = decoder.step(rows);
        } catch (RuntimeException e) {
            LOG.error("{}: a step of {} rows failed; its requests fail", name, rows.size(), e);
            for (Slot s : stepped) {
                fail(s.generation, e);
            }
            leaveEnded();
            return;
        }
        List<Runnable> tell = new ArrayList<>();
        for (Slot s : stepped) {
            Generation g = s.generation;
            if (g.failed) {
                continue;
            }
            try {
                if (g.phase == Phase.PREFILLING && s.state.choosesThisStep(chunkSize)) {
                    // its prompt is read: set before its first text is sent, so whoever reads that text sees it
                    g.phase = Phase.DECODING;
                }
                if (s.state.accept(logits[s.lastRow], chunkSize)) {
                    Finished finished = new Finished(s.index, s.state.result());
                    s.sequence.close();
                    running.remove(s);
                    g.unfinished--;
                    tell.add(() -> g.events.add(finished));
                }
            } catch (RuntimeException e) {
                LOG.error("{}: choosing a token failed", name, e);
                fail(g, e);
            }
        }
        if (!tell.isEmpty()) {
            updateRunningCount();
        }
        // told after their places and caches are given back: whoever waits on them sees the batch without them
        tell.forEach(Runnable::run);
        leaveEnded();
    }

    private void updateRunningCount() {
        lock.lock();
        try {
            runningCount = running.size();
        } finally {
            lock.unlock();
        }
    }

    private void fail(Generation g, RuntimeException error) {
        synchronized (g) {
            if (!g.failed && g.unfinished > 0) {
                g.failed = true;
                g.events.add(new Failed(error));
            }
        }
    }

    private void shutDown() {
        lock.lock();
        try {
            closed = true;
            for (Slot s : waiting) {
                fail(s.generation, new CancellationException("the server is shutting down"));
            }
            waiting.clear();
        } finally {
            lock.unlock();
        }
        for (Slot s : running) {
            fail(s.generation, new CancellationException("the server is shutting down"));
            s.sequence.close();
        }
        running.clear();
        runningCount = 0;
        decoder.close();
    }

    /** Stops the thread (after its current step), failing what it held, and closes the decoder. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        try {
            thread.join(TimeUnit.MINUTES.toMillis(1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
