package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.MatrixRows;
import dev.tuneforge.engine.kernel.NativeTeam;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@link BatchDecoder} on the native batched team decoder ({@code src/main/c/team_batch.c}): a step's rows go through
 * the layers together, each weight row read once for all of them, each row with its own position, KV pages and
 * adapter. Here the rows' inputs are prepared (embedding with the adapter's replaced rows and Gemma's scale, RoPE's
 * cos and sin), the sequences' KV pages ({@link KvPages}) grown to the step's positions, and the logits finished (the
 * adapter's head rows, then the soft-cap), as the single-token path does.
 */
public final class TeamBatchDecoder implements BatchDecoder {
    /** The scheduler's token budget per step: enough rows to share each weight read widely, few enough for latency. */
    static final int ROWS_PER_STEP = 64;

    private final DecoderWeights weights;
    private final ModelConfig config;
    private final LlamaTeam team;
    private final KvPages pages;
    private final boolean bf16;
    /** How the embedding table is stored (a Q8_0 base's KV pages are float32, as its activations). */
    private final MatrixRows.Storage storage;
    private final MemorySegment embeddings;
    private final float embeddingScale;
    private final float[][] inverseFrequencies;
    private final double softcap;
    private final Set<PagedSequence> open = new HashSet<>();
    private final Object lock = new Object();
    /** Native inputs and outputs of a step, grown to the most rows seen. */
    private StepBuffers buffers;
    private boolean closed;

    private TeamBatchDecoder(DecoderWeights weights) {
        this.weights = weights;
        this.config = weights.config();
        this.team = new LlamaTeam(weights);
        this.bf16 = weights.dtype() == TeamLayouts.DTYPE_BF16;
        this.pages = new KvPages(config, bf16);
        this.storage = weights.dtype() == TeamLayouts.DTYPE_Q8_0 ? MatrixRows.Storage.Q8_0
                : bf16 ? MatrixRows.Storage.BFLOAT16 : MatrixRows.Storage.FLOAT32;
        this.embeddings = MemorySegment.ofAddress(weights.embedTokens())
                .reinterpret(config.vocabSize() * MatrixRows.rowBytes(storage, config.hiddenSize()));
        this.embeddingScale = weights.embeddingScale();
        List<Architecture.Rope> ropes = config.architecture().ropes();
        this.inverseFrequencies = new float[ropes.size()][];
        for (int r = 0; r < ropes.size(); r++) {
            inverseFrequencies[r] = RotaryEmbedding.inverseFrequencies(ropes.get(r), config.headDim());
        }
        this.softcap = config.architecture().finalLogitSoftcap();
    }

    /**
     * The batched decoder over {@code weights}, or null where it cannot run: the native team is unavailable (see
     * {@link #unavailableReason()}).
     */
    static TeamBatchDecoder create(DecoderWeights weights) {
        return unavailableReason() == null ? new TeamBatchDecoder(weights) : null;
    }

    /** Why no batched team decoder runs in this process, or null where it does. */
    public static String unavailableReason() {
        return NativeTeam.available() ? null : NativeTeam.status();
    }

    /** One sequence: its adapter, its length and its KV pages (addresses, and the same as a native page table). */
    private final class PagedSequence implements Sequence {
        private final AdapterWeights adapter;
        private final MemorySegment adapterWords;
        private int length;
        private long[] pageAddresses;
        private int pageCount;
        private MemorySegment table;
        private boolean closed;

        private PagedSequence(AdapterWeights adapter, int expectedPositions) {
            this.adapter = adapter;
            this.adapterWords = LlamaTeam.adapter(adapter);
            int expectedPages = Math.max(1, Math.ceilDiv(Math.max(1, expectedPositions), KvPages.POSITIONS));
            this.pageAddresses = new long[expectedPages];
            this.table = Arena.ofAuto().allocate(ValueLayout.ADDRESS, expectedPages);
        }

        @Override
        public int length() {
            synchronized (lock) {
                return length;
            }
        }

        /** Pages for positions [0, positions). */
        private void growTo(int positions) {
            int needed = Math.ceilDiv(positions, KvPages.POSITIONS);
            if (needed > pageAddresses.length) {
                int capacity = Math.max(needed, pageAddresses.length * 2);
                pageAddresses = Arrays.copyOf(pageAddresses, capacity);
                MemorySegment grown = Arena.ofAuto().allocate(ValueLayout.ADDRESS, capacity);
                MemorySegment.copy(table, 0, grown, 0, (long) pageCount * ValueLayout.ADDRESS.byteSize());
                table = grown;
            }
            while (pageCount < needed) {
                long page = pages.take();
                pageAddresses[pageCount] = page;
                table.setAtIndex(ValueLayout.JAVA_LONG, pageCount, page);
                pageCount++;
            }
        }

        @Override
        public void close() {
            synchronized (lock) {
                if (closed) {
                    return;
                }
                closed = true;
                for (int i = 0; i < pageCount; i++) {
                    pages.give(pageAddresses[i]);
                }
                pageCount = 0;
                open.remove(this);
                if (adapter != null) {
                    // a step reads the adapter only under the lock: none is running now
                    adapter.release();
                }
            }
        }
    }

    @Override
    public Sequence open(Adapter adapter, int expectedPositions) {
        AdapterWeights adapterWeights = null;
        if (adapter != null) {
            adapterWeights = adapter.decodeWeights();
            if (adapterWeights == null) {
                throw new IllegalArgumentException("adapter: gives no decoder weights, so the batched decoder cannot "
                        + "apply it");
            }
            if (!adapterWeights.retain()) {
                throw new IllegalStateException("adapter: its weights were already released");
            }
        }
        synchronized (lock) {
            try {
                checkOpen();
            } catch (RuntimeException e) {
                if (adapterWeights != null) {
                    adapterWeights.release();
                }
                throw e;
            }
            PagedSequence sequence = new PagedSequence(adapterWeights, expectedPositions);
            open.add(sequence);
            return sequence;
        }
    }

    @Override
    public float[][] step(List<Row> rows) {
        synchronized (lock) {
            checkOpen();
            int n = rows.size();
            int[] positions = positions(rows);
            Map<PagedSequence, Integer> added = new IdentityHashMap<>();
            int wanting = 0;
            for (int i = 0; i < n; i++) {
                PagedSequence s = (PagedSequence) rows.get(i).sequence();
                s.growTo(positions[i] + 1);
                added.merge(s, 1, Integer::sum);
                wanting += rows.get(i).wantLogits() ? 1 : 0;
            }
            float[][] out = new float[n][];
            if (n == 0) {
                return out;
            }
            StepBuffers b = buffers(n, wanting);
            int hidden = config.hiddenSize();
            int angles = inverseFrequencies.length * config.headDim() / 2;
            int wanted = 0;
            for (int i = 0; i < n; i++) {
                Row row = rows.get(i);
                PagedSequence s = (PagedSequence) row.sequence();
                embed(row.token(), s.adapter, b.hidden.asSlice((long) i * hidden * Float.BYTES, (long) hidden * Float.BYTES));
                rotaryAngles(positions[i], b.cos.asSlice((long) i * angles * Float.BYTES, (long) angles * Float.BYTES),
                        b.sin.asSlice((long) i * angles * Float.BYTES, (long) angles * Float.BYTES));
                var R = TeamLayouts.BATCH_ROW;
                TeamLayouts.set(b.rows, R, i, "adapter", s.adapterWords);
                TeamLayouts.set(b.rows, R, i, "pages", s.table);
                TeamLayouts.set(b.rows, R, i, "cos", b.cos.address() + (long) i * angles * Float.BYTES);
                TeamLayouts.set(b.rows, R, i, "sin", b.sin.address() + (long) i * angles * Float.BYTES);
                TeamLayouts.set(b.rows, R, i, "hidden_in", b.hidden.address() + (long) i * hidden * Float.BYTES);
                boolean logits = row.wantLogits();
                TeamLayouts.set(b.rows, R, i, "normed_out",
                        logits ? b.normed.address() + (long) wanted * hidden * Float.BYTES : 0L);
                TeamLayouts.set(b.rows, R, i, "logits", logits ? b.logits.address() + wanted * b.logitsStride : 0L);
                TeamLayouts.set(b.rows, R, i, "position", (long) positions[i]);
                wanted += logits ? 1 : 0;
            }
            while (NativeTeam.decodeBatch(team.model(), b.rows, n, KvPages.POSITIONS, bf16) == NativeTeam.BUSY) {
                // another sequence's single token holds the team: a few milliseconds at most
                Thread.yield();
            }
            wanted = 0;
            for (int i = 0; i < n; i++) {
                if (rows.get(i).wantLogits()) {
                    out[i] = finish(b, wanted++, ((PagedSequence) rows.get(i).sequence()).adapter);
                }
            }
            for (Map.Entry<PagedSequence, Integer> e : added.entrySet()) {
                e.getKey().length += e.getValue();
            }
            // the weights and adapters read by the native step are these objects' memory
            Reference.reachabilityFence(weights);
            Reference.reachabilityFence(team);
            Reference.reachabilityFence(rows);
            return out;
        }
    }

    /** Each row's position; checks that the rows are this decoder's open sequences, consecutive, with valid tokens. */
    private int[] positions(List<Row> rows) {
        int[] positions = new int[rows.size()];
        Set<Sequence> done = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        Sequence current = null;
        int next = 0;
        for (int i = 0; i < rows.size(); i++) {
            Row row = rows.get(i);
            if (row == null || row.sequence() == null) {
                throw new IllegalArgumentException("rows[" + i + "].sequence: missing");
            }
            if (!(row.sequence() instanceof PagedSequence s) || !open.contains(s)) {
                throw new IllegalArgumentException("rows[" + i + "].sequence: not an open sequence of this decoder");
            }
            if (row.token() < 0 || row.token() >= config.vocabSize()) {
                throw new IllegalArgumentException("rows[" + i + "].token: " + row.token() + " is outside the vocabulary "
                        + "of " + config.vocabSize());
            }
            if (s != current) {
                if (!done.add(s)) {
                    throw new IllegalArgumentException("rows[" + i + "].sequence: its rows must be consecutive in a step");
                }
                current = s;
                next = s.length;
            }
            positions[i] = next++;
        }
        return positions;
    }

    /** The row's scaled embedding: the adapter's replaced row where it has one, else the base row. */
    private void embed(int token, AdapterWeights adapter, MemorySegment into) {
        int hidden = config.hiddenSize();
        float[] row = adapter == null ? null : adapter.embeddingRow(token);
        if (row == null) {
            row = new float[hidden];
            MatrixRows.read(embeddings, storage, hidden, token, row);
        } else {
            row = row.clone();
        }
        if (embeddingScale != 1f) {
            for (int i = 0; i < hidden; i++) {
                row[i] *= embeddingScale;
            }
        }
        MemorySegment.copy(row, 0, into, ValueLayout.JAVA_FLOAT, 0, hidden);
    }

    /** cos and sin of every RoPE of the layers at {@code position}, as the single-token decoder computes them. */
    private void rotaryAngles(int position, MemorySegment cos, MemorySegment sin) {
        int angles = (int) (cos.byteSize() / Float.BYTES);
        float[] c = new float[angles];
        float[] s = new float[angles];
        RotaryEmbedding.angles(inverseFrequencies, position, c, s);
        MemorySegment.copy(c, 0, cos, ValueLayout.JAVA_FLOAT, 0, angles);
        MemorySegment.copy(s, 0, sin, ValueLayout.JAVA_FLOAT, 0, angles);
    }


    /** The wanted row's logits: the adapter's head rows replace theirs, then the soft-cap where declared. */
    private float[] finish(StepBuffers b, int wanted, AdapterWeights adapter) {
        int vocab = config.vocabSize();
        int hidden = config.hiddenSize();
        float[] logits = new float[vocab];
        MemorySegment.copy(b.logits, ValueLayout.JAVA_FLOAT, wanted * b.logitsStride, logits, 0, vocab);
        if (adapter != null && adapter.headTokens().length > 0) {
            float[] normed = new float[hidden];
            MemorySegment.copy(b.normed, ValueLayout.JAVA_FLOAT, (long) wanted * hidden * Float.BYTES, normed, 0, hidden);
            int[] tokens = adapter.headTokens();
            for (int j = 0; j < tokens.length; j++) {
                float[] headRow = adapter.headRow(j);
                float sum = 0;
                for (int i = 0; i < hidden; i++) {
                    sum += headRow[i] * normed[i];
                }
                logits[tokens[j]] = sum;
            }
        }
        if (softcap > 0) {
            for (int i = 0; i < vocab; i++) {
                logits[i] = (float) (softcap * Math.tanh(logits[i] / softcap));
            }
        }
        return logits;
    }

    /** A step's native buffers: rows' structs, inputs, cos/sin, and the wanted rows' final norms and logits. */
    private record StepBuffers(int rowCapacity, int logitsCapacity, MemorySegment rows, MemorySegment hidden,
                               MemorySegment cos, MemorySegment sin, MemorySegment normed, MemorySegment logits,
                               long logitsStride) {
    }

    private StepBuffers buffers(int n, int wanting) {
        StepBuffers b = buffers;
        if (b != null && b.rowCapacity >= n && b.logitsCapacity >= wanting) {
            return b;
        }
        int rowCapacity = Math.max(n, b == null ? 0 : b.rowCapacity);
        int logitsCapacity = Math.max(1, Math.max(wanting, b == null ? 0 : b.logitsCapacity));
        Arena arena = Arena.ofAuto();
        int hidden = config.hiddenSize();
        long angles = (long) inverseFrequencies.length * config.headDim() / 2;
        // each wanted row's logits on whole cache lines: the threads write them in shares meeting at line boundaries
        long logitsStride = ((long) config.vocabSize() * Float.BYTES + 63) & ~63L;
        buffers = new StepBuffers(rowCapacity, logitsCapacity, arena.allocate(TeamLayouts.BATCH_ROW, rowCapacity),
                arena.allocate((long) rowCapacity * hidden * Float.BYTES, 64),
                arena.allocate(rowCapacity * angles * Float.BYTES, 64),
                arena.allocate(rowCapacity * angles * Float.BYTES, 64),
                arena.allocate((long) logitsCapacity * hidden * Float.BYTES, 64),
                arena.allocate(logitsCapacity * logitsStride, 64), logitsStride);
        return buffers;
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the batched decoder is closed");
        }
    }

    @Override
    public int preferredRowsPerStep() {
        return ROWS_PER_STEP;
    }

    @Override
    public long kvBytesInUse() {
        return pages.bytesInUse();
    }

    /** Bytes of free KV pages kept mapped for the next sequences (a small reserve). */
    public long kvBytesReserved() {
        return pages.bytesReserved();
    }

    @Override
    public String describe() {
        return "native batched team decoder (" + (storage == MatrixRows.Storage.Q8_0 ? "Q8_0" : bf16 ? "bf16" : "fp32") + " weights, KV pages of "
                + KvPages.POSITIONS + " positions, " + pages.pageBytes() / 1024 + " KiB each)";
    }

    /** Ends every open sequence and gives the pages' reserve back to the system. */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            for (PagedSequence s : new ArrayList<>(open)) {
                s.close();
            }
            closed = true;
            pages.release();
        }
    }
}
