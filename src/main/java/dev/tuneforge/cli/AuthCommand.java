package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.SigningKeys;
import dev.tuneforge.store.Database;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.text.ParseException;
import java.util.concurrent.Callable;

/**
 * OAuth clients, access tokens, API keys and signing keys: the {@code gcloud auth} steps of the tutorial, and the
 * operator's client management ({@link AuthClientsCommand}).
 */
@Command(name = "auth", mixinStandardHelpOptions = true, description = "Set up and use credentials.",
        subcommands = {AuthCommand.Init.class, AuthCommand.PrintAccessToken.class, AuthCommand.ApiKeys.class,
                AuthCommand.RotateKey.class, AuthClientsCommand.class, AuthCommand.RevokeToken.class})
public final class AuthCommand implements Runnable {
    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Create project P and an OAuth client in the server's data directory and write the client file.")
    static final class Init implements Callable<Integer> {
        @Option(names = "--data-dir", description = "the server's data directory (default: ${DEFAULT-VALUE})")
        Path dataDir = Path.of("data");

        @Option(names = "--project", required = true, description = "project id")
        String project;

        @Option(names = "--server", description = "the server's base URL, for token_uri (default: ${DEFAULT-VALUE})")
        String server = "http://127.0.0.1:8080";

        @Option(names = "--output", description = "client file to write (default: ${DEFAULT-VALUE})")
        Path output = Path.of("client_secret.json");

        @picocli.CommandLine.Mixin
        DatabaseOption database = new DatabaseOption();

        @Override
        public Integer call() throws Exception {
            AuthStore.ClientCredentials c;
            try (Database db = database.open(dataDir)) {
                c = new AuthStore(db).createClient(project);
            }
            new ClientSecretFile(c.clientId(), c.clientSecret(), server.replaceAll("/+$", "") + "/oauth2/token", project)
                    .write(output);
            System.out.println("Created project " + project + " and OAuth client " + c.clientId() + "; wrote " + output);
            return 0;
        }
    }

    @Command(name = "print-access-token", mixinStandardHelpOptions = true,
            description = "Print an access token from the server named in the client file.")
    static final class PrintAccessToken implements Callable<Integer> {
        @Option(names = "--credentials", description = "client file (default: ${DEFAULT-VALUE})")
        Path credentials = Path.of("client_secret.json");

        @Option(names = "--scopes", description = "space- or comma-separated scopes (default: tuning and cloud-platform)")
        String scopes;

        @Override
        public Integer call() throws Exception {
            System.out.println(ClientSecretFile.read(credentials).accessToken(scopes));
            return 0;
        }
    }

    @Command(name = "revoke-token", mixinStandardHelpOptions = true,
            description = "Revoke an access token of the client in the client file, at the server named there (RFC 7009).")
    static final class RevokeToken implements Callable<Integer> {
        @Parameters(paramLabel = "TOKEN", description = "the access token, or - to read it from standard input")
        String token;

        @Option(names = "--credentials", description = "client file of the client the token was issued to "
                + "(default: ${DEFAULT-VALUE})")
        Path credentials = Path.of("client_secret.json");

        @Override
        public Integer call() throws Exception {
            String t = ("-".equals(token) ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : token).trim();
            JWTClaimsSet claims;
            try {
                claims = SignedJWT.parse(t).getJWTClaimsSet();
            } catch (ParseException e) {
                throw new IllegalArgumentException("TOKEN is not a JWT access token");
            }
            ClientSecretFile file = ClientSecretFile.read(credentials);
            if (!file.clientId().equals(claims.getSubject())) {
                throw new IllegalArgumentException("TOKEN was issued to '" + claims.getSubject() + "', not to OAuth client "
                        + file.clientId() + " of " + credentials + ": a client can revoke only its own tokens");
            }
            file.revoke(t);
            System.out.println("revoked access token " + claims.getJWTID() + " of OAuth client " + file.clientId());
            return 0;
        }
    }

    @Command(name = "rotate-key", mixinStandardHelpOptions = true,
            description = "Start signing tokens with a new key; tokens signed by the previous keys stay valid.")
    static final class RotateKey implements Callable<Integer> {
        @Option(names = "--data-dir", description = "the server's data directory (default: ${DEFAULT-VALUE})")
        Path dataDir = Path.of("data");

        @Override
        public Integer call() {
            SigningKeys keys = new SigningKeys(dataDir);
            keys.rotate();
            System.out.println("signing key is now " + keys.current().getKeyID());
            return 0;
        }
    }

    @Command(name = "api-keys", mixinStandardHelpOptions = true, description = "Create, list and revoke API keys.",
            subcommands = {ApiKeys.Create.class, ApiKeys.ListKeys.class, ApiKeys.Revoke.class})
    static final class ApiKeys implements Runnable {
        @Override
        public void run() {
            new picocli.CommandLine(this).usage(System.out);
        }

        static class Base {
            @Option(names = "--credentials", description = "client file (default: ${DEFAULT-VALUE})")
            Path credentials = Path.of("client_secret.json");

            @Option(names = "--project", description = "project (default: the client file's project_id)")
            String project;

            ApiClient client() throws java.io.IOException {
                ClientSecretFile f = ClientSecretFile.read(credentials);
                return new ApiClient(f.serverUrl(), project != null ? project : f.projectId(), f.accessToken(null));
            }
        }

        @Command(name = "create", mixinStandardHelpOptions = true, description = "Create an API key; it is printed once.")
        static final class Create extends Base implements Callable<Integer> {
            @Option(names = "--display-name", description = "a name to recognise the key by")
            String displayName;

            @Override
            public Integer call() throws Exception {
                String body = "{\"displayName\": " + (displayName == null ? "null"
                        : new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(displayName)) + "}";
                JsonNode key = client().post("/v1beta/apiKeys", body);
                System.err.println("Created " + key.path("name").asText() + " in project " + key.path("project").asText()
                        + "; the key is shown only now:");
                System.out.println(key.path("keyString").asText());
                return 0;
            }
        }

        @Command(name = "list", mixinStandardHelpOptions = true, description = "List the project's API keys (not the keys themselves).")
        static final class ListKeys extends Base implements Callable<Integer> {
            @Override
            public Integer call() throws Exception {
                for (JsonNode k : client().get("/v1beta/apiKeys").path("keys")) {
                    System.out.printf("%-22s %-8s %-25s %s%n", k.path("name").asText(),
                            k.has("revokeTime") ? "revoked" : "active", k.path("createTime").asText(),
                            k.path("displayName").asText(""));
                }
                return 0;
            }
        }

        @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke an API key (apiKeys/ID or ID).")
        static final class Revoke extends Base implements Callable<Integer> {
            @picocli.CommandLine.Parameters(paramLabel = "KEY")
            String key;

            @Override
            public Integer call() throws Exception {
                client().delete("/v1beta/apiKeys/" + key.replaceFirst("^apiKeys/", ""));
                System.out.println("revoked " + key);
                return 0;
            }
        }
    }
}
