package dev.tuneforge.engine.tensor;

import org.bytedeco.javacpp.BytePointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

class FileRegionsTest {
    @TempDir
    Path tmp;

    /** Both ways of mapping (FFM arenas on Java 22+, buffers on 21) show a region's bytes at its address. */
    @Test
    void aRegionShowsTheFileBytesAtItsOffset() throws Exception {
        byte[] content = new byte[100_000];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i * 31 + 7);
        }
        Path file = tmp.resolve("bytes");
        Files.write(file, content);
        for (FileRegions regions : new FileRegions[]{FileRegions.forThisRuntime(), FileRegions.buffers()}) {
            try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ);
                 FileRegions.Region region = regions.map(channel, 4099, 50_000)) {
                byte[] seen = new byte[50_000];
                new BytePointer() {
                    {
                        address = region.address();
                    }
                }.capacity(seen.length).get(seen);
                assertArrayEquals(java.util.Arrays.copyOfRange(content, 4099, 4099 + 50_000), seen,
                        regions.getClass().getName());
            }
        }
    }
}
