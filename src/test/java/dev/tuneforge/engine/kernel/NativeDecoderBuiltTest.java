package dev.tuneforge.engine.kernel;

import org.junit.jupiter.api.Test;

import java.io.IOException;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The build compiles the native team decoder wherever it can (x86-64 Linux with gcc) and it runs wherever the CPU
 * has AVX-512: there a missing or unloadable library fails the suite instead of every decoder test quietly running
 * the Java decoder only.
 */
class NativeDecoderBuiltTest {
    @Test
    void theTeamDecoderRunsWhereItCanBeBuilt() throws Exception {
        boolean buildable = System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64")
                && gccPresent();
        if (buildable) {
            assertTrue(NativeTeam.class.getResource("/native/linux-x86_64/libtuneforge-decoder.so") != null,
                    "gcc is here but the build made no native decoder (see src/main/c/build.sh's output)");
        }
        if (buildable && CpuFeatures.hasAvx512() && !"0".equals(System.getenv("TUNEFORGE_TEAM_DECODER"))) {
            assertTrue(NativeTeam.available(), NativeTeam.status());
        }
    }

    private static boolean gccPresent() throws InterruptedException {
        try {
            return new ProcessBuilder("gcc", "--version").redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException e) {
            return false;
        }
    }
}
