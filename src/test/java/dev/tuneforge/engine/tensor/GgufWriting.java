package dev.tuneforge.engine.tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Writes GGUF files for tests: a real file's contents, changed, to see what the reader makes of bad ones. */
public final class GgufWriting {
    /** A tensor to write: GGUF's dims (fastest first), type id and raw data. */
    public record Entry(String name, long[] dims, int type, byte[] data) {
    }

    private GgufWriting() {
    }

    /** {@code file}'s metadata and tensors (data included), to change and {@link #write}. */
    public static Map<String, Object> metadata(GgufFile file) {
        return new LinkedHashMap<>(file.metadata());
    }

    public static List<Entry> tensors(GgufFile file) {
        List<Entry> out = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file.path(), StandardOpenOption.READ)) {
            for (GgufFile.TensorInfo t : file.tensors().values()) {
                ByteBuffer data = ByteBuffer.allocate((int) t.bytes());
                while (data.hasRemaining()) {
                    ch.read(data, t.offset() + data.position());
                }
                out.add(new Entry(t.name(), t.dims(), t.typeId(), data.array()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** A GGUF v3 file of {@code metadata} (integers as int64, reals as float64) and {@code tensors}, aligned to 32. */
    public static Path write(Path out, Map<String, Object> metadata, List<Entry> tensors) {
        Bytes b = new Bytes();
        b.int32(0x46554747);
        b.int32(3);
        b.int64(tensors.size());
        b.int64(metadata.size());
        metadata.forEach((k, v) -> {
            b.string(k);
            b.value(v);
        });
        long offset = 0;
        for (Entry t : tensors) {
            b.string(t.name());
            b.int32(t.dims().length);
            for (long d : t.dims()) {
                b.int64(d);
            }
            b.int32(t.type());
            b.int64(offset);
            offset = align(offset + t.data().length);
        }
        while (b.out.size() % 32 != 0) {
            b.out.write(0);
        }
        for (Entry t : tensors) {
            b.out.writeBytes(t.data());
            while (b.out.size() % 32 != 0) {
                b.out.write(0);
            }
        }
        try {
            Files.write(out, b.out.toByteArray());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private static long align(long at) {
        return (at + 31) / 32 * 32;
    }

    private static final List<String> ELEMENT_TYPES = List.of("uint8", "int8", "uint16", "int16", "uint32", "int32",
            "float32", "bool", "string", "array", "uint64", "int64", "float64");

    private static final class Bytes {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        /** An array element in its declared type, as the file it came from held it. */
        void element(int type, Object v) {
            switch (type) {
                case 0, 1 -> out.write(((Long) v).intValue());
                case 2, 3 -> out.writeBytes(ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN)
                        .putShort(((Long) v).shortValue()).array());
                case 4, 5 -> int32(((Long) v).intValue());
                case 6 -> int32(Float.floatToRawIntBits(((Double) v).floatValue()));
                default -> payload(v);
            }
        }

        void int32(int v) {
            out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        }

        void int64(long v) {
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
        }

        void string(String s) {
            byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
            int64(bytes.length);
            out.writeBytes(bytes);
        }

        void value(Object v) {
            int32(typeOf(v));
            payload(v);
        }

        private static int typeOf(Object v) {
            return switch (v) {
                case Long l -> 11;
                case Double d -> 12;
                case Boolean b -> 7;
                case String s -> 8;
                case GgufFile.ArrayValue a -> 9;
                default -> throw new IllegalArgumentException("cannot write " + v);
            };
        }

        private void payload(Object v) {
            switch (v) {
                case Long l -> int64(l);
                case Double d -> int64(Double.doubleToLongBits(d));
                case Boolean bool -> out.write(bool ? 1 : 0);
                case String s -> string(s);
                case GgufFile.ArrayValue a -> {
                    int type = ELEMENT_TYPES.indexOf(a.elementType());
                    int32(type);
                    int64(a.values().size());
                    a.values().forEach(x -> element(type, x));
                }
                default -> throw new IllegalArgumentException("cannot write " + v);
            }
        }
    }
}
