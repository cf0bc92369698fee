package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.api.ServerConfig;
import dev.tuneforge.api.TuneforgeServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The operator's client commands and revoke-token, against a running server's data directory. */
class AuthClientsCliTest {
    @TempDir
    Path tmp;
    private Path data;
    private TuneforgeServer server;
    private String url;

    @BeforeEach
    void start() {
        data = tmp.resolve("data");
        server = new TuneforgeServer(ServerConfig.defaults(data, Path.of("."))).start("127.0.0.1", 0);
        url = "http://127.0.0.1:" + server.port();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** `auth init` for {@code project}; returns the client file. */
    private Path init(String project, String file) {
        Path clientFile = tmp.resolve(file);
        CliRun init = CliRun.of("auth", "init", "--data-dir", data.toString(), "--project", project, "--server", url,
                "--output", clientFile.toString());
        assertEquals(0, init.exit(), init.err());
        return clientFile;
    }

    private static String clientId(Path clientFile) throws Exception {
        return new ObjectMapper().readTree(clientFile.toFile()).get("installed").get("client_id").asText();
    }

    private static String secret(Path clientFile) throws Exception {
        return new ObjectMapper().readTree(clientFile.toFile()).get("installed").get("client_secret").asText();
    }

    private CliRun listModels(String token) {
        return CliRun.of("models", "list", "--server", url, "--access-token", token);
    }

    private static String token(Path clientFile) {
        CliRun r = CliRun.of("auth", "print-access-token", "--credentials", clientFile.toString());
        assertEquals(0, r.exit(), r.err());
        return r.out().trim();
    }

    @Test
    void listShowsClientsAndProjectsButNoSecrets() throws Exception {
        Path a = init("team-a", "a.json");
        Path b = init("team-b", "b.json");
        CliRun list = CliRun.of("auth", "clients", "list", "--data-dir", data.toString());
        assertEquals(0, list.exit(), list.err());
        assertTrue(list.out().contains(clientId(a)) && list.out().contains("team-a"), list.out());
        assertTrue(list.out().contains(clientId(b)) && list.out().contains("team-b"), list.out());
        assertTrue(list.out().contains("active"), list.out());
        assertFalse(list.out().contains(secret(a)) || list.out().contains(secret(b)), "a secret was listed");
    }

    @Test
    void disableEndsTheClientsTokensAndEnableLetsItFetchNewOnes() throws Exception {
        Path file = init("team-a", "client.json");
        String id = clientId(file);
        String token = token(file);
        assertEquals(0, listModels(token).exit());

        CliRun disabled = CliRun.of("auth", "clients", "disable", id, "--data-dir", data.toString());
        assertEquals(0, disabled.exit(), disabled.err());
        assertTrue(CliRun.of("auth", "clients", "list", "--data-dir", data.toString()).out().contains("disabled"));
        CliRun refused = listModels(token);
        assertEquals(2, refused.exit());
        assertTrue(refused.err().contains("UNAUTHENTICATED"), refused.err());
        CliRun noToken = CliRun.of("auth", "print-access-token", "--credentials", file.toString());
        assertEquals(2, noToken.exit());
        assertTrue(noToken.err().contains("invalid_client") && noToken.err().contains("disabled"), noToken.err());

        assertEquals(0, CliRun.of("auth", "clients", "enable", id, "--data-dir", data.toString()).exit());
        assertEquals(2, listModels(token).exit(), "the tokens held before stay invalid");
        assertEquals(0, listModels(token(file)).exit());
    }

    @Test
    void rotateSecretWritesTheNewSecretOnceAndTheOldOneStopsWorking() throws Exception {
        Path file = init("team-a", "client.json");
        String id = clientId(file);
        Path oldCopy = tmp.resolve("old.json");
        Files.copy(file, oldCopy);
        String oldToken = token(file);

        CliRun rotated = CliRun.of("auth", "clients", "rotate-secret", id, "--data-dir", data.toString(), "--output", file.toString());
        assertEquals(0, rotated.exit(), rotated.err());
        assertFalse(rotated.out().contains(secret(file)), "the secret is in the file only");
        var installed = new ObjectMapper().readTree(file.toFile()).get("installed");
        assertEquals(url + "/oauth2/token", installed.get("token_uri").asText(), "the file's server was kept");
        assertEquals("team-a", installed.get("project_id").asText());

        CliRun old = CliRun.of("auth", "print-access-token", "--credentials", oldCopy.toString());
        assertEquals(2, old.exit());
        assertTrue(old.err().contains("invalid_client"), old.err());
        assertEquals(2, listModels(oldToken).exit(), "tokens issued before the rotation stop working");
        assertEquals(0, listModels(token(file)).exit());

        CliRun printed = CliRun.of("auth", "clients", "rotate-secret", id, "--data-dir", data.toString());
        assertEquals(0, printed.exit(), printed.err());
        assertTrue(printed.out().trim().startsWith("tfs-"), printed.out());
        assertTrue(printed.err().contains("shown only now"), printed.err());
    }

    @Test
    void revokeTokenCallsTheRevocationEndpoint() throws Exception {
        Path file = init("team-a", "client.json");
        String token = token(file);
        CliRun revoked = CliRun.of("auth", "revoke-token", token, "--credentials", file.toString());
        assertEquals(0, revoked.exit(), revoked.err());
        assertEquals(2, listModels(token).exit());

        String second = token(file);
        InputStream oldIn = System.in;
        try {
            System.setIn(new ByteArrayInputStream((second + "\n").getBytes(StandardCharsets.UTF_8)));
            assertEquals(0, CliRun.of("auth", "revoke-token", "-", "--credentials", file.toString()).exit());
        } finally {
            System.setIn(oldIn);
        }
        assertEquals(2, listModels(second).exit());
    }

    @Test
    void badInputsAreNamedAndExitNonZero() throws Exception {
        Path a = init("team-a", "a.json");
        Path b = init("team-b", "b.json");
        for (String command : new String[]{"disable", "enable", "rotate-secret"}) {
            CliRun r = CliRun.of("auth", "clients", command, "tfc-nobody", "--data-dir", data.toString());
            assertEquals(2, r.exit(), command);
            assertTrue(r.err().contains("'tfc-nobody'"), r.err());
        }
        CliRun noData = CliRun.of("auth", "clients", "list", "--data-dir", tmp.resolve("elsewhere").toString());
        assertEquals(2, noData.exit());
        assertTrue(noData.err().contains("--data-dir") && noData.err().contains("elsewhere"), noData.err());
        assertFalse(Files.exists(tmp.resolve("elsewhere")), "no empty database was created");

        CliRun serverWithoutFile = CliRun.of("auth", "clients", "rotate-secret", clientId(a), "--data-dir", data.toString(),
                "--server", url);
        assertEquals(2, serverWithoutFile.exit());
        assertTrue(serverWithoutFile.err().contains("--server") && serverWithoutFile.err().contains("--output"),
                serverWithoutFile.err());
        CliRun othersFile = CliRun.of("auth", "clients", "rotate-secret", clientId(a), "--data-dir", data.toString(),
                "--output", b.toString());
        assertEquals(2, othersFile.exit());
        assertTrue(othersFile.err().contains(clientId(b)), othersFile.err());
        assertEquals(0, CliRun.of("auth", "print-access-token", "--credentials", a.toString()).exit(),
                "a refused rotation changed nothing");

        CliRun notJwt = CliRun.of("auth", "revoke-token", "not-a-token", "--credentials", a.toString());
        assertEquals(2, notJwt.exit());
        assertTrue(notJwt.err().contains("TOKEN is not a JWT"), notJwt.err());
        CliRun foreign = CliRun.of("auth", "revoke-token", token(b), "--credentials", a.toString());
        assertEquals(2, foreign.exit());
        assertTrue(foreign.err().contains(clientId(b)) && foreign.err().contains(clientId(a)), foreign.err());
        CliRun noFile = CliRun.of("auth", "revoke-token", token(a), "--credentials", tmp.resolve("missing.json").toString());
        assertEquals(2, noFile.exit());
        assertTrue(noFile.err().contains("missing.json"), noFile.err());
    }
}
