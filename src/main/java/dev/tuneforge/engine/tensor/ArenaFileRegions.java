package dev.tuneforge.engine.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/**
 * Regions mapped into a confined arena of their own (FFM API, Java 22+): closing the region closes the arena, which
 * unmaps the file at once. Loaded reflectively by {@link FileRegions#forThisRuntime()}.
 */
public final class ArenaFileRegions implements FileRegions {
    @Override
    public Region map(FileChannel channel, long offset, long size) throws IOException {
        Arena arena = Arena.ofConfined();
        try {
            MemorySegment segment = channel.map(FileChannel.MapMode.READ_ONLY, offset, size, arena);
            return new Region() {
                @Override
                public long address() {
                    return segment.address();
                }

                @Override
                public void close() {
                    arena.close();
                }
            };
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }
}
