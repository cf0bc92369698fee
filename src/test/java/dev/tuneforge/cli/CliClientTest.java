package dev.tuneforge.cli;

import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's client commands against a real server. */
class CliClientTest {
    @TempDir
    Path tmp;

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            CommandLine cli = new CommandLine(new TuneforgeCli());
            cli.setErr(new java.io.PrintWriter(System.err, true));
            cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
                cmd.getErr().println("error: " + e.getMessage());
                return 2;
            });
            int code = cli.execute(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void tuneGenerateListDeleteFromFiles() throws Exception {
        try (TuneforgeServer server = new TuneforgeServer(ServerConfig.defaults(tmp.resolve("data"), Path.of("."))).start("127.0.0.1", 0)) {
            String url = "http://127.0.0.1:" + server.port();
            var creds = server.auth().store().createClient("cli-project");
            String token = server.auth().tokens().issue(server.auth().store().findClient(creds.clientId()).orElseThrow(),
                    dev.tuneforge.auth.Scopes.ALL);
            Path csv = tmp.resolve("numbers.csv");
            Files.writeString(csv, "text_input,output\n1,2\n3,4\n\"1,000\",\"1,001\"\n");
            Run tuned = run("tune", csv.toString(), "--server", url, "--project", "cli-project", "--access-token", token, "--id", "from-csv", "--epochs", "2", "--batch-size", "2");
            assertEquals(0, tuned.exit(), tuned.out() + tuned.err());
            assertTrue(tuned.out().contains("tunedModels/from-csv is ACTIVE"), tuned.out());
            assertTrue(tuned.out().contains("3 examples, 3 steps"), tuned.out());

            Path jsonl = tmp.resolve("more.jsonl");
            Files.writeString(jsonl, "{\"input\": \"a\", \"output\": \"b\"}\n\n{\"text_input\": \"c\", \"output\": \"d\"}\n");
            assertEquals(0, run("tune", jsonl.toString(), "--server", url, "--project", "cli-project", "--access-token", token, "--id", "from-jsonl", "--epochs", "1").exit());

            Run gen = run("generate", "from-csv", "1", "--server", url, "--project", "cli-project", "--access-token", token, "--temperature", "0", "--max-output-tokens", "4", "--json");
            assertEquals(0, gen.exit(), gen.err());
            assertTrue(gen.out().contains("\"candidates\""), gen.out());

            Run list = run("models", "list", "--server", url, "--project", "cli-project", "--access-token", token);
            assertTrue(list.out().contains("tunedModels/from-csv") && list.out().contains("tunedModels/from-jsonl"), list.out());
            assertTrue(list.out().contains("models/gemini-1.0-pro-001"), list.out());

            assertEquals(0, run("models", "delete", "from-jsonl", "--server", url, "--project", "cli-project", "--access-token", token).exit());
            Run missing = run("models", "get", "from-jsonl", "--server", url, "--project", "cli-project", "--access-token", token);
            assertEquals(2, missing.exit());
            assertTrue(missing.err().contains("NOT_FOUND"), missing.err());

            Path bad = tmp.resolve("bad.jsonl");
            Files.writeString(bad, "{\"input\": \"a\"}\n");
            Run badRun = run("tune", bad.toString(), "--server", url, "--project", "cli-project", "--access-token", token);
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
            Run init = run("auth", "init", "--data-dir", data.toString(), "--project", "team-a", "--server", url,
                    "--output", clientFile.toString());
            assertEquals(0, init.exit(), init.err());
            var json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(clientFile.toFile()).get("installed");
            assertEquals(url + "/oauth2/token", json.get("token_uri").asText());
            assertEquals("team-a", json.get("project_id").asText());

            Run token = run("auth", "print-access-token", "--credentials", clientFile.toString());
            assertEquals(0, token.exit(), token.err());
            String accessToken = token.out().trim();
            assertEquals(3, accessToken.split("\\.").length, "a JWT");
            Run list = run("models", "list", "--server", url, "--access-token", accessToken);
            assertEquals(0, list.exit(), list.err());

            Run created = run("auth", "api-keys", "create", "--credentials", clientFile.toString(), "--display-name", "ci");
            assertEquals(0, created.exit(), created.err());
            String key = created.out().trim();
            assertTrue(key.startsWith("tfk-"), created.out());
            Run keys = run("auth", "api-keys", "list", "--credentials", clientFile.toString());
            assertTrue(keys.out().contains("active") && !keys.out().contains(key), keys.out());
            String name = keys.out().trim().split("\\s+")[0];
            Run getWithKey = run("models", "get", "models/stories-260k", "--server", url, "--api-key", key);
            assertEquals(0, getWithKey.exit(), getWithKey.err());
            assertEquals(0, run("auth", "api-keys", "revoke", name, "--credentials", clientFile.toString()).exit());
            Run afterRevoke = run("models", "get", "models/stories-260k", "--server", url, "--api-key", key);
            assertEquals(2, afterRevoke.exit());
            assertTrue(afterRevoke.err().contains("UNAUTHENTICATED"), afterRevoke.err());
        }
    }
}
