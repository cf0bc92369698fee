package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Where the native loop's library comes from: a file on the classpath as it is (target/classes), or copied out of a
 * jar to a file the dynamic linker can open.
 */
class NativeRowPairsTest {
    private static final String RESOURCE = "/native/linux-x86_64/libtuneforge-decoder.so";

    @Test
    void theLibraryIsCopiedOutOfAJar(@TempDir Path dir) throws Exception {
        URL built = NativeRowPairsTest.class.getResource(RESOURCE);
        assumeTrue(built != null && "file".equals(built.getProtocol()), "the native loop was not built here");
        byte[] library = Files.readAllBytes(Path.of(built.toURI()));
        Path jar = dir.resolve("tuneforge.jar");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new JarEntry(RESOURCE.substring(1)));
            out.write(library);
            out.closeEntry();
        }
        Path fromJar = NativeRowPairs.libraryPath(new URL("jar:" + jar.toUri() + "!" + RESOURCE));
        assertTrue(!fromJar.startsWith(dir) && Files.isRegularFile(fromJar), fromJar.toString());
        assertArrayEquals(library, Files.readAllBytes(fromJar));
        Path inPlace = NativeRowPairs.libraryPath(built);
        assertTrue(Files.isSameFile(Path.of(built.toURI()), inPlace), inPlace.toString());
    }
}
