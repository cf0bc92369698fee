package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The server froze under generation load while a job trained: libtorch creates every tensor's Java object from
 * native code, and JavaCPP registers it under one global monitor. A request handler on a virtual thread that waits
 * for that monitor there pins its carrier; once every carrier is pinned so, a virtual thread the monitor is handed
 * to can never run again, and neither can anything waiting behind it (the training step's microbatch threads
 * included). Here a virtual thread holds the monitor while it sleeps, as a virtual thread handed the monitor in
 * the middle of a rush does, and more generations than there are carriers arrive meanwhile: with the old request
 * threads this never ends; every request must be answered.
 */
class NativeMonitorFreezeTest {
    private static final String REQUEST = "{\"contents\":[{\"parts\":[{\"text\":\"Once upon a time\"}]}],"
            + "\"generationConfig\":{\"temperature\":0,\"maxOutputTokens\":8}}";

    @TempDir
    Path dataDir;

    @Test
    @Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD) // a frozen server would never let close()
    void generationsWaitingInNativeCodeForJavaCppsMonitorDoNotStarveTheVirtualThreadHoldingIt() throws Exception {
        Object javaCppMonitor = Class.forName("org.bytedeco.javacpp.Pointer$DeallocatorThread");
        int requests = 2 * Runtime.getRuntime().availableProcessors() + 2;
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of(".")))
                .start("127.0.0.1", 0)) {
            Http http = Callers.http(server, "p");
            // loads the base model and warms the path up, so every request below reaches libtorch at once
            assertEquals(200, http.post("/v1beta/models/stories-260k:generateContent", REQUEST).status());
            String token = Callers.token(server.port(), server.auth().store(), "p");

            CountDownLatch held = new CountDownLatch(1);
            Thread holder = Thread.ofVirtual().start(() -> {
                synchronized (javaCppMonitor) {
                    held.countDown();
                    try {
                        Thread.sleep(1_500);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            held.await();
            HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
            for (int i = 0; i < requests; i++) {
                answers.add(client.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                                + "/v1beta/models/stories-260k:generateContent"))
                        .timeout(Duration.ofSeconds(60))
                        .header("Authorization", "Bearer " + token).header("x-goog-user-project", "p")
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(REQUEST)).build(), HttpResponse.BodyHandlers.ofString()));
            }
            for (CompletableFuture<HttpResponse<String>> answer : answers) {
                HttpResponse<String> r = answer.join();
                assertEquals(200, r.statusCode(), r.body());
            }
            assertTrue(holder.join(Duration.ofSeconds(60)), "the virtual thread holding the monitor got to run again");
        }
    }
}
