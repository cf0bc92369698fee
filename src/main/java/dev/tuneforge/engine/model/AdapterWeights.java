package dev.tuneforge.engine.model;

import dev.tuneforge.engine.kernel.NativeMatrix;
import dev.tuneforge.engine.tensor.BFloat16;
import org.bytedeco.pytorch.MemoryFormatOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An adapter's weights as the decoders read them, held once: every low-rank matrix in one native block, layer after
 * layer in the order the native team reads them (each group's A rows stacked, then its members' scaled Bᵀ), which the
 * single-token decoder (Java and native), the batched decoder and their description for the C side
 * ({@link #teamWords}, {@code tf_adapter_layer_t} per layer) all read in place; the few trained token rows as arrays.
 * <p>
 * The block is counted: whoever creates these weights holds them once, a decoder's sequence holds them while it
 * runs ({@link #retain}, {@link #release}); the last release frees the block at once (a served adapter evicted while
 * no sequence uses it), else it goes when these weights become unreachable.
 */
public final class AdapterWeights {
    private static final Cleaner CLEANER = Cleaner.create();
    private final LowRank[][] lowRanks;
    /** Indexed [group][layer]; null where no member of the group is adapted. */
    private final NativeMatrix[][] stackedDowns;
    private final boolean bf16;
    private final Map<Integer, float[]> embeddingRows;
    private final int[] headTokens;
    private final float[][] headRows;
    private final long bytesReadPerToken;
    private final long blockBytes;
    private final MemorySegment teamWords;
    private final Block block;
    private final AtomicInteger holds = new AtomicInteger(1);

    /**
     * The up half of {@code y += upᵀ · (down · x)}: up is [rank, out] (LoRA's B transposed, row-major) with the
     * adapter's scale folded in; the down half (LoRA's A) is in {@link #stackedDown}.
     */
    public record LowRank(int rank, int out, NativeMatrix up) {
    }

    /** Where the low-rank matrices come from: each written once, straight into the block. */
    public interface Source {
        /** The rank of projection {@code p}'s update in {@code layer}; 0 where the adapter has none. */
        int rank(int layer, Projection p);

        /** Writes A, [rank, in] float32 row-major, at {@code into}. */
        void writeDown(int layer, Projection p, MemorySegment into);

        /** Writes the scaled Bᵀ, [rank, out] float32 row-major, at {@code into}. */
        void writeUp(int layer, Projection p, MemorySegment into);
    }

    /** The native block and the arena its Java views are scoped to: freed once, by the last release or the cleaner. */
    private static final class Block implements Runnable {
        private final Tensor memory;
        private final Arena arena = Arena.ofShared();
        private final AtomicBoolean freed = new AtomicBoolean();

        Block(long bytes) {
            // on huge pages where libtorch's allocator gives them (THP_MEM_ALLOC_ENABLE, set by the launcher): on
            // 4 KB pages SmolLM2's A · x and B · t took ~0.4 and ~0.5 ms a token more for their ~10 MB, as the
            // hardware prefetcher stops at every page boundary
            memory = torch.empty(new long[]{Math.max(1, bytes / Float.BYTES)}, new TensorOptions(ScalarType.Float),
                    new MemoryFormatOptional());
            // possibly made inside a caller's PointerScope: kept alive past it, until freed here
            memory.retainReference();
        }

        MemorySegment segment(long bytes) {
            return MemorySegment.ofAddress(memory.data_ptr().address()).reinterpret(bytes, arena, null);
        }

        @Override
        public void run() {
            if (freed.compareAndSet(false, true)) {
                arena.close();
                memory.releaseReference();
            }
        }
    }

    /**
     * Copies the low-rank matrices of {@code source} into one block for a model of {@code config}, as float32 or,
     * where {@code bf16}, rounded to bfloat16 (half the bytes to hold and to read for every token; the decoders
     * widen them to float32 as they read); the token rows ({@code embeddingRows} by token id, {@code headRows[j]}
     * for token {@code headTokens[j]}) are kept as given.
     */
    public AdapterWeights(ModelConfig config, Source source, boolean bf16, Map<Integer, float[]> embeddingRows,
                          int[] headTokens, float[][] headRows) {
        int layers = config.numLayers();
        int groups = Projection.GROUPS.size();
        int elementBytes = bf16 ? 2 : Float.BYTES;
        int[] inputs = new int[groups];
        for (int g = 0; g < groups; g++) {
            inputs[g] = (int) Projection.GROUPS.get(g).getFirst().weightShape(config)[1];
        }
        long elements = 0;
        long largest = 0;
        for (int l = 0; l < layers; l++) {
            for (int g = 0; g < groups; g++) {
                long stacked = 0;
                for (Projection p : Projection.GROUPS.get(g)) {
                    int rank = source.rank(l, p);
                    stacked += (long) rank * inputs[g];
                    long up = (long) rank * p.weightShape(config)[0];
                    elements += lines(up, elementBytes);
                    largest = Math.max(largest, Math.max(up, (long) rank * inputs[g]));
                }
                elements += lines(stacked, elementBytes);
            }
        }
        this.bf16 = bf16;
        this.blockBytes = elements * elementBytes;
        this.block = new Block(blockBytes);
        CLEANER.register(this, block);
        MemorySegment memory = block.segment(blockBytes);
        this.teamWords = block.arena.allocate(TeamLayouts.ADAPTER_LAYER, layers);
        this.lowRanks = new LowRank[layers][Projection.values().length];
        this.stackedDowns = new NativeMatrix[groups][layers];
        long elementsPerToken = 0;
        long next = 0;
        try (Arena scratchArena = Arena.ofConfined()) {
            // the source writes float32: where the block holds bf16, into this first
            MemorySegment scratch = bf16 ? scratchArena.allocate(Math.max(1, largest) * Float.BYTES, 64) : null;
            for (int l = 0; l < layers; l++) {
                long at = l * TeamLayouts.ADAPTER_LAYER.byteSize();
                teamWords.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("bf16"), bf16 ? 1 : 0);
                for (int g = 0; g < groups; g++) {
                    List<Projection> group = Projection.GROUPS.get(g);
                    long start = next;
                    for (Projection p : group) {
                        int rank = source.rank(l, p);
                        if (rank > 0) {
                            long n = (long) rank * inputs[g];
                            int layer = l;
                            write(memory, next, n, scratch, into -> source.writeDown(layer, p, into));
                            next += n;
                        }
                    }
                    long rows = (next - start) / inputs[g];
                    if (rows > 0) {
                        stackedDowns[g][l] = new NativeMatrix(
                                memory.asSlice(start * elementBytes, (next - start) * elementBytes), bf16);
                        elementsPerToken += next - start;
                    }
                    teamWords.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("groups", g, "stacked"),
                            rows == 0 ? 0 : memory.address() + start * elementBytes);
                    teamWords.set(ValueLayout.JAVA_LONG, at + TeamLayouts.adapterOffset("groups", g, "rows"), rows);
                    next = start + lines(next - start, elementBytes);
                    for (Projection p : group) {
                        int rank = source.rank(l, p);
                        int out = (int) p.weightShape(config)[0];
                        NativeMatrix up = null;
                        if (rank > 0) {
                            long n = (long) rank * out;
                            int layer = l;
                            up = new NativeMatrix(memory.asSlice(next * elementBytes, n * elementBytes), bf16);
                            write(memory, next, n, scratch, into -> source.writeUp(layer, p, into));
                            lowRanks[l][p.ordinal()] = new LowRank(rank, out, up);
                            elementsPerToken += n;
                            next += lines(n, elementBytes);
                        }
                        teamWords.set(ValueLayout.JAVA_LONG,
                                at + TeamLayouts.adapterOffset("projections", p.ordinal(), "up"),
                                up == null ? 0 : up.data().address());
                        teamWords.set(ValueLayout.JAVA_LONG,
                                at + TeamLayouts.adapterOffset("projections", p.ordinal(), "rank"), (long) rank);
                    }
                }
            }
        }
        this.embeddingRows = Map.copyOf(embeddingRows);
        this.headTokens = headTokens.clone();
        this.headRows = headRows.clone();
        this.bytesReadPerToken = elementsPerToken * elementBytes
                + Arrays.stream(headRows).mapToLong(row -> row.length).sum() * Float.BYTES;
    }

    /**
     * Has {@code writer} write n float32 values: straight into the block at element {@code at}, or (scratch given:
     * a bf16 block) into scratch, then rounded into the block.
     */
    private void write(MemorySegment memory, long at, long n, MemorySegment scratch,
                       java.util.function.Consumer<MemorySegment> writer) {
        if (scratch == null) {
            writer.accept(memory.asSlice(at * Float.BYTES, n * Float.BYTES));
            return;
        }
        writer.accept(scratch.asSlice(0, n * Float.BYTES));
        for (long i = 0; i < n; i++) {
            memory.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, at + i,
                    BFloat16.round(scratch.getAtIndex(ValueLayout.JAVA_FLOAT, i)));
        }
    }

    /** n elements of elementBytes each rounded up to whole 64-byte lines. */
    private static long lines(long n, int elementBytes) {
        long perLine = 64 / elementBytes;
        return (n + perLine - 1) / perLine * perLine;
    }

    /** Whether the low-rank matrices are held as bfloat16 (else float32). */
    public boolean bf16() {
        return bf16;
    }

    /** The up half of the low-rank update of projection {@code p} in {@code layer}, or null where the adapter has none. */
    public LowRank lowRank(int layer, Projection p) {
        return lowRanks[layer][p.ordinal()];
    }

    /**
     * The down (A) rows of the updates of {@code group} (one of {@link Projection#GROUPS}) in {@code layer}, stacked
     * in the group's order with the members that have none skipped, [Σ rank, in]: a product of the group's
     * shared input with them gives every member's intermediate at once. Null where no member has an update.
     */
    public NativeMatrix stackedDown(int layer, List<Projection> group) {
        int g = Projection.GROUPS.indexOf(group);
        if (g < 0) {
            throw new IllegalArgumentException("not a projection group: " + group);
        }
        return stackedDowns[g][layer];
    }

    /** The replacement embedding row of {@code token}, or null where the base row stands. */
    public float[] embeddingRow(int token) {
        return embeddingRows.get(token);
    }

    /** Token ids whose output logit comes from a replacement head row (may be empty). */
    public int[] headTokens() {
        return headTokens;
    }

    /** The replacement head row of {@code headTokens()[j]}. */
    public float[] headRow(int j) {
        return headRows[j];
    }

    /** Bytes of these weights the decoder reads for every token: all low-rank pairs and the head rows. */
    public long bytesReadPerToken() {
        return bytesReadPerToken;
    }

    /** Bytes these weights hold: the native block (line padding included) and the token rows. */
    public long bytes() {
        long rows = embeddingRows.values().stream().mapToLong(row -> row.length).sum()
                + Arrays.stream(headRows).mapToLong(row -> row.length).sum();
        return blockBytes + rows * Float.BYTES;
    }

    /** The per-layer {@code tf_adapter_layer_t} array describing the block for the native decoders. */
    MemorySegment teamWords() {
        return teamWords;
    }

    /** One more hold on the block; false (and none taken) where the last hold was already released. */
    public boolean retain() {
        while (true) {
            int h = holds.get();
            if (h == 0) {
                return false;
            }
            if (holds.compareAndSet(h, h + 1)) {
                return true;
            }
        }
    }

    /** Gives back one hold; the last frees the block (and returns true). */
    public boolean release() {
        int h = holds.decrementAndGet();
        if (h < 0) {
            holds.incrementAndGet();
            throw new IllegalStateException("adapter weights released more often than held");
        }
        if (h == 0) {
            block.run();
            return true;
        }
        return false;
    }

    /** Whether the block was freed (every hold released). */
    public boolean released() {
        return block.freed.get();
    }
}
