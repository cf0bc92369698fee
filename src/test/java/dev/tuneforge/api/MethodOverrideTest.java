package dev.tuneforge.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** X-HTTP-Method-Override counts on POST only: a GET stays a GET (it used to delete the tuned model). */
class MethodOverrideTest {
    @TempDir
    Path dataDir;

    @Test
    void onlyPostIsOverridden() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            String token = Callers.token(server.port(), server.auth().store(), "override-project");
            Http http = new Http(server.port(), "override-project", token);
            String create = "{\"display_name\": \"o\", \"base_model\": \"models/stories-260k\", \"tuning_task\": {"
                    + "\"hyperparameters\": {\"epoch_count\": 1, \"batch_size\": 1}, \"training_data\": {\"examples\": "
                    + "{\"examples\": [{\"text_input\": \"1\", \"output\": \"2\"}]}}}}";
            assertEquals(200, http.post("/v1beta/tunedModels?tunedModelId=kept", create).status());
            String model = "http://127.0.0.1:" + server.port() + "/v1beta/tunedModels/kept";
            HttpClient client = HttpClient.newHttpClient();

            for (String method : new String[]{"GET", "HEAD"}) {
                HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(model))
                        .method(method, HttpRequest.BodyPublishers.noBody())
                        .header("Authorization", "Bearer " + token).header("X-HTTP-Method-Override", "DELETE").build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, r.statusCode(), r.body());
                assertEquals(200, http.get("/v1beta/tunedModels/kept").status(), method + " with the override deleted the model");
            }
            assertTrue(http.get("/v1beta/tunedModels/kept").body().contains("\"name\":\"tunedModels/kept\""));

            HttpResponse<String> patched = client.send(HttpRequest.newBuilder(URI.create(model + "?updateMask=description"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"description\": \"patched through POST\"}"))
                    .header("Authorization", "Bearer " + token).header("X-HTTP-Method-Override", "PATCH").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, patched.statusCode(), patched.body());
            assertTrue(http.get("/v1beta/tunedModels/kept").body().contains("patched through POST"));

            HttpResponse<String> deleted = client.send(HttpRequest.newBuilder(URI.create(model))
                    .POST(HttpRequest.BodyPublishers.noBody())
                    .header("Authorization", "Bearer " + token).header("X-HTTP-Method-Override", "DELETE").build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, deleted.statusCode(), deleted.body());
            assertEquals(404, http.get("/v1beta/tunedModels/kept").status());
        }
    }
}
