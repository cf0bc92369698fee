package dev.tuneforge.engine.kernel;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The single-token decoder run by all cores as one team in native code ({@code src/main/c/team_decoder.c}, in the
 * same library as {@link NativeRowPairs}' loop): each core keeps its own copy of the hidden state, does the serial
 * vector work itself and takes a fixed share of every product and of attention's positions, the cores meeting at
 * spin barriers. Where the VM's two vCPUs sit far apart this decodes SmolLM2 with an adapter ~17% faster than the
 * Java decoder, whose parallel jobs hand every step's input and output between the cores, and ~5% faster where they
 * sit close (bench/performance-log.md, "The team decoder").
 * Available where the native loop is, unless {@value #ENV} is {@code 0}; the descriptors it reads are built by
 * {@code LlamaTeam}.
 */
public final class NativeTeam {
    static final String ENV = "TUNEFORGE_TEAM_DECODER";
    static final FunctionDescriptor SIGNATURE = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS);
    static final FunctionDescriptor BATCH_SIGNATURE = FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
            ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    /** The call's outcomes. */
    public static final int DONE = 0;
    public static final int BUSY = 1;

    private NativeTeam() {
    }

    /** Whether the team decoder can run here. */
    public static boolean available() {
        return NativeRowPairs.TEAM != null && !"0".equals(System.getenv(ENV));
    }

    /** What decodes single tokens in this process, and why not the team where it does not. */
    public static String status() {
        if (NativeRowPairs.TEAM == null) {
            return "Java decoder: " + NativeRowPairs.status();
        }
        if (!available()) {
            return "Java decoder, " + ENV + "=0: " + NativeRowPairs.status();
        }
        return "native team decoder";
    }

    /** Whether the library's struct layout functions can be called (it was built and loads; no AVX-512 needed). */
    public static boolean layoutsReadable() {
        return NativeRowPairs.OFFSET_OF != null;
    }

    /** The compiled {@code offsetof(type, field)} of team_decoder.h's structs; -1 for a name C does not know. */
    public static long offsetOf(String type, String field) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            return NativeCalls.unchecked(() -> (long) NativeRowPairs.OFFSET_OF.invokeExact(arena.allocateFrom(type),
                    arena.allocateFrom(field)));
        }
    }

    /** The compiled {@code sizeof(type)} of a struct of team_decoder.h; -1 for a name C does not know. */
    public static long sizeOf(String type) {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            return NativeCalls.unchecked(() -> (long) NativeRowPairs.SIZE_OF.invokeExact(arena.allocateFrom(type)));
        }
    }

    /** e^x of each value with the team's vector exponential (SwiGLU's and attention's), for tests. */
    static float[] exp(float[] values) {
        float[] out = new float[values.length];
        NativeCalls.unchecked(() -> {
            NativeRowPairs.VECTOR_EXP.invokeExact(MemorySegment.ofArray(values), MemorySegment.ofArray(out),
                    values.length);
            return null;
        });
        return out;
    }

    /**
     * Decodes one token (see team_decoder.c for the descriptors' layouts): {@link #DONE}, or {@link #BUSY} when the
     * team is decoding another sequence's token, in which case the caller decodes this one itself.
     */
    public static int decode(MemorySegment model, MemorySegment adapter, MemorySegment cache, int position,
                             MemorySegment cos, MemorySegment sin, MemorySegment hidden, MemorySegment normed,
                             MemorySegment logits) {
        int result = NativeCalls.unchecked(() -> (int) NativeRowPairs.TEAM.invokeExact(model, adapter, cache, position,
                cos, sin, hidden, normed, logits));
        if (result < 0) {
            throw new OutOfMemoryError("the team decoder could not allocate its scratch memory");
        }
        return result;
    }

    /**
     * Decodes a batch of rows ({@code tf_batch_row_t}, see team_batch.c): {@link #DONE}, or {@link #BUSY} when the team
     * is running another job. A dtype the batched products do not multiply is refused.
     */
    public static int decodeBatch(MemorySegment model, MemorySegment rows, int n, int pagePositions, boolean bf16Cache) {
        int result = NativeCalls.unchecked(() -> (int) NativeRowPairs.BATCH.invokeExact(model, rows, n, pagePositions,
                bf16Cache ? 1 : 0));
        if (result == -1) {
            throw new OutOfMemoryError("the batched team decoder could not allocate its scratch memory");
        }
        if (result == -2) {
            throw new IllegalStateException("the batched team decoder has no product for this weight dtype");
        }
        return result;
    }

    /**
     * For tests: {@code y[b * rows + r] = w[r] · x[b * cols ..]} for every row and each of the {@code n} inputs by the
     * batched decoder's product for weights of {@code dtype} ({@code tf_dtype_t}: 0 f32, 1 bf16, 2 Q8_0) held in
     * {@code w}; bf16 by VDPBF16PS where the CPU has it, unless {@code emulated}.
     */
    static float[] batchProduct(int dtype, MemorySegment w, int rows, int cols, float[] x, boolean emulated) {
        int n = x.length / cols;
        float[] y = new float[n * rows];
        int result = NativeCalls.unchecked(() -> (int) NativeRowPairs.BATCH_PRODUCT.invokeExact(dtype, w, rows, cols, n,
                MemorySegment.ofArray(x), MemorySegment.ofArray(y), emulated ? 1 : 0));
        if (result != 0) {
            throw new IllegalStateException("tuneforge_batch_product failed: " + result);
        }
        return y;
    }

    /** Whether the batched decoder's bf16 products run on VDPBF16PS (AVX512-BF16) here rather than on FMAs. */
    public static boolean bf16DotInHardware() {
        return available() && NativeCalls.unchecked(() -> (int) NativeRowPairs.BF16_DOT_IN_HARDWARE.invokeExact()) == 1;
    }

    /** Bytes mapped straight from the system for KV pages, at a page-aligned address; 0 where none could be. */
    public static long mapPages(long bytes) {
        MemorySegment pages = NativeCalls.unchecked(() -> (MemorySegment) NativeRowPairs.PAGES_MAP.invokeExact(bytes));
        return pages.address();
    }

    /** Gives pages mapped by {@link #mapPages} back to the system. */
    public static void unmapPages(long address, long bytes) {
        NativeCalls.unchecked(() -> {
            NativeRowPairs.PAGES_UNMAP.invokeExact(MemorySegment.ofAddress(address), bytes);
            return null;
        });
    }
}
