package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile request bodies get 400 INVALID_ARGUMENT in Google's error format, not a 500: strings and nesting beyond
 * Jackson's limits, too many tokens, bodies over their byte limit with or without Content-Length (chunked).
 */
class HostileBodyTest {
    private static final int MiB = 1024 * 1024;

    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;
    static String token;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        token = Callers.token(server.port(), server.auth().store(), "p1");
        http = new Http(server.port(), "p1", token);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static String error(Http.Response r, String messagePart) {
        assertEquals(400, r.status(), r.body().length() > 300 ? r.body().substring(0, 300) : r.body());
        JsonNode e = r.json().get("error");
        assertEquals(400, e.get("code").asInt());
        assertEquals("INVALID_ARGUMENT", e.get("status").asText());
        assertTrue(e.get("message").asText().contains(messagePart), e.get("message").asText());
        return e.get("message").asText();
    }

    private static String validCreate(String extraField) {
        return "{\"display_name\": \"t\", \"base_model\": \"models/stories-260k\", " + extraField
                + "\"tuning_task\": {\"hyperparameters\": {\"epoch_count\": 1, \"batch_size\": 1}, \"training_data\": "
                + "{\"examples\": {\"examples\": [{\"text_input\": \"1\", \"output\": \"2\"}]}}}}";
    }

    @Test
    void aFiftyMegabyteStringIsRefused() {
        int before = server.tuning().store().count();
        String huge = validCreate("\"description\": \"" + "x".repeat(50 * 1000 * 1000) + "\", ");
        error(http.post("/v1beta/tunedModels", huge), "String value length");
        assertEquals(before, server.tuning().store().count());
    }

    @Test
    void nestingTenThousandDeepIsRefused() {
        int depth = 10_000;
        String objects = "{\"a\":".repeat(depth) + "1" + "}".repeat(depth);
        String arrays = "[".repeat(depth) + "]".repeat(depth);
        error(http.post("/v1beta/tunedModels", validCreate("\"deep\": " + objects + ", ")), "nesting depth");
        error(http.post("/v1beta/tunedModels", "{\"deep\": " + arrays + "}"), "nesting depth");
        error(http.post("/v1beta/models/stories-260k:countTokens", arrays), "nesting depth");
    }

    @Test
    void tooManyTokensAreRefused() {
        String zeros = "{\"contents\": [" + "0,".repeat(200_000) + "0]}";
        error(http.post("/v1beta/models/stories-260k:countTokens", zeros), "Token count");
    }

    @Test
    void tunedModelsCreateTakesMoreThanTheGeneralLimitOtherMethodsDoNot() {
        StringBuilder many = new StringBuilder("\"padding\": [");
        for (int i = 0; i < 80_000; i++) {
            many.append('"').append("p".repeat(60)).append("\",");
        }
        many.append("\"\"], ");
        assertTrue(many.length() > 4 * MiB);
        Http.Response created = http.post("/v1beta/tunedModels", validCreate(many.toString()));
        assertEquals(200, created.status(), created.body());
        String generate = "{" + many + "\"contents\": [{\"parts\": [{\"text\": \"1\"}]}]}";
        error(http.post("/v1beta/models/stories-260k:countTokens", generate), "request payload size exceeds the limit: "
                + HttpSettings.DEFAULT_MAX_BODY_BYTES + " bytes");
    }

    /**
     * Uploads a chunked body of {@code total} bytes to {@code path} while reading the answer: the server answers
     * once the limit is passed, before the upload ends. Returns the answer and how much had been sent by then.
     */
    private static Object[] chunkedUpload(String path, long total) throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(60_000);
            CompletableFuture<RawHttp.Response> answer = CompletableFuture.supplyAsync(() -> {
                try {
                    return RawHttp.read(socket.getInputStream());
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
            });
            OutputStream out = socket.getOutputStream();
            out.write(("POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token + "\r\n"
                    + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = new byte[64 * 1024];
            Arrays.fill(chunk, (byte) ' ');
            chunk[0] = '{';
            long sent = 0;
            try {
                while (sent < total && !answer.isDone()) {
                    out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
                    out.write(chunk);
                    out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
                    sent += chunk.length;
                    chunk[0] = ' ';
                }
            } catch (IOException closedByServer) {
                // the server answered and closed while the upload went on
            }
            return new Object[]{answer.get(60, TimeUnit.SECONDS), sent};
        }
    }

    @Test
    void chunkedBodiesAreCutOffAtTheirLimit() throws Exception {
        Object[] small = chunkedUpload("/v1beta/models/stories-260k:countTokens", 512L * MiB);
        RawHttp.Response r = (RawHttp.Response) small[0];
        assertEquals(400, r.status(), r.body());
        assertTrue(r.json().get("error").get("message").asText().contains("exceeds the limit: "
                + HttpSettings.DEFAULT_MAX_BODY_BYTES + " bytes"), r.body());
        assertTrue((long) small[1] < 512L * MiB, "answered before the upload ended");

        int before = server.tuning().store().count();
        Object[] large = chunkedUpload("/v1beta/tunedModels", 512L * MiB);
        r = (RawHttp.Response) large[0];
        assertEquals(400, r.status(), r.body());
        assertTrue(r.json().get("error").get("message").asText().contains("exceeds the limit: "
                + HttpSettings.DEFAULT_MAX_TUNING_BODY_BYTES + " bytes"), r.body());
        assertTrue((long) large[1] > HttpSettings.DEFAULT_MAX_TUNING_BODY_BYTES, "the larger limit applies to create");
        assertEquals(before, server.tuning().store().count());
    }

    @Test
    void aDeclaredOversizeBodyIsRefusedBeforeItIsSent() throws Exception {
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(30_000);
            socket.getOutputStream().write(("POST /v1beta/tunedModels HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer "
                    + token + "\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{\"display_name\":")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            RawHttp.Response r = RawHttp.read(in);
            assertEquals(400, r.status(), r.body());
            assertEquals("INVALID_ARGUMENT", r.json().get("error").get("status").asText());
            assertTrue(r.body().contains("exceeds the limit: " + HttpSettings.DEFAULT_MAX_TUNING_BODY_BYTES), r.body());
        }
    }
}
