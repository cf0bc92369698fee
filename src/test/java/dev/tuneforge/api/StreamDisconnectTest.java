package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A streaming client that hangs up is an ordinary event: one log line, and the generation stops at once. */
class StreamDisconnectTest {
    private static final String REQUEST = "{\"contents\":[{\"parts\":[{\"text\":\"Once upon a time\"}]}],"
            + "\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":400}}";

    @TempDir
    Path dataDir;

    @Test
    void aClientThatHangsUpMidStreamStopsTheGenerationWithOneLogLine() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            String token = Callers.token(server.port(), server.auth().store(), "p");
            Http http = new Http(server.port(), "p", token);
            Http.Response whole = http.post("/v1beta/models/stories-260k:streamGenerateContent?alt=sse", REQUEST);
            assertEquals(200, whole.status(), whole.body());
            int chunks = whole.body().split("data: ").length - 1;
            assertTrue(chunks > 20, "a long answer to hang up on: " + chunks + " chunks");

            try (CapturedLog log = new CapturedLog()) {
                // hang up right after the first chunk
                RawHttp.streamUntilFirstChunk(server.port(), token, REQUEST).close();
                long deadline = System.currentTimeMillis() + 30_000;
                Pattern line = Pattern.compile("client disconnected after (\\d+) chunks; generation stopped");
                Matcher m = line.matcher(log.text());
                while (!m.find()) {
                    assertTrue(System.currentTimeMillis() < deadline, "no disconnect logged:\n" + log.text());
                    Thread.sleep(20);
                    m = line.matcher(log.text());
                }
                int written = Integer.parseInt(m.group(1));
                assertTrue(written < chunks, "stopped after " + written + " of " + chunks + " chunks");
                assertFalse(log.text().contains("\tat "), "no stack trace:\n" + log.text());
                assertFalse(log.text().contains("ERROR"), log.text());
            }
        }
    }
}
