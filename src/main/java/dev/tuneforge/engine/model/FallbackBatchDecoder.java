package dev.tuneforge.engine.model;

import dev.tuneforge.engine.tensor.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The portable {@link BatchDecoder}: each sequence of a step is computed on its own, exactly as it would be alone,
 * so its results cannot depend on the other rows. A run of several rows (a prompt chunk) goes through
 * {@link LlamaModel#forward} with the sequence's {@link KvCache}; a single row through the model's
 * {@link SingleTokenDecoder} where it has one and the adapter gives its weights, else through libtorch too.
 * Sequences share the base weights but not their reads of them: this batches scheduling, not arithmetic.
 */
public final class FallbackBatchDecoder implements BatchDecoder {
    /** Rows per step: the decode rows of a full batch plus a prompt chunk (see the scheduler's chunking). */
    static final int ROWS_PER_STEP = 64;

    private final LlamaModel model;
    private final SingleTokenDecoder decoder;
    private final String why;
    private final AtomicLong kvBytes = new AtomicLong();

    /** With {@code singleTokenDecoder} false every row goes through libtorch (as on runtimes without the decoder). */
    public FallbackBatchDecoder(LlamaModel model, boolean singleTokenDecoder, String why) {
        this.model = model;
        this.decoder = singleTokenDecoder ? model.decoder() : null;
        this.why = why;
    }

    private final class FallbackSequence implements Sequence {
        private final Adapter adapter;
        private final KvCache cache;
        private final SingleTokenDecoder.State state;
        private final AdapterWeights adapterWeights;
        private boolean closed;

        FallbackSequence(Adapter adapter, int expectedPositions) {
            this.adapter = adapter;
            this.adapterWeights = adapter == null ? null : adapter.decodeWeights();
            if (adapterWeights != null && !adapterWeights.retain()) {
                throw new IllegalStateException("adapter: its weights were already released");
            }
            this.cache = model.newCache(expectedPositions);
            this.state = decoder == null || adapter != null && adapterWeights == null ? null : decoder.newState(cache);
            kvBytes.addAndGet(cache.bytes());
        }

        @Override
        public int length() {
            return cache.length();
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                kvBytes.addAndGet(-cache.bytes());
                cache.release();
                if (adapterWeights != null) {
                    adapterWeights.release();
                }
            }
        }

        /** Runs rows {@code from..to-1} of {@code rows}, all of this sequence, into {@code out}. */
        void run(List<Row> rows, int from, int to, float[][] out) {
            if (closed) {
                throw new IllegalStateException("a closed sequence was given rows");
            }
            int n = to - from;
            int start = cache.length();
            if (n == 1 && state != null) {
                float[] logits = decoder.next(state, rows.get(from).token(), start, cache, adapterWeights);
                if (rows.get(from).wantLogits()) {
                    out[from] = logits.clone();
                }
                return;
            }
            long[] ids = new long[n];
            for (int i = 0; i < n; i++) {
                ids[i] = rows.get(from + i).token();
            }
            try (PointerScope scope = new PointerScope()) {
                Tensor hidden = model.forward(Tensors.longs(ids, 1, n), start, cache, adapter);
                for (int i = 0; i < n; i++) {
                    if (rows.get(from + i).wantLogits()) {
                        out[from + i] = Tensors.toFloats(model.logits(hidden.select(1, i).select(0, 0), adapter));
                    }
                }
            }
        }
    }

    @Override
    public Sequence open(Adapter adapter, int expectedPositions) {
        if (expectedPositions < 1) {
            throw new IllegalArgumentException("a sequence needs room for at least one position, got " + expectedPositions);
        }
        return new FallbackSequence(adapter, expectedPositions);
    }

    @Override
    public float[][] step(List<Row> rows) {
        float[][] out = new float[rows.size()][];
        try (NoGradGuard noGrad = new NoGradGuard()) {
            int from = 0;
            while (from < rows.size()) {
                Sequence s = rows.get(from).sequence();
                int to = from + 1;
                while (to < rows.size() && rows.get(to).sequence() == s) {
                    to++;
                }
                if (!(s instanceof FallbackSequence sequence)) {
                    throw new IllegalArgumentException("a sequence this decoder did not open");
                }
                sequence.run(rows, from, to, out);
                from = to;
            }
        }
        return out;
    }

    @Override
    public int preferredRowsPerStep() {
        return ROWS_PER_STEP;
    }

    @Override
    public long kvBytesInUse() {
        return kvBytes.get();
    }

    @Override
    public String describe() {
        return "fallback batch decoder (each sequence on its own: prompt chunks through libtorch, single rows through "
                + (decoder == null ? "libtorch" : decoder.loop()) + ")" + (why == null ? "" : ": " + why);
    }

    @Override
    public void close() {
    }
}
