package dev.tuneforge.engine.tensor;

import dev.tuneforge.engine.kernel.NativeOrNull;
import org.bytedeco.javacpp.BytePointer;

import java.io.IOException;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Read-only memory maps of regions of a file. On Java 22+ ({@code ArenaFileRegions}, the FFM API) closing a region
 * unmaps it at once and a region may exceed 2 GB; on Java 21 it is a {@link MappedByteBuffer}, unmapped when the
 * garbage collector gets to it, so a loaded model's file pages stay resident until then (~1 GB for
 * Qwen2.5-0.5B), and a single tensor must stay under 2 GB.
 */
public interface FileRegions {
    /** A mapped region at {@link #address()}, valid until closed. */
    interface Region extends AutoCloseable {
        long address();

        @Override
        void close();
    }

    Region map(FileChannel channel, long offset, long size) throws IOException;

    /** The mapping this runtime can release promptly, else the {@link MappedByteBuffer} one. */
    static FileRegions forThisRuntime() {
        FileRegions arena = NativeOrNull.create(ArenaFileRegions::new);
        return arena != null ? arena : buffers();
    }

    /** Regions as {@link MappedByteBuffer}s (Java 21's way): closing leaves the unmapping to the garbage collector. */
    static FileRegions buffers() {
        return FileRegions::mapBuffer;
    }

    private static Region mapBuffer(FileChannel channel, long offset, long size) throws IOException {
        MappedByteBuffer buffer = channel.map(FileChannel.MapMode.READ_ONLY, offset, size);
        long address = new BytePointer(buffer).address();
        return new Region() {
            @Override
            public long address() {
                return address;
            }

            @Override
            public void close() {
                // the buffer owns the mapping: it must not be collected (and unmapped) before the region is done
                java.lang.ref.Reference.reachabilityFence(buffer);
            }
        };
    }
}
