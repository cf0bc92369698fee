package dev.tuneforge.engine.kernel;

import dev.tuneforge.engine.TinyModels;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class OpenMpWaitPolicyTest {
    /** The launcher's environment, held in a map: the decision alone, without touching this JVM's OpenMP. */
    private static final class LauncherEnvironment implements OpenMpWaitPolicy.Environment {
        final Map<String, String> vars = new HashMap<>(Map.of("OMP_WAIT_POLICY", "PASSIVE",
                OpenMpWaitPolicy.LAUNCHER_DEFAULT, "1"));

        @Override
        public String get(String name) {
            return vars.get(name);
        }

        @Override
        public void set(String name, String value) {
            if (value == null) {
                vars.remove(name);
            } else {
                vars.put(name, value);
            }
        }
    }

    @Test
    void onlyBf16BasesSpinInsteadOfTheLauncherDefault() {
        LauncherEnvironment env = new LauncherEnvironment();
        assertEquals(OpenMpWaitPolicy.Choice.SPIN, OpenMpWaitPolicy.choose(
                List.of(ScalarType.BFloat16, ScalarType.BFloat16), true, false, env));
        assertEquals(Map.of("GOMP_SPINCOUNT", OpenMpWaitPolicy.SPIN_COUNT), env.vars);
    }

    @Test
    void anyFloat32BaseKeepsPassiveWaiting() {
        for (List<ScalarType> dtypes : List.of(List.of(ScalarType.Float), List.of(ScalarType.BFloat16, ScalarType.Float),
                List.<ScalarType>of())) {
            LauncherEnvironment env = new LauncherEnvironment();
            assertEquals(OpenMpWaitPolicy.Choice.PASSIVE, OpenMpWaitPolicy.choose(dtypes, true, false, env));
            assertEquals(new LauncherEnvironment().vars, env.vars);
        }
    }

    @Test
    void settingsNotMadeByTheLauncherAreLeftAlone() {
        LauncherEnvironment env = new LauncherEnvironment();
        env.set(OpenMpWaitPolicy.LAUNCHER_DEFAULT, null);
        assertEquals(OpenMpWaitPolicy.Choice.AS_CONFIGURED,
                OpenMpWaitPolicy.choose(List.of(ScalarType.BFloat16), false, false, env));
        assertEquals(Map.of("OMP_WAIT_POLICY", "PASSIVE"), env.vars);
    }

    @Test
    void onceLibtorchHasLoadedLibgompNothingIsChanged() {
        torch.get_num_threads();
        assertTrue(OpenMpWaitPolicy.libgompLoaded(), "libtorch loads libgomp, and /proc/self/maps shows it");
        LauncherEnvironment env = new LauncherEnvironment();
        assertEquals(OpenMpWaitPolicy.Choice.TOO_LATE,
                OpenMpWaitPolicy.choose(List.of(ScalarType.BFloat16), true, true, env));
        assertEquals(new LauncherEnvironment().vars, env.vars);
    }

    @Test
    void nativeEnvironmentIsWhatTheCLibrarySees() {
        OpenMpWaitPolicy.Environment env = OpenMpWaitPolicy.environment();
        assertNotNull(env);
        String name = "TUNEFORGE_TEST_" + ProcessHandle.current().pid();
        assertNull(env.get(name));
        env.set(name, "spin 1");
        assertEquals("spin 1", env.get(name));
        env.set(name, null);
        assertNull(env.get(name));
    }

    /** End to end: the launcher's variables in, a bench process on a bf16 base reports the spin in effect. */
    @Test
    void benchOnABf16BaseRunsWithTheSpin(@TempDir Path dir) throws Exception {
        Path config = TinyModels.write(dir.resolve("tiny"), TinyModels.Spec.llama(), 1).resolve("config.json");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) mapper.readTree(config.toFile());
        mapper.writeValue(config.toFile(), json.put("max_position_embeddings", 256)); // the decode bench needs 160
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "--add-modules",
                "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), "dev.tuneforge.cli.TuneforgeCli",
                "bench", "--dtype", "bf16", "--steps", "0", config.toString())).redirectErrorStream(true);
        pb.environment().remove("GOMP_SPINCOUNT");
        pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
        pb.environment().put(OpenMpWaitPolicy.LAUNCHER_DEFAULT, "1");
        Process process = pb.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), output);
        assertTrue(output.contains("(GOMP_SPINCOUNT=" + OpenMpWaitPolicy.SPIN_COUNT + ")"), output);
    }
}
