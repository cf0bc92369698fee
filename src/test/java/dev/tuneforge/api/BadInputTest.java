package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tuneforge.store.Database;
import org.jdbi.v3.core.Jdbi;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad and hostile input, as a table: every row gets its status with Google's error body naming what was wrong, and
 * leaves everything stored as it was (every table of the database and the files of the data directory).
 */
class BadInputTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}";

    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http http;
    static Http otherProject;
    static Http withApiKey;
    static Jdbi database;
    static String issuedToken;

    @BeforeAll
    static void start() throws Exception {
        server = new TuneforgeServer(TestServers.config(dataDir)).start("127.0.0.1", 0);
        http = Callers.http(server, "p1");
        otherProject = Callers.http(server, "p2");
        for (String id : List.of("kept", "also-kept")) {
            Http.Response created = http.post("/v1beta/tunedModels?tunedModelId=" + id, valid().toString());
            assertEquals(200, created.status(), created.body());
            SeedWalkthroughTest.waitUntilDone(http, created.json().get("name").asText());
        }
        Http.Response theirs = otherProject.post("/v1beta/tunedModels?tunedModelId=theirs", valid().toString());
        assertEquals(200, theirs.status(), theirs.body());
        SeedWalkthroughTest.waitUntilDone(otherProject, theirs.json().get("name").asText());
        withApiKey = Http.withApiKey(server.port(), http.post("/v1beta/apiKeys", "{}").json().get("keyString").asText());
        issuedToken = http.get("/v1beta/tunedModels?pageSize=1&filter=t").json().get("nextPageToken").asText();
        database = dev.tuneforge.store.TestDatabase.open(dataDir).jdbi();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A row of the table: the request, and the status, Google status and message part it must get. */
    record Case(Supplier<Http.Response> request, int status, String googleStatus, String messagePart) {
        @Override
        public String toString() {
            return status + " " + googleStatus;
        }
    }

    private static Arguments row(String name, Supplier<Http.Response> request, int status, String googleStatus,
                                 String messagePart) {
        return Arguments.of(name, new Case(request, status, googleStatus, messagePart));
    }

    private static Arguments create(String name, Consumer<ObjectNode> change, String messagePart) {
        ObjectNode body = valid();
        change.accept(body);
        return row(name, () -> http.post("/v1beta/tunedModels", body.toString()), 400, "INVALID_ARGUMENT", messagePart);
    }

    static Stream<Arguments> cases() {
        String tuned = "/v1beta/tunedModels/kept";
        List<Arguments> rows = new ArrayList<>(List.of(
                // the body itself
                row("broken JSON", () -> http.post("/v1beta/tunedModels", "{\"display_name\": "), 400, "INVALID_ARGUMENT",
                        "invalid JSON"),
                row("an array for a TunedModel", () -> http.post("/v1beta/tunedModels", "[]"), 400, "INVALID_ARGUMENT",
                        "JSON object"),
                row("a 50 MB string", () -> http.post("/v1beta/tunedModels", "{\"display_name\":\""
                        + "x".repeat(50_000_000) + "\"}"), 400, "INVALID_ARGUMENT", "String value length"),
                row("arrays nested 10,000 deep", () -> http.post("/v1beta/tunedModels", "[".repeat(10_000)
                        + "]".repeat(10_000)), 400, "INVALID_ARGUMENT", "nesting depth"),
                row("objects nested 10,000 deep", () -> http.post(tuned + ":generateContent",
                        "{\"a\":".repeat(10_000) + "1" + "}".repeat(10_000)), 400, "INVALID_ARGUMENT", "nesting depth"),
                row("a 70 MiB body", () -> http.post("/v1beta/tunedModels", "{\"display_name\":\""
                        + "x".repeat(70 * 1024 * 1024) + "\"}"), 400, "INVALID_ARGUMENT", "exceeds the limit"),
                // create's fields
                create("no base model", b -> b.remove("base_model"), "base_model is required"),
                create("no tuning task", b -> b.remove("tuning_task"), "tuning_task is required"),
                create("no examples", b -> examples(b).putArray("examples"), "at least one example"),
                create("an input over 40,000 characters", b -> example(b, 1).put("text_input", "x".repeat(40_001)),
                        "tuning_task.training_data.examples.examples[1].text_input exceeds 40000 characters"),
                create("an input longer than the base model's context", b -> example(b, 1).put("text_input",
                        "x".repeat(40_000)), "tuning_task.training_data.examples.examples[1].text_input takes"),
                create("an example whose output overflows the context", b -> example(b, 0).put("output",
                        "y".repeat(5_000)), "tuning_task.training_data.examples.examples[0] takes"),
                create("an output over 5,000 characters", b -> example(b, 0).put("output", "y".repeat(5_001)),
                        "examples[0].output exceeds 5000 characters"),
                create("an example without output", b -> example(b, 1).remove("output"), "examples[1].output is required"),
                create("a number as input", b -> example(b, 0).put("text_input", 5), "examples[0].text_input must be a string"),
                create("zero epochs", b -> hp(b).put("epoch_count", 0), "epoch_count must be between 1 and 1000"),
                create("a negative batch size", b -> hp(b).put("batch_size", -1), "batch_size must be between 1 and 64"),
                create("a batch size beyond int", b -> hp(b).put("batch_size", 1_000_000_000_000L), "batch_size"),
                create("a zero learning rate", b -> hp(b).put("learning_rate", 0), "learning_rate must be between"),
                create("a learning rate of 50", b -> hp(b).put("learning_rate", 50), "learning_rate must be between"),
                create("epochs as words", b -> hp(b).put("epoch_count", "five"), "epoch_count must be an integer"),
                create("a learning rate and a multiplier", b -> hp(b).put("learning_rate_multiplier", 2), "not both"),
                create("a display name over 128 characters", b -> b.put("display_name", "n".repeat(129)),
                        "display_name exceeds 128 characters"),
                row("a bad tuned model id", () -> http.post("/v1beta/tunedModels?tunedModelId=Bad_Id", valid().toString()),
                        400, "INVALID_ARGUMENT", "tuned_model_id"),
                row("an unknown base model", () -> http.post("/v1beta/tunedModels", valid().put("base_model",
                        "models/no-such-model").toString()), 404, "NOT_FOUND", "models/no-such-model"),
                row("a taken id", () -> http.post("/v1beta/tunedModels?tunedModelId=kept", valid().toString()), 409,
                        "ALREADY_EXISTS", "kept"),
                row("another project's model as source", () -> http.post("/v1beta/tunedModels", fromSource("tunedModels/theirs")),
                        404, "NOT_FOUND", "theirs"),
                // patch: create's limits
                row("a patched display name of 10,000 characters", () -> http.patch(tuned + "?updateMask=displayName",
                        "{\"displayName\":\"" + "n".repeat(10_000) + "\"}"), 400, "INVALID_ARGUMENT",
                        "display_name exceeds 128 characters"),
                row("a patched description of 1 MB", () -> http.patch(tuned + "?updateMask=description",
                        "{\"description\":\"" + "d".repeat(1_000_000) + "\"}"), 400, "INVALID_ARGUMENT",
                        "description exceeds 16384 characters"),
                row("a patch of a field that cannot change", () -> http.patch(tuned + "?updateMask=baseModel",
                        "{\"baseModel\":\"models/x\"}"), 400, "INVALID_ARGUMENT", "cannot be updated"),
                row("a patched top_k of 0", () -> http.patch(tuned + "?updateMask=topK", "{\"topK\":0}"), 400,
                        "INVALID_ARGUMENT", "top_k must be between 1 and 1000"),
                row("a patch without update mask setting a bad value", () -> http.patch(tuned, "{\"displayName\":\"x\","
                        + "\"topK\":5000}"), 400, "INVALID_ARGUMENT", "top_k must be between 1 and 1000"),
                // lists
                row("a garbage page token", () -> http.get("/v1beta/tunedModels?pageToken=garbage"), 400,
                        "INVALID_ARGUMENT", "page_token"),
                row("an offset as page token", () -> http.get("/v1beta/tunedModels?pageToken="
                        + Base64.getUrlEncoder().encodeToString("o:1".getBytes(StandardCharsets.UTF_8))), 400,
                        "INVALID_ARGUMENT", "page_token is not a token this server issued"),
                row("a page token of another filter", () -> http.get("/v1beta/tunedModels?pageSize=1&filter=other&pageToken="
                        + issuedToken), 400, "INVALID_ARGUMENT", "another filter"),
                row("a page token past the models", () -> http.get("/v1beta/models?pageToken="
                        + Base64.getUrlEncoder().withoutPadding().encodeToString("o:99".getBytes(StandardCharsets.UTF_8))),
                        400, "INVALID_ARGUMENT", "page_token"),
                row("a negative page size", () -> http.get("/v1beta/tunedModels?pageSize=-1"), 400, "INVALID_ARGUMENT",
                        "page_size must not be negative"),
                row("a page size in words", () -> http.get("/v1beta/tunedModels?pageSize=ten"), 400, "INVALID_ARGUMENT",
                        "page_size must be an integer"),
                row("an unknown filter operator", () -> http.get("/v1beta/tunedModels?filter=color:blue"), 400,
                        "INVALID_ARGUMENT", "color:blue"),
                // generation
                row("JSON mode on a tuned model", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"parts\":"
                        + "[{\"text\":\"1\"}]}],\"generationConfig\":{\"responseMimeType\":\"application/json\"}}"), 400,
                        "INVALID_ARGUMENT", "JSON mode is not supported for tuned models"),
                row("an input over 40,000 characters to generate", () -> http.post(tuned + ":generateContent",
                        "{\"contents\":[{\"parts\":[{\"text\":\"" + "x".repeat(40_001) + "\"}]}]}"), 400,
                        "INVALID_ARGUMENT", "40000"),
                row("an image part", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"parts\":[{\"inline_data\":"
                        + "{\"mime_type\":\"image/png\",\"data\":\"AA==\"}}]}]}"), 400, "INVALID_ARGUMENT", "only text parts"),
                row("turns out of order", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"role\":\"user\","
                        + "\"parts\":[{\"text\":\"1\"}]},{\"role\":\"user\",\"parts\":[{\"text\":\"2\"}]},{\"role\":\"user\","
                        + "\"parts\":[{\"text\":\"3\"}]}]}"), 400, "INVALID_ARGUMENT", "contents[1].role must be 'model'"),
                row("nine candidates", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":"
                        + "\"1\"}]}],\"generationConfig\":{\"candidateCount\":9}}"), 400, "INVALID_ARGUMENT",
                        "candidate_count must be an integer from 1 to 8"),
                row("no contents", () -> http.post(tuned + ":generateContent", "{\"contents\":[]}"), 400, "INVALID_ARGUMENT",
                        "contents is required"),
                row("a temperature of 7", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":"
                        + "\"1\"}]}],\"generationConfig\":{\"temperature\":7}}"), 400, "INVALID_ARGUMENT", "temperature"),
                row("zero output tokens", () -> http.post(tuned + ":generateContent", "{\"contents\":[{\"parts\":[{\"text\":"
                        + "\"1\"}]}],\"generationConfig\":{\"maxOutputTokens\":0}}"), 400, "INVALID_ARGUMENT",
                        "max_output_tokens must be at least 1"),
                row("an unknown method", () -> http.post(tuned + ":explode", GENERATE), 404, "NOT_FOUND", "explode"),
                // names and access
                row("an unknown tuned model", () -> http.get("/v1beta/tunedModels/nope"), 404, "NOT_FOUND", "tunedModels/nope"),
                row("generating on an unknown tuned model", () -> http.post("/v1beta/tunedModels/nope:generateContent",
                        GENERATE), 404, "NOT_FOUND", "tunedModels/nope"),
                row("an unknown base model by name", () -> http.get("/v1beta/models/nope"), 404, "NOT_FOUND", "models/nope"),
                row("an unknown path", () -> http.get("/v1beta/nothing-here"), 404, "NOT_FOUND", "/v1beta/nothing-here"),
                row("another project's model", () -> otherProject.get(tuned), 404, "NOT_FOUND", "kept"),
                row("deleting another project's model", () -> otherProject.delete(tuned), 404, "NOT_FOUND", "kept"),
                row("cancelling another project's model", () -> otherProject.post(tuned + "/operations/x:cancel", "{}"), 404,
                        "NOT_FOUND", "kept"),
                row("deleting with an API key", () -> withApiKey.delete(tuned), 401, "UNAUTHENTICATED", "API keys"),
                row("an unknown API key", () -> Http.withApiKey(server.port(), "tfk-forged").post(tuned + ":generateContent",
                        GENERATE), 400, "INVALID_ARGUMENT", "API key not valid"),
                // unsafe methods only by their own name, or POST's override
                row("a GET overridden to DELETE", () -> http.send("GET", tuned, null, "X-HTTP-Method-Override", "DELETE"),
                        200, null, null)));
        return rows.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void isRefusedAndChangesNothingStored(String name, Case c) {
        String before = storedState();
        Http.Response r = c.request().get();
        String shown = r.body().length() > 300 ? r.body().substring(0, 300) + "..." : r.body();
        assertEquals(c.status(), r.status(), shown);
        if (c.googleStatus() != null) {
            JsonNode e = r.json().get("error");
            assertEquals(c.status(), e.get("code").asInt(), shown);
            assertEquals(c.googleStatus(), e.get("status").asText(), shown);
            assertTrue(e.get("message").asText().contains(c.messagePart()), "message '" + e.get("message").asText()
                    + "' should mention " + c.messagePart());
            if (c.googleStatus().equals("INVALID_ARGUMENT")) {
                JsonNode badRequest = ErrorDetailsTest.detail(r, "type.googleapis.com/google.rpc.BadRequest");
                JsonNode errorInfo = ErrorDetailsTest.detail(r, "type.googleapis.com/google.rpc.ErrorInfo");
                assertTrue(badRequest != null || errorInfo != null, shown);
            }
        }
        assertEquals(before, storedState(), "nothing stored changed");
    }

    /** Every row of every table but Flyway's, and every file under the data directory but the database's own. */
    private static String storedState() {
        StringBuilder out = new StringBuilder(dev.tuneforge.store.TestDatabase.dump(database));
        try (Stream<Path> files = Files.walk(dataDir)) {
            files.filter(p -> !p.getFileName().toString().startsWith("tuneforge.")).sorted()
                    .forEach(p -> out.append(dataDir.relativize(p)).append(' ').append(size(p)).append('\n'));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static long size(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.size(p) : -1;
        } catch (IOException e) {
            return -2;
        }
    }

    private static ObjectNode valid() {
        ObjectNode body = JSON.createObjectNode();
        body.put("display_name", "t");
        body.put("base_model", "models/stories-260k");
        ObjectNode task = body.putObject("tuning_task");
        task.putObject("hyperparameters").put("batch_size", 2).put("learning_rate", 0.001).put("epoch_count", 1);
        var examples = task.putObject("training_data").putObject("examples").putArray("examples");
        examples.addObject().put("text_input", "1").put("output", "2");
        examples.addObject().put("text_input", "3").put("output", "4");
        return body;
    }

    private static String fromSource(String tunedModel) {
        ObjectNode body = valid();
        body.remove("base_model");
        body.putObject("tuned_model_source").put("tuned_model", tunedModel);
        return body.toString();
    }

    private static ObjectNode hp(ObjectNode body) {
        return (ObjectNode) body.get("tuning_task").get("hyperparameters");
    }

    private static ObjectNode examples(ObjectNode body) {
        return (ObjectNode) body.get("tuning_task").get("training_data").get("examples");
    }

    private static ObjectNode example(ObjectNode body, int i) {
        return (ObjectNode) examples(body).get("examples").get(i);
    }
}
