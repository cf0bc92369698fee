package dev.tuneforge.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * bench-serve end to end at tiny scale: a random-weight base written from a config, a serve child process through
 * the launcher, two tuned models trained through the API, rounds of 1 and 2 streaming clients. Checks the figures
 * are printed and plausible (tokens counted, memory read), never how fast.
 */
class BenchServeCommandTest {
    static final String TINY_CONFIG = """
            {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
             "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2, "vocab_size": 512,
             "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000, "tie_word_embeddings": true,
             "bos_token_id": 1, "eos_token_id": 2}
            """;

    @Test
    void measuresRoundsOfConcurrentStreamingClientsOnTunedModels(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("tiny.json");
        Files.writeString(config, TINY_CONFIG);
        CliRun run = CliRun.of("bench-serve", config.toString(), "--clients", "1,2", "--tokens", "4",
                "--prompt-tokens", "8", "--adapter-dtype", "fp32", "--work-dir", dir.resolve("work").toString());
        assertEquals(0, run.exit(), run.out() + run.err());
        assertEquals("fp32", new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(dir.resolve("work/tiny/serve.json").toFile()).path("serving").path("adapterDtype").asText(),
                "the server's serving.adapterDtype");
        String out = run.out();
        assertTrue(out.contains("trained 2 tuned models"), out);
        assertTrue(out.contains("prompt 8 tokens"), out);
        assertTrue(Pattern.compile("warm-up round of 2 clients \\(not counted\\): [0-9.]+ s").matcher(out).find(), out);
        for (int clients : new int[]{1, 2}) {
            Matcher m = Pattern.compile("\\s" + clients + " clients: +(\\d+) tokens in +[0-9.]+ s \\| aggregate +([0-9.]+) "
                    + "tok/s \\| per request +([0-9.]+) tok/s \\| TTFT p50 +(\\d+) ms, p95 +(\\d+) ms \\| per token p50 "
                    + "+([0-9.]+) ms, p95 +([0-9.]+) ms \\| server RSS peak (\\d+) MB, now (\\d+) MB").matcher(out);
            assertTrue(m.find(), "no figures for " + clients + " clients in:\n" + out);
            int tokens = Integer.parseInt(m.group(1));
            assertTrue(tokens > 0 && tokens <= clients * 4, "tokens " + tokens);
            assertTrue(Double.parseDouble(m.group(2)) > 0);
            assertTrue(Long.parseLong(m.group(8)) >= Long.parseLong(m.group(9)), "peak below current RSS");
            assertTrue(Long.parseLong(m.group(9)) > 50, "a JVM with libtorch holds more than 50 MB");
        }
        assertTrue(Pattern.compile("idle 15 s after the last round: peak \\d+ MB, now \\d+ MB").matcher(out).find(), out);
    }
}
