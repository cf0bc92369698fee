package dev.tuneforge.api;

import com.google.genai.Client;
import com.google.genai.types.CreateTuningJobConfig;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.JobState;
import com.google.genai.types.TuningDataset;
import com.google.genai.types.TuningExample;
import com.google.genai.types.TuningJob;
import dev.tuneforge.engine.data.SeedExamples;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The official Google GenAI Java SDK as a client of the server, by base URL only. */
class GenAiSdkTest {
    @TempDir
    Path dataDir;

    @Test
    void sdkTunesPollsListsAndGenerates() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(dataDir, Path.of("."))).start("127.0.0.1", 0)) {
            // tuning needs an OAuth access token (sent as a header, which the server prefers to the SDK's API key)
            String token = Callers.token(server.port(), server.auth().store(), "sdk-project");
            String[] apiKey = server.auth().store().createApiKey("sdk-project", "sdk", "test");
            Client client = Client.builder().apiKey(apiKey[1])
                    .httpOptions(HttpOptions.builder().baseUrl("http://127.0.0.1:" + server.port())
                            .headers(java.util.Map.of("Authorization", "Bearer " + token)).build()).build();
            List<TuningExample> examples = new ArrayList<>();
            SeedExamples.NUMBERS.forEach(e -> examples.add(TuningExample.builder().textInput(e.input()).output(e.output()).build()));
            // The Java SDK (1.28 to 1.80) builds the Gemini API's trainingData from TuningDataset.examples and then
            // drops it from the request (its converter's result is discarded), so the examples also travel in
            // extraBody, which the SDK merges into the request as Google's API would receive it.
            List<java.util.Map<String, String>> raw = new ArrayList<>();
            SeedExamples.NUMBERS.forEach(e -> raw.add(java.util.Map.of("textInput", e.input(), "output", e.output())));
            java.util.Map<String, Object> extra = java.util.Map.of("tuningTask", java.util.Map.of(
                    "hyperparameters", java.util.Map.of("epochCount", 50, "batchSize", 4, "learningRate", 0.001),
                    "trainingData", java.util.Map.of("examples", java.util.Map.of("examples", raw))));
            TuningJob job = client.tunings.tune("models/gemini-1.5-flash-001-tuning",
                    TuningDataset.builder().examples(examples).build(),
                    CreateTuningJobConfig.builder().tunedModelDisplayName("sdk numbers").epochCount(50).batchSize(4)
                            .learningRate(0.001f).httpOptions(HttpOptions.builder().extraBody(extra).build()).build());
            String name = job.name().orElseThrow();
            assertTrue(name.startsWith("tunedModels/sdk-numbers-"), name);

            long deadline = System.currentTimeMillis() + 120_000;
            TuningJob current = client.tunings.get(name, null);
            while (current.state().map(s -> s.knownEnum() != JobState.Known.JOB_STATE_SUCCEEDED
                    && s.knownEnum() != JobState.Known.JOB_STATE_FAILED).orElse(true)) {
                assertTrue(System.currentTimeMillis() < deadline, "tuning did not finish: " + current);
                Thread.sleep(300);
                current = client.tunings.get(name, null);
            }
            assertEquals(JobState.Known.JOB_STATE_SUCCEEDED, current.state().orElseThrow().knownEnum(), current.toString());

            // tunings.list is Vertex-only in the Java SDK; in Gemini API mode tuned models are listed by models.list
            // with queryBase false, which reads GET /v1beta/tunedModels
            List<String> listed = new ArrayList<>();
            client.models.list(com.google.genai.types.ListModelsConfig.builder().queryBase(false).build())
                    .forEach(m -> listed.add(m.name().orElse("")));
            assertTrue(listed.contains(name), listed.toString());

            String model = current.tunedModel().flatMap(t -> t.model()).orElse(name);
            // using the tuned model needs only the API key
            client = Client.builder().apiKey(apiKey[1])
                    .httpOptions(HttpOptions.builder().baseUrl("http://127.0.0.1:" + server.port()).build()).build();
            GenerateContentResponse r = client.models.generateContent(model, "twenty two",
                    GenerateContentConfig.builder().temperature(0f).build());
            assertEquals("twenty three", r.text());
            assertEquals("STOP", r.finishReason().toString());
        }
    }
}
