package dev.tuneforge.engine.tensor;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (llama.cpp's model format, versions 2 and 3, little-endian): the header's metadata and tensor
 * descriptions, read and checked at once (magic, version, counts, value types, every tensor's type, shape and place
 * inside the file at the declared alignment); tensor data read on request into libtorch memory. Errors name the file
 * and, where one is at fault, the key or tensor.
 */
public final class GgufFile {
    private static final int MAGIC = 0x46554747; // "GGUF" read little-endian
    private static final int DEFAULT_ALIGNMENT = 32;
    private static final int MAX_DIMS = 4;
    /** Array values longer than this (a tokenizer's vocabulary) are skipped: only their length is kept. */
    private static final int MAX_KEPT_ARRAY = 4096;
    private static final FileRegions REGIONS = FileRegions.forThisRuntime();

    /**
     * A tensor as the file describes it. {@code dims} in GGUF's order, fastest-varying first: a matrix of
     * {@code rows × cols} (a PyTorch [rows, cols] weight) is {@code [cols, rows]}. {@code offset} from the file's start.
     */
    public record TensorInfo(String name, long[] dims, int typeId, GgmlType type, long offset, long bytes) {
        /** The shape as PyTorch writes it: {@code dims} reversed. */
        public long[] shape() {
            long[] s = new long[dims.length];
            for (int i = 0; i < dims.length; i++) {
                s[i] = dims[dims.length - 1 - i];
            }
            return s;
        }

        public String typeName() {
            return type != null ? type.name() : "type " + typeId;
        }
    }

    /** An array value: its element type's name and length, and the values where it is short enough to keep. */
    public record ArrayValue(String elementType, long length, List<Object> values) {
    }

    private final Path file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, TensorInfo> tensors;

    private GgufFile(Path file, int version, Map<String, Object> metadata, Map<String, TensorInfo> tensors) {
        this.file = file;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
    }

    /** Reads and checks {@code file}'s header. */
    public static GgufFile open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return parse(file, ch);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read GGUF file " + file, e);
        }
    }

    public Path path() {
        return file;
    }

    public int version() {
        return version;
    }

    /** Every metadata value by key: Long (any integer type), Double, Boolean, String or {@link ArrayValue}. */
    public Map<String, Object> metadata() {
        return metadata;
    }

    /** The tensors in the file's order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The string value of {@code key}, or null when absent; an error when it is not a string. */
    public String string(String key) {
        Object v = metadata.get(key);
        if (v != null && !(v instanceof String)) {
            throw new IllegalArgumentException(file + ": metadata " + key + " is not a string: " + v);
        }
        return (String) v;
    }

    /** The integer value of {@code key}, or null when absent; an error when it is not an integer. */
    public Long integer(String key) {
        Object v = metadata.get(key);
        if (v != null && !(v instanceof Long)) {
            throw new IllegalArgumentException(file + ": metadata " + key + " is not an integer: " + v);
        }
        return (Long) v;
    }

    /**
     * The tensor {@code name}'s data as a libtorch tensor owning its bytes: F32, F16 and BF16 in their dtype and
     * PyTorch's shape; Q8_0 as its blocks, a uint8 tensor [rows, cols / 32 × 34]. Other types are refused.
     */
    public Tensor read(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException(file + " has no tensor " + name);
        }
        long[] shape = t.shape();
        ScalarType dtype;
        if (t.type() == GgmlType.Q8_0) {
            dtype = ScalarType.Byte;
            shape[shape.length - 1] = t.type().rowBytes(t.dims()[0]);
        } else if (t.type() == GgmlType.F32) {
            dtype = ScalarType.Float;
        } else if (t.type() == GgmlType.F16) {
            dtype = ScalarType.Half;
        } else if (t.type() == GgmlType.BF16) {
            dtype = ScalarType.BFloat16;
        } else {
            throw new IllegalArgumentException(file + ": tensor " + name + " is " + t.typeName()
                    + ", which Tuneforge does not read (it reads Q8_0, F32, F16 and BF16)");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
             FileRegions.Region region = REGIONS.map(ch, t.offset(), t.bytes())) {
            Tensor view = torch.from_blob(new Pointer() {
                {
                    address = region.address();
                }
            }, shape, Tensors.options(dtype));
            // the mapping is released when this returns: the result owns a copy
            return view.clone();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tensor " + name + " of " + file, e);
        }
    }

    private static GgufFile parse(Path file, FileChannel ch) throws IOException {
        Reader in = new Reader(file, ch);
        int magic = in.int32("the magic number");
        if (magic != MAGIC) {
            throw new IllegalArgumentException(file + " is not a GGUF file (it does not start with \"GGUF\")");
        }
        int version = in.int32("the version");
        if (version != 2 && version != 3) {
            int swapped = Integer.reverseBytes(version);
            throw new IllegalArgumentException(file + (swapped == 2 || swapped == 3
                    ? ": a big-endian GGUF file, which is not supported (llama.cpp writes little-endian ones)"
                    : ": GGUF version " + Integer.toUnsignedString(version) + " is not supported (2 and 3 are)"));
        }
        long tensorCount = in.count("the tensor count", 8);
        long kvCount = in.count("the metadata count", 16);
        Map<String, Object> metadata = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = in.string("a metadata key");
            int type = in.int32("the type of metadata " + key);
            metadata.put(key, in.value(type, key));
        }
        long alignment = DEFAULT_ALIGNMENT;
        Object declared = metadata.get("general.alignment");
        if (declared != null) {
            if (!(declared instanceof Long a) || a <= 0 || Long.bitCount(a) != 1) {
                throw new IllegalArgumentException(file + ": general.alignment must be a power of two, got " + declared);
            }
            alignment = a;
        }
        record Described(String name, long[] dims, int type, long relativeOffset) {
        }
        List<Described> described = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = in.string("a tensor name");
            int nDims = in.int32("tensor " + name + "'s dimension count");
            if (nDims < 1 || nDims > MAX_DIMS) {
                throw new IllegalArgumentException(file + ": tensor " + name + " has " + nDims
                        + " dimensions (1 to " + MAX_DIMS + " allowed)");
            }
            long[] dims = new long[nDims];
            for (int d = 0; d < nDims; d++) {
                dims[d] = in.int64("tensor " + name + "'s dimensions");
                if (dims[d] <= 0) {
                    throw new IllegalArgumentException(file + ": tensor " + name + " has dimension " + dims[d]);
                }
            }
            described.add(new Described(name, dims, in.int32("tensor " + name + "'s type"),
                    in.int64("tensor " + name + "'s offset")));
        }
        long dataStart = alignUp(in.position(), alignment);
        long size = ch.size();
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Described d : described) {
            GgmlType type = GgmlType.of(d.type());
            if (d.relativeOffset() < 0 || d.relativeOffset() % alignment != 0) {
                throw new IllegalArgumentException(file + ": tensor " + d.name() + "'s offset " + d.relativeOffset()
                        + " is not a multiple of the alignment " + alignment);
            }
            long bytes = -1;
            if (type != null) {
                if (d.dims()[0] % type.blockElements != 0) {
                    throw new IllegalArgumentException(file + ": tensor " + d.name() + " (" + type + ") has rows of "
                            + d.dims()[0] + " elements, not a multiple of its block of " + type.blockElements);
                }
                bytes = type.rowBytes(d.dims()[0]);
                for (int i = 1; i < d.dims().length; i++) {
                    bytes = Math.multiplyExact(bytes, d.dims()[i]);
                }
                long end = dataStart + d.relativeOffset() + bytes;
                if (end > size) {
                    throw new IllegalArgumentException(file + " is truncated: tensor " + d.name() + " ends at byte "
                            + end + ", past the file's end (" + size + " bytes)");
                }
            }
            if (tensors.put(d.name(), new TensorInfo(d.name(), d.dims(), d.type(), type,
                    dataStart + d.relativeOffset(), bytes)) != null) {
                throw new IllegalArgumentException(file + " holds tensor " + d.name() + " twice");
            }
        }
        return new GgufFile(file, version, Collections.unmodifiableMap(metadata), Collections.unmodifiableMap(tensors));
    }

    private static long alignUp(long at, long alignment) {
        return (at + alignment - 1) / alignment * alignment;
    }

    /** Little-endian reads through a buffer, each checked against the file's end. */
    private static final class Reader {
        private final Path file;
        private final FileChannel ch;
        private final long size;
        private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        /** File position of {@code buf}'s first byte. */
        private long bufStart;

        Reader(Path file, FileChannel ch) throws IOException {
            this.file = file;
            this.ch = ch;
            this.size = ch.size();
            buf.limit(0);
        }

        long position() {
            return bufStart + buf.position();
        }

        private void need(int n, String what) throws IOException {
            if (buf.remaining() >= n) {
                return;
            }
            if (position() + n > size) {
                throw new IllegalArgumentException(file + " is truncated: it ends (" + size + " bytes) inside "
                        + what);
            }
            bufStart = position();
            buf.compact();
            while (buf.position() < n) {
                if (ch.read(buf, bufStart + buf.position()) < 0) {
                    throw new IllegalArgumentException(file + " is truncated inside " + what);
                }
            }
            buf.flip();
        }

        int int32(String what) throws IOException {
            need(4, what);
            return buf.getInt();
        }

        long int64(String what) throws IOException {
            need(8, what);
            return buf.getLong();
        }

        /** A count of items each at least {@code minBytes} long: refused where the rest of the file cannot hold them. */
        long count(String what, int minBytes) throws IOException {
            long n = int64(what);
            if (n < 0 || n > (size - position()) / minBytes) {
                throw new IllegalArgumentException(file + " is truncated or damaged: " + what + " "
                        + Long.toUnsignedString(n) + " cannot fit in its " + size + " bytes");
            }
            return n;
        }

        String string(String what) throws IOException {
            long length = int64("the length of " + what);
            if (length < 0 || length > size - position()) {
                throw new IllegalArgumentException(file + " is truncated: " + what + " of " + Long.toUnsignedString(length)
                        + " bytes runs past the file's end (" + size + " bytes)");
            }
            byte[] bytes = new byte[(int) Math.min(length, Integer.MAX_VALUE - 8)];
            int at = 0;
            while (at < bytes.length) {
                need(1, what);
                int n = Math.min(buf.remaining(), bytes.length - at);
                buf.get(bytes, at, n);
                at += n;
            }
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(file + ": " + what + " is not UTF-8");
            }
        }

        Object value(int type, String key) throws IOException {
            String what = "metadata " + key;
            return switch (type) {
                case 0 -> { need(1, what); yield (long) Byte.toUnsignedInt(buf.get()); }
                case 1 -> { need(1, what); yield (long) buf.get(); }
                case 2 -> { need(2, what); yield (long) Short.toUnsignedInt(buf.getShort()); }
                case 3 -> { need(2, what); yield (long) buf.getShort(); }
                case 4 -> Integer.toUnsignedLong(int32(what));
                case 5 -> (long) int32(what);
                case 6 -> { need(4, what); yield (double) buf.getFloat(); }
                case 7 -> { need(1, what); yield buf.get() != 0; }
                case 8 -> string(what);
                case 9 -> array(key);
                case 10, 11 -> int64(what);
                case 12 -> { need(8, what); yield buf.getDouble(); }
                default -> throw new IllegalArgumentException(file + ": metadata " + key + " has unknown value type "
                        + type);
            };
        }

        private ArrayValue array(String key) throws IOException {
            int elementType = int32("the element type of metadata " + key);
            if (elementType == 9) {
                throw new IllegalArgumentException(file + ": metadata " + key + " is an array of arrays");
            }
            long length = count("the length of metadata " + key, 1);
            List<Object> values = length <= MAX_KEPT_ARRAY ? new ArrayList<>() : null;
            for (long i = 0; i < length; i++) {
                Object v = value(elementType, key);
                if (values != null) {
                    values.add(v);
                }
            }
            String[] names = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string",
                    "array", "uint64", "int64", "float64"};
            return new ArrayValue(elementType >= 0 && elementType < names.length ? names[elementType] : "?", length,
                    values == null ? null : Collections.unmodifiableList(values));
        }
    }
}
