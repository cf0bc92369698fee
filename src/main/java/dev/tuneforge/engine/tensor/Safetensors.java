package dev.tuneforge.engine.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Reads and writes the safetensors format (8-byte little-endian header length, JSON header, raw tensor bytes).
 * Tensors are memory-mapped while read ({@link FileRegions}) and copied into libtorch-owned memory, optionally
 * converted; each tensor's mapping is released as soon as it is copied (on Java 22+).
 */
public final class Safetensors {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long MAX_HEADER = 100L * 1024 * 1024;
    private static final FileRegions REGIONS = FileRegions.forThisRuntime();
    private static final long WRITE_CHUNK_BYTES = 1L << 30;

    private Safetensors() {
    }

    /** One tensor's entry in a file's header. */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {
    }

    public record Header(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
    }

    public static Header readHeader(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long headerLen = len.flip().getLong();
            if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > ch.size()) {
                throw new IllegalArgumentException(file + ": not a safetensors file (header length " + headerLen + ")");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            JsonNode root = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            long dataSize = ch.size() - 8 - headerLen;
            for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                if (f.getKey().equals("__metadata__")) {
                    f.getValue().fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
                    continue;
                }
                JsonNode n = f.getValue();
                JsonNode shapeNode = n.get("shape");
                long[] shape = new long[shapeNode.size()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeNode.get(i).asLong();
                }
                long begin = n.get("data_offsets").get(0).asLong();
                long end = n.get("data_offsets").get(1).asLong();
                String dtype = n.get("dtype").asText();
                long expected = numel(shape) * elementSize(dtype);
                if (begin < 0 || end > dataSize || end - begin != expected) {
                    throw new IllegalArgumentException(file + ": tensor " + f.getKey() + " has inconsistent offsets");
                }
                entries.put(f.getKey(), new Entry(f.getKey(), dtype, shape, begin, end));
            }
            return new Header(entries, metadata, 8 + headerLen);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
    }

    /** Loads every tensor of the file, converting floating-point tensors with {@code convert} (may be identity). */
    public static Map<String, Tensor> read(Path file, Function<Tensor, Tensor> convert) {
        return read(file, name -> true, convert);
    }

    /** Loads the tensors whose names {@code wanted} accepts (a multimodal checkpoint's language model, say). */
    public static Map<String, Tensor> read(Path file, java.util.function.Predicate<String> wanted,
                                           Function<Tensor, Tensor> convert) {
        Header header = readHeader(file);
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (Entry e : header.entries().values()) {
                if (!wanted.test(e.name())) {
                    continue;
                }
                out.put(e.name(), load(ch, header.dataStart(), e, convert));
            }
        } catch (IOException ex) {
            throw new UncheckedIOException("cannot read " + file, ex);
        }
        return out;
    }

    public static Map<String, Tensor> read(Path file) {
        return read(file, t -> t);
    }

    private static Tensor load(FileChannel ch, long dataStart, Entry e, Function<Tensor, Tensor> convert)
            throws IOException {
        ScalarType type = scalarType(e.dtype());
        long bytes = e.end() - e.begin();
        if (bytes == 0) {
            return torch.zeros(e.shape(), Tensors.options(type));
        }
        try (FileRegions.Region region = REGIONS.map(ch, dataStart + e.begin(), bytes)) {
            Tensor view = torch.from_blob(new Pointer() {
                {
                    address = region.address();
                }
            }, e.shape(), Tensors.options(type));
            Tensor converted = convert.apply(view);
            // from_blob memory belongs to the mapping, unmapped when this returns: the result must own its bytes
            // (to() of the same dtype is a no-op)
            boolean sharesMapping = converted.data_ptr().address() == view.data_ptr().address();
            return sharesMapping ? converted.clone() : converted.contiguous();
        }
    }

    /** Writes tensors atomically (temporary file, then rename). */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        write(file, tensors, metadata, WRITE_CHUNK_BYTES);
    }

    /**
     * Each tensor's bytes go from its native memory to the file in pieces of at most {@code chunkBytes} (a
     * {@link ByteBuffer} holds under 2 GB): no copy on the Java heap, and no limit on a tensor's size.
     */
    static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata, long chunkBytes) {
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        List<Tensor> contiguous = new ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
            Tensor tensor = t.getValue().detach().contiguous();
            ObjectNode n = header.putObject(t.getKey());
            n.put("dtype", dtypeName(tensor.scalar_type()));
            var shape = n.putArray("shape");
            for (long s : Tensors.shape(tensor)) {
                shape.add(s);
            }
            n.putArray("data_offsets").add(offset).add(offset + tensor.nbytes());
            offset += tensor.nbytes();
            contiguous.add(tensor);
        }
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (headerBytes.length + 7) / 8 * 8;
        byte[] headerPadded = new byte[padded];
        java.util.Arrays.fill(headerPadded, (byte) ' ');
        System.arraycopy(headerBytes, 0, headerPadded, 0, headerBytes.length);
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), file.getFileName().toString(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded).flip();
                writeFully(ch, len);
                writeFully(ch, ByteBuffer.wrap(headerPadded));
                for (Tensor t : contiguous) {
                    long bytes = t.nbytes();
                    for (long from = 0; from < bytes; from += chunkBytes) {
                        long to = Math.min(bytes, from + chunkBytes);
                        // a pointer at the piece itself: a buffer taken at a position past 2 GB came out wrong
                        BytePointer piece = new BytePointer(t.data_ptr()).getPointer(from);
                        writeFully(ch, piece.capacity(to - from).asByteBuffer());
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static ScalarType scalarType(String dtype) {
        return switch (dtype) {
            case "F32" -> ScalarType.Float;
            case "F16" -> ScalarType.Half;
            case "BF16" -> ScalarType.BFloat16;
            case "F64" -> ScalarType.Double;
            case "I64" -> ScalarType.Long;
            case "I32" -> ScalarType.Int;
            case "I16" -> ScalarType.Short;
            case "I8" -> ScalarType.Char;
            case "U8" -> ScalarType.Byte;
            case "BOOL" -> ScalarType.Bool;
            default -> throw new IllegalArgumentException("unsupported safetensors dtype " + dtype);
        };
    }

    public static String dtypeName(ScalarType type) {
        return switch (Tensors.canonical(type)) {
            case Float -> "F32";
            case Half -> "F16";
            case BFloat16 -> "BF16";
            case Double -> "F64";
            case Long -> "I64";
            case Int -> "I32";
            case Short -> "I16";
            case Char -> "I8";
            case Byte -> "U8";
            case Bool -> "BOOL";
            default -> throw new IllegalArgumentException("unsupported tensor dtype " + type);
        };
    }

    static long elementSize(String dtype) {
        return switch (dtype) {
            case "F64", "I64" -> 8;
            case "F32", "I32" -> 4;
            case "F16", "BF16", "I16" -> 2;
            case "I8", "U8", "BOOL" -> 1;
            default -> throw new IllegalArgumentException("unsupported safetensors dtype " + dtype);
        };
    }

    private static long numel(long[] shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return n;
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int r = ch.read(buf, pos + buf.position());
            if (r < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
