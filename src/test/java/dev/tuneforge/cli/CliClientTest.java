package dev.tuneforge.cli;

import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's client commands against a real server. */
class CliClientTest {
    @TempDir
    Path tmp;

    @Test
    void tuneGenerateListDeleteFromFiles() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(tmp.resolve("data"), Path.of("."))).start("127.0.0.1", 0)) {
            String url = "http://127.0.0.1:" + server.port();
            var creds = server.auth().store().createClient("cli-project");
            String token = server.auth().tokens().issue(server.auth().store().findClient(creds.clientId()).orElseThrow(),
                    dev.tuneforge.auth.Scopes.ALL);
            Path csv = tmp.resolve("numbers.csv");
            Files.writeString(csv, "text_input,output\n1,2\n3,4\n\"1,000\",\"1,001\"\n");
            CliRun tuned = CliRun.of("tune", csv.toString(), "--server", url, "--project", "cli-project", "--access-token", token, "--id", "from-csv", "--epochs", "2", "--batch-size", "2");
            assertEquals(0, tuned.exit(), tuned.out() + tuned.err());
            assertTrue(tuned.out().contains("tunedModels/from-csv is ACTIVE"), tuned.out());
            assertTrue(tuned.out().contains("3 examples, 3 steps"), tuned.out());

            Path jsonl = tmp.resolve("more.jsonl");
            Files.writeString(jsonl, "{\"input\": \"a\", \"output\": \"b\"}\n\n{\"text_input\": \"c\", \"output\": \"d\"}\n");
            assertEquals(0, CliRun.of("tune", jsonl.toString(), "--server", url, "--project", "cli-project", "--access-token", token, "--id", "from-jsonl", "--epochs", "1").exit());

            CliRun gen = CliRun.of("generate", "from-csv", "1", "--server", url, "--project", "cli-project", "--access-token", token, "--temperature", "0", "--max-output-tokens", "4", "--json");
            assertEquals(0, gen.exit(), gen.err());
            assertTrue(gen.out().contains("\"candidates\""), gen.out());

            CliRun list = CliRun.of("models", "list", "--server", url, "--project", "cli-project", "--access-token", token);
            assertTrue(list.out().contains("tunedModels/from-csv") && list.out().contains("tunedModels/from-jsonl"), list.out());
            assertTrue(list.out().contains("models/gemini-1.0-pro-001"), list.out());

            assertEquals(0, CliRun.of("models", "delete", "from-jsonl", "--server", url, "--project", "cli-project", "--access-token", token).exit());
            CliRun missing = CliRun.of("models", "get", "from-jsonl", "--server", url, "--project", "cli-project", "--access-token", token);
            assertEquals(2, missing.exit());
            assertTrue(missing.err().contains("NOT_FOUND"), missing.err());

            Path bad = tmp.resolve("bad.jsonl");
            Files.writeString(bad, "{\"input\": \"a\"}\n");
            CliRun badRun = CliRun.of("tune", bad.toString(), "--server", url, "--project", "cli-project", "--access-token", token);
            assertEquals(2, badRun.exit());
            assertTrue(badRun.err().contains("needs text_input"), badRun.err());
        }
    }

    @Test
    void authInitPrintAccessTokenAndApiKeysAgainstARunningServer() throws Exception {
        Path data = tmp.resolve("auth-data");
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(data, Path.of("."))).start("127.0.0.1", 0)) {
            String url = "http://127.0.0.1:" + server.port();
            Path clientFile = tmp.resolve("client_secret.json");
            CliRun init = CliRun.of("auth", "init", "--data-dir", data.toString(), "--project", "team-a", "--server", url,
                    "--output", clientFile.toString());
            assertEquals(0, init.exit(), init.err());
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(clientFile.toFile()).get("installed");
            assertEquals(url + "/oauth2/token", json.get("token_uri").asText());
            assertEquals("team-a", json.get("project_id").asText());

            CliRun token = CliRun.of("auth", "print-access-token", "--credentials", clientFile.toString());
            assertEquals(0, token.exit(), token.err());
            String accessToken = token.out().trim();
            assertEquals(3, accessToken.split("\\.").length, "a JWT");
            CliRun list = CliRun.of("models", "list", "--server", url, "--access-token", accessToken);
            assertEquals(0, list.exit(), list.err());

            CliRun created = CliRun.of("auth", "api-keys", "create", "--credentials", clientFile.toString(), "--display-name", "ci");
            assertEquals(0, created.exit(), created.err());
            String key = created.out().trim();
            assertTrue(key.startsWith("tfk-"), created.out());
            CliRun keys = CliRun.of("auth", "api-keys", "list", "--credentials", clientFile.toString());
            assertTrue(keys.out().contains("active") && !keys.out().contains(key), keys.out());
            String name = keys.out().trim().split("\\s+")[0];
            CliRun getWithKey = CliRun.of("models", "get", "models/stories-260k", "--server", url, "--api-key", key);
            assertEquals(0, getWithKey.exit(), getWithKey.err());
            assertEquals(0, CliRun.of("auth", "api-keys", "revoke", name, "--credentials", clientFile.toString()).exit());
            CliRun afterRevoke = CliRun.of("models", "get", "models/stories-260k", "--server", url, "--api-key", key);
            assertEquals(2, afterRevoke.exit());
            assertTrue(afterRevoke.err().contains("INVALID_ARGUMENT: API key not valid"), afterRevoke.err());
        }
    }
}
