package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tuneforge.auth.Scopes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Errors carry Google's {@code details} over real HTTP: {@code ErrorInfo} with the reason, domain and metadata Google
 * gives the same credential mistake, and {@code BadRequest} field violations naming the field in JSON's spelling.
 */
class ErrorDetailsTest {
    private static final String SERVICE = "generativelanguage.googleapis.com";
    private static final String ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
    private static final String BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest";
    private static final String GENERATE = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}]}";
    @TempDir
    static Path dataDir;
    static TuneforgeServer server;
    static Http p1;
    static String apiKey;

    @BeforeAll
    static void start() {
        server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0);
        p1 = Callers.http(server, "p1");
        apiKey = p1.post("/v1beta/apiKeys", "{}").json().get("keyString").asText();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Test
    void anUnknownApiKeyIsInvalidArgumentWithApiKeyInvalid() {
        Http.Response r = Http.withApiKey(server.port(), "tfk-forged").post("/v1beta/models/stories-260k:generateContent",
                GENERATE);
        JsonNode info = errorInfo(r, 400, "INVALID_ARGUMENT", "API_KEY_INVALID");
        assertEquals(SERVICE, info.get("metadata").get("service").asText());
        assertEquals(1, info.get("metadata").size(), "Google gives API_KEY_INVALID the service only: " + r.body());
        assertTrue(message(r).startsWith("API key not valid. Please pass a valid API key."), r.body());
    }

    @Test
    void noCredentialsAreCredentialsMissingNamingTheMethod() {
        JsonNode info = errorInfo(Http.anonymous(server.port()).get("/v1beta/tunedModels"), 401, "UNAUTHENTICATED",
                "CREDENTIALS_MISSING");
        assertEquals("google.ai.generativelanguage.v1beta.ModelService.ListTunedModels",
                info.get("metadata").get("method").asText());
        JsonNode onV1 = errorInfo(Http.anonymous(server.port()).post("/v1/models/stories-260k:countTokens", GENERATE),
                401, "UNAUTHENTICATED", "CREDENTIALS_MISSING");
        assertEquals("google.ai.generativelanguage.v1.GenerativeService.CountTokens",
                onV1.get("metadata").get("method").asText());
    }

    @Test
    void anApiKeyOnATuningCallIsCredentialsMissing() {
        Http.Response r = Http.withApiKey(server.port(), apiKey).post("/v1beta/tunedModels", "{}");
        JsonNode info = errorInfo(r, 401, "UNAUTHENTICATED", "CREDENTIALS_MISSING");
        assertEquals("google.ai.generativelanguage.v1beta.ModelService.CreateTunedModel",
                info.get("metadata").get("method").asText());
        assertTrue(message(r).contains("API keys are not supported"), r.body());
    }

    @Test
    void badAndExpiredTokensSayWhich() {
        JsonNode garbage = errorInfo(new Http(server.port(), "p1", "not-a-jwt").delete("/v1beta/tunedModels/x"), 401,
                "UNAUTHENTICATED", "ACCESS_TOKEN_TYPE_UNSUPPORTED");
        assertEquals("google.ai.generativelanguage.v1beta.ModelService.DeleteTunedModel",
                garbage.get("metadata").get("method").asText());
        String expired = server.auth().tokens().issue(Callers.client(server.auth().store(), "p1"), Scopes.ALL,
                Instant.now().minus(Duration.ofHours(2)), Duration.ofHours(1));
        JsonNode info = errorInfo(new Http(server.port(), "p1", expired).get("/v1beta/tunedModels/x"), 401,
                "UNAUTHENTICATED", "ACCESS_TOKEN_EXPIRED");
        assertEquals("google.ai.generativelanguage.v1beta.ModelService.GetTunedModel",
                info.get("metadata").get("method").asText());
    }

    @Test
    void aTokenWithoutTheTuningScopeIsScopeInsufficient() {
        String openid = server.auth().tokens().issue(Callers.client(server.auth().store(), "p1"), Set.of("openid"));
        JsonNode info = errorInfo(new Http(server.port(), "p1", openid).patch("/v1beta/tunedModels/x", "{}"), 403,
                "PERMISSION_DENIED", "ACCESS_TOKEN_SCOPE_INSUFFICIENT");
        assertEquals("google.ai.generativelanguage.v1beta.ModelService.UpdateTunedModel",
                info.get("metadata").get("method").asText());
        assertEquals(SERVICE, info.get("metadata").get("service").asText());
    }

    @Test
    void anotherProjectAsUserProjectIsUserProjectDenied() {
        Http asP2 = new Http(server.port(), "p2", Callers.token(server.port(), server.auth().store(), "p1"));
        JsonNode info = errorInfo(asP2.get("/v1beta/tunedModels"), 403, "PERMISSION_DENIED", "USER_PROJECT_DENIED");
        assertEquals("projects/p2", info.get("metadata").get("consumer").asText());
        assertNull(info.get("metadata").get("method"), "Google names no method for USER_PROJECT_DENIED");
    }

    @Test
    void anInvalidFieldIsNamedInJsonSpelling() {
        String body = "{\"base_model\":\"models/stories-260k\",\"tuning_task\":{\"hyperparameters\":{\"epoch_count\":0},"
                + "\"training_data\":{\"examples\":{\"examples\":[{\"text_input\":\"1\",\"output\":\"2\"}]}}}}";
        JsonNode violation = fieldViolation(p1.post("/v1beta/tunedModels", body));
        assertEquals("tuningTask.hyperparameters.epochCount", violation.get("field").asText());
        assertTrue(violation.get("description").asText().contains("epoch_count must be between 1 and 1000"));

        String example = "{\"base_model\":\"models/stories-260k\",\"tuning_task\":{\"training_data\":{\"examples\":"
                + "{\"examples\":[{\"text_input\":\"1\",\"output\":\"2\"},{\"text_input\":\"3\"}]}}}}";
        assertEquals("tuningTask.trainingData.examples.examples[1].output",
                fieldViolation(p1.post("/v1beta/tunedModels", example)).get("field").asText());

        String tooLong = "{\"base_model\":\"models/stories-260k\",\"tuning_task\":{\"training_data\":{\"examples\":"
                + "{\"examples\":[{\"text_input\":\"1\",\"output\":\"2\"},{\"text_input\":\"" + "x".repeat(40_000)
                + "\",\"output\":\"2\"}]}}}}";
        JsonNode context = fieldViolation(p1.post("/v1beta/tunedModels", tooLong));
        assertEquals("tuningTask.trainingData.examples.examples[1].textInput", context.get("field").asText());
        assertTrue(context.get("description").asText().contains("context is 512 tokens"), context.toString());

        String stops = "{\"contents\":[{\"parts\":[{\"text\":\"1\"}]}],\"generationConfig\":{\"stop_sequences\":"
                + "[\"a\",\"\"]}}";
        assertEquals("generationConfig.stopSequences[1]",
                fieldViolation(p1.post("/v1beta/models/stories-260k:generateContent", stops)).get("field").asText());
    }

    @Test
    void brokenJsonIsABadRequestWithoutAField() {
        JsonNode violation = fieldViolation(p1.post("/v1beta/tunedModels", "{\"display_name\": "));
        assertFalse(violation.has("field"), violation.toString());
        assertTrue(violation.get("description").asText().startsWith("invalid JSON payload"), violation.toString());
    }

    @Test
    void errorsWithoutDetailsHaveNoDetailsField() {
        Http.Response r = p1.get("/v1beta/tunedModels/no-such-model");
        assertEquals(404, r.status(), r.body());
        assertFalse(r.json().get("error").has("details"), r.body());
    }

    private static String message(Http.Response r) {
        return r.json().get("error").get("message").asText();
    }

    /** The response's one ErrorInfo, after checking the status and that it is Google's shape. */
    static JsonNode errorInfo(Http.Response r, int status, String googleStatus, String reason) {
        assertEquals(status, r.status(), r.body());
        JsonNode error = r.json().get("error");
        assertEquals(status, error.get("code").asInt(), r.body());
        assertEquals(googleStatus, error.get("status").asText(), r.body());
        JsonNode info = detail(r, ERROR_INFO);
        assertNotNull(info, "no ErrorInfo in " + r.body());
        assertEquals(reason, info.get("reason").asText(), r.body());
        assertEquals("googleapis.com", info.get("domain").asText(), r.body());
        assertEquals(SERVICE, info.get("metadata").get("service").asText(), r.body());
        return info;
    }

    /** The one field violation of a 400 INVALID_ARGUMENT, whose description is the message. */
    static JsonNode fieldViolation(Http.Response r) {
        assertEquals(400, r.status(), r.body());
        assertEquals("INVALID_ARGUMENT", r.json().get("error").get("status").asText(), r.body());
        JsonNode badRequest = detail(r, BAD_REQUEST);
        assertNotNull(badRequest, "no BadRequest in " + r.body());
        JsonNode violations = badRequest.get("fieldViolations");
        assertEquals(1, violations.size(), r.body());
        assertEquals(message(r), violations.get(0).get("description").asText(), r.body());
        return violations.get(0);
    }

    static JsonNode detail(Http.Response r, String type) {
        JsonNode details = r.json().get("error").get("details");
        if (details == null) {
            return null;
        }
        for (JsonNode d : details) {
            if (type.equals(d.path("@type").asText())) {
                return d;
            }
        }
        return null;
    }
}
