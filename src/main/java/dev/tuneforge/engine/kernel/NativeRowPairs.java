package dev.tuneforge.engine.kernel;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * {@link WeightMatrix}'s row-pairs loop compiled ahead of time ({@code src/main/c/row_pairs.c}, built by the Maven
 * build where gcc is there), called through the FFM API. It streams the weights faster than the Java loop (whole
 * SmolLM2 tokens with an adapter 3–5% faster, Qwen2.5-0.5B 3–4%, alternated every 16 tokens in one process;
 * bench/performance-log.md, "A native loop"). float32: the same arithmetic as the Java loop. bf16: the team decoder's loop,
 * which sums the even and the odd columns in separate accumulators (the Java loop the first and the second 16 of
 * each 32), so its products differ from the Java loop's in the last bits and are summed as the team decoder's.
 * Used where the library was built, the CPU has AVX-512 and {@value #ENV} is not {@code 0}; otherwise the decoder
 * runs the Java loop, and {@link #status()} says why.
 */
final class NativeRowPairs {
    static final String ENV = "TUNEFORGE_NATIVE_LOOP";
    private static final String RESOURCE = "/native/linux-x86_64/libtuneforge-decoder.so";
    private static final FunctionDescriptor F32_SIGNATURE = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT);
    private static final FunctionDescriptor BF16_SIGNATURE = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT);
    private static final MethodHandle BF16;
    private static final MethodHandle EVEN_ODD;
    private static final MethodHandle F32;
    /** q8_rows.c: x quantized per block, Q8_0 rows in pairs, the batched decoder's rows of many vectors. */
    private static final MethodHandle Q8_QUANTIZE;
    private static final MethodHandle Q8_ROW_PAIRS;
    private static final MethodHandle Q8_ROWS_MULTI;
    private static final MethodHandle Q8_ACTIVATION_BYTES;
    private static final MethodHandle Q8_USES_VNNI;
    private static final MethodHandle Q8_FORCE_PLAIN;
    private static final MethodHandle Q8_DEQUANTIZE;
    /** {@code tuneforge_team_decode} of the same library ({@link NativeTeam}). */
    static final MethodHandle TEAM;
    /** {@code tuneforge_team_decode_batch}, {@code tuneforge_pages_map} and {@code _unmap} ({@link NativeTeam}). */
    static final MethodHandle BATCH;
    static final MethodHandle PAGES_MAP;
    static final MethodHandle PAGES_UNMAP;
    /** {@code tuneforge_batch_product} and {@code tuneforge_bf16_dot_in_hardware}: the batched products, for tests. */
    static final MethodHandle BATCH_PRODUCT;
    static final MethodHandle BF16_DOT_IN_HARDWARE;
    static final MethodHandle VECTOR_EXP;
    static final MethodHandle LOG_SUM_EXP;
    /** {@code tuneforge_offset_of} and {@code tuneforge_size_of}: the C side of the structs' contract. */
    static final MethodHandle OFFSET_OF;
    static final MethodHandle SIZE_OF;
    private static final String STATUS;

    static {
        MethodHandle bf16 = null;
        MethodHandle evenOdd = null;
        MethodHandle f32 = null;
        MethodHandle[] q8 = new MethodHandle[7];
        MethodHandle team = null;
        MethodHandle batch = null;
        MethodHandle pagesMap = null;
        MethodHandle pagesUnmap = null;
        MethodHandle batchProduct = null;
        MethodHandle bf16DotInHardware = null;
        MethodHandle vectorExp = null;
        MethodHandle logSumExp = null;
        MethodHandle offsetOf = null;
        MethodHandle sizeOf = null;
        String status;
        URL library = NativeRowPairs.class.getResource(RESOURCE);
        if ("0".equals(System.getenv(ENV))) {
            status = "Java Vector API loop, " + ENV + "=0";
        } else if (library == null) {
            status = "Java Vector API loop, the native loop was not built (it needs gcc on x86-64 Linux)";
        } else {
            try {
                SymbolLookup lookup = SymbolLookup.libraryLookup(libraryPath(library), Arena.global());
                // the structs' layout functions run on any x86-64 CPU: the contract is checked wherever it was built
                offsetOf = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_offset_of").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
                sizeOf = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_size_of").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
                if (!CpuFeatures.hasAvx512()) {
                    throw new UnsupportedOperationException("the CPU has no AVX-512");
                }
                // critical: the calls are short and take the decoder's float[] arrays in place
                Linker.Option critical = Linker.Option.critical(true);
                bf16 = Linker.nativeLinker().downcallHandle(
                        lookup.find("tuneforge_bf16_row_pairs_by_halves").orElseThrow(), BF16_SIGNATURE, critical);
                evenOdd = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_even_odd").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS),
                        critical);
                f32 = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_f32_row_pairs").orElseThrow(),
                        F32_SIGNATURE, critical);
                team = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_team_decode").orElseThrow(),
                        NativeTeam.SIGNATURE);
                batch = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_team_decode_batch").orElseThrow(),
                        NativeTeam.BATCH_SIGNATURE);
                pagesMap = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_pages_map").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                pagesUnmap = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_pages_unmap").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
                batchProduct = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_batch_product").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                                ValueLayout.ADDRESS, ValueLayout.JAVA_INT), critical);
                bf16DotInHardware = Linker.nativeLinker().downcallHandle(
                        lookup.find("tuneforge_bf16_dot_in_hardware").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                q8[0] = Linker.nativeLinker().downcallHandle(
                        lookup.find("tuneforge_q8_0_quantize_activation").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS), critical);
                q8[1] = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_q8_0_row_pairs").orElseThrow(),
                        F32_SIGNATURE, critical);
                q8[2] = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_q8_0_rows_multi").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                                ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
                q8[3] = Linker.nativeLinker().downcallHandle(
                        lookup.find("tuneforge_q8_0_activation_bytes").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
                q8[4] = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_q8_0_uses_vnni").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT));
                q8[5] = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_q8_0_force_plain").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
                q8[6] = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_q8_0_dequantize").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG,
                                ValueLayout.ADDRESS));
                vectorExp = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_vector_exp").orElseThrow(),
                        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
                        critical);
                logSumExp = Linker.nativeLinker().downcallHandle(lookup.find("tuneforge_log_sum_exp").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_DOUBLE, ValueLayout.ADDRESS, ValueLayout.JAVA_INT),
                        critical);
                status = "native AVX-512 loop";
            } catch (UnsupportedOperationException e) {
                status = "Java Vector API loop, " + e.getMessage();
            } catch (IOException | RuntimeException | URISyntaxException e) {
                bf16 = null;
                evenOdd = null;
                f32 = null;
                q8 = new MethodHandle[7];
                team = null;
                batch = null;
                pagesMap = null;
                pagesUnmap = null;
                batchProduct = null;
                bf16DotInHardware = null;
                vectorExp = null;
                logSumExp = null;
                offsetOf = null;
                sizeOf = null;
                status = "Java Vector API loop, the native loop did not load: " + e;
            }
        }
        BF16 = bf16;
        EVEN_ODD = evenOdd;
        F32 = f32;
        Q8_QUANTIZE = q8[0];
        Q8_ROW_PAIRS = q8[1];
        Q8_ROWS_MULTI = q8[2];
        Q8_ACTIVATION_BYTES = q8[3];
        Q8_USES_VNNI = q8[4];
        Q8_FORCE_PLAIN = q8[5];
        Q8_DEQUANTIZE = q8[6];
        TEAM = team;
        BATCH = batch;
        PAGES_MAP = pagesMap;
        PAGES_UNMAP = pagesUnmap;
        BATCH_PRODUCT = batchProduct;
        BF16_DOT_IN_HARDWARE = bf16DotInHardware;
        VECTOR_EXP = vectorExp;
        LOG_SUM_EXP = logSumExp;
        OFFSET_OF = offsetOf;
        SIZE_OF = sizeOf;
        STATUS = status;
    }

    private NativeRowPairs() {
    }

    /** Whether the native loop is in use. */
    static boolean available() {
        return BF16 != null;
    }

    /** Which loop the decoder's products run, and why not the native one. */
    static String status() {
        return STATUS;
    }

    /**
     * Rows [from, to) of the matrix (bf16 or float32), each with row r + offset. For bf16, {@code regrouped} is x
     * as {@link #evenOdd} regroups it.
     */
    static void rowPairs(boolean bf16, MemorySegment weights, int cols, float[] x, float[] regrouped, float[] y,
                         int from, int to, int offset) {
        MemorySegment in = MemorySegment.ofArray(x);
        MemorySegment out = MemorySegment.ofArray(y);
        try {
            // each handle invoked where it is a constant, so that the JIT inlines the downcall
            if (bf16) {
                BF16.invokeExact(weights, cols, MemorySegment.ofArray(regrouped), in, out, from, to, offset);
            } else {
                F32.invokeExact(weights, cols, in, out, from, to, offset);
            }
        } catch (Throwable e) {
            throw new IllegalStateException("the native row-pairs loop failed", e);
        }
    }

    /** Whether the Q8_0 loops are in use (the native loop, and the library has them). */
    static boolean q8Available() {
        return Q8_ROW_PAIRS != null;
    }

    /** Bytes x of {@code cols} columns takes quantized for the Q8_0 loop. */
    static long q8ActivationBytes(int cols) {
        try {
            return (long) Q8_ACTIVATION_BYTES.invokeExact(cols);
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_activation_bytes failed", e);
        }
    }

    /** x quantized per block of 32 into {@code out} (at least {@link #q8ActivationBytes} bytes). */
    static void q8Quantize(float[] x, int cols, byte[] out) {
        try {
            Q8_QUANTIZE.invokeExact(MemorySegment.ofArray(x), cols, MemorySegment.ofArray(out));
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_quantize_activation failed", e);
        }
    }

    /** Rows [from, to) of a Q8_0 matrix, each with row r + offset (0: alone), against x quantized. */
    static void q8RowPairs(MemorySegment weights, int cols, byte[] quantized, float[] y, int from, int to, int offset) {
        try {
            Q8_ROW_PAIRS.invokeExact(weights, cols, MemorySegment.ofArray(quantized), MemorySegment.ofArray(y), from, to,
                    offset);
        } catch (Throwable e) {
            throw new IllegalStateException("the native Q8_0 loop failed", e);
        }
    }

    /** tuneforge_q8_0_rows_multi: y[b][r] = row r . x[b], with the vectors' and outputs' addresses in native arrays. */
    static void q8RowsMulti(MemorySegment weights, int cols, int n, MemorySegment x, MemorySegment y, int from, int to) {
        try {
            Q8_ROWS_MULTI.invokeExact(weights, cols, n, x, y, from, to);
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_rows_multi failed", e);
        }
    }

    /** Whether the Q8_0 loops use AVX512-VNNI (the CPU has it, and the fallback is not forced). */
    static boolean q8UsesVnni() {
        try {
            return (int) Q8_USES_VNNI.invokeExact() != 0;
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_uses_vnni failed", e);
        }
    }

    /** Rows [0, rows) of the Q8_0 matrix at {@code weights} as float32 at {@code out} ([rows, cols]). */
    static void q8Dequantize(long weights, int cols, long rows, long out) {
        try {
            Q8_DEQUANTIZE.invokeExact(MemorySegment.ofAddress(weights), cols, rows, MemorySegment.ofAddress(out));
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_dequantize failed", e);
        }
    }

    /** Forces the Q8_0 loops' path without VNNI (true) or back to the CPU's (false): tests of the fallback. */
    static void q8ForcePlain(boolean plain) {
        try {
            Q8_FORCE_PLAIN.invokeExact(plain ? 1 : 0);
        } catch (Throwable e) {
            throw new IllegalStateException("tuneforge_q8_0_force_plain failed", e);
        }
    }

    /**
     * x's columns regrouped for the bf16 loop ({@code tuneforge_even_odd}): in each whole block of 32, the 16 even
     * columns, then the 16 odd ones. A 64-byte line of bf16 weights holds the even columns in its words' low halves
     * and the odd ones in the high halves, so the loop widens each by one shift or one mask; the columns after the
     * last whole block are left out (the loop's tail reads x). Written into {@code regrouped} (at least cols floats),
     * which is returned.
     */
    static float[] evenOdd(float[] x, int cols, float[] regrouped) {
        try {
            EVEN_ODD.invokeExact(MemorySegment.ofArray(x), cols, MemorySegment.ofArray(regrouped));
        } catch (Throwable e) {
            throw new IllegalStateException("the native even/odd regrouping failed", e);
        }
        return regrouped;
    }

    /** The library as a file: where it is on the classpath, or copied out of the jar. */
    static Path libraryPath(URL library) throws IOException, URISyntaxException {
        if ("file".equals(library.getProtocol())) {
            return Path.of(library.toURI());
        }
        Path copy = Files.createTempFile("tuneforge-decoder", ".so");
        copy.toFile().deleteOnExit();
        try (InputStream in = library.openStream()) {
            Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
        }
        return copy;
    }
}
