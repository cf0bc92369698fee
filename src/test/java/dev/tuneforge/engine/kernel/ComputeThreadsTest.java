package dev.tuneforge.engine.kernel;

import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ComputeThreadsTest {
    @TempDir
    Path sys;

    private void cpu(int id, String siblings) throws Exception {
        Path topology = Files.createDirectories(sys.resolve("cpu" + id).resolve("topology"));
        Files.writeString(topology.resolve("thread_siblings_list"), siblings + "\n");
    }

    @Test
    void countsHyperthreadSiblingsAsOneCore() throws Exception {
        cpu(0, "0,2");
        cpu(1, "1,3");
        cpu(2, "0,2");
        cpu(3, "1,3");
        Files.createDirectories(sys.resolve("cpufreq")); // not a CPU
        assertEquals(2, ComputeThreads.physicalCores(sys));
    }

    @Test
    void onePerCpuWithoutSiblingsAndUnknownWithoutSysfs() throws Exception {
        cpu(0, "0");
        cpu(1, "1");
        assertEquals(2, ComputeThreads.physicalCores(sys));
        assertEquals(0, ComputeThreads.physicalCores(sys.resolve("missing")));
    }

    @Test
    void settingWinsElsePhysicalCoresCappedByTheProcessorsAllowed() {
        assertEquals(3, ComputeThreads.resolve("3", 2, 2));
        assertEquals(2, ComputeThreads.resolve(null, 4, 2));
        assertEquals(2, ComputeThreads.resolve(" ", 2, 8));
        assertEquals(4, ComputeThreads.resolve(null, 4, 0));
        var e = assertThrows(IllegalArgumentException.class, () -> ComputeThreads.resolve("two", 2, 2));
        assertTrue(e.getMessage().contains("TUNEFORGE_THREADS"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ComputeThreads.resolve("0", 2, 2));
    }

    @Test
    void libtorchComputesWithThatManyThreads() {
        ComputeThreads.applyToLibtorch();
        assertEquals(ComputeThreads.count(), torch.get_num_threads());
        // later threads pick the setting up as well
        int[] seen = new int[1];
        Thread t = new Thread(() -> seen[0] = torch.get_num_threads());
        t.start();
        assertEquals(ComputeThreads.count(), join(t, seen));
    }

    private static int join(Thread t, int[] seen) {
        try {
            t.join();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        return seen[0];
    }
}
