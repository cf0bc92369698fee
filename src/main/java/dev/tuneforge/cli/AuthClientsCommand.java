package dev.tuneforge.cli;

import dev.tuneforge.auth.AuthStore;
import dev.tuneforge.auth.OAuthClient;
import dev.tuneforge.auth.OAuthClients;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code tuneforge auth clients}: the operator's commands on the OAuth clients in a server's database (the server
 * may be running; a change takes effect on its next request).
 */
@Command(name = "clients", mixinStandardHelpOptions = true,
        description = "List, disable and enable OAuth clients and rotate their secrets, in the server's data directory.",
        subcommands = {AuthClientsCommand.ListClients.class, AuthClientsCommand.Disable.class,
                AuthClientsCommand.Enable.class, AuthClientsCommand.RotateSecret.class})
final class AuthClientsCommand implements Runnable {
    private static final String DEFAULT_SERVER = "http://127.0.0.1:8080";

    @Override
    public void run() {
        new picocli.CommandLine(this).usage(System.out);
    }

    static class DataDirOption {
        @Option(names = "--data-dir", description = "the server's data directory (default: ${DEFAULT-VALUE})")
        Path dataDir = Path.of("data");

        @picocli.CommandLine.Mixin
        DatabaseOption database = new DatabaseOption();

        /** The clients of the server's existing database (never a new, empty one). */
        OAuthClients clients() {
            return new OAuthClients(database.openExisting(dataDir));
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the OAuth clients: id, state, create time, projects (never secrets).")
    static final class ListClients extends DataDirOption implements Callable<Integer> {
        @Override
        public Integer call() {
            List<OAuthClient> all = clients().list();
            if (all.isEmpty()) {
                System.err.println("no OAuth clients in " + dataDir);
            }
            for (OAuthClient c : all) {
                System.out.printf("%-22s %-8s %-27s %s%s%n", c.clientId(), c.disabled() ? "disabled" : "active",
                        c.createTime(), String.join(",", c.projects()),
                        c.disabled() ? "  (disabled " + c.disableTime() + ")" : "");
            }
            return 0;
        }
    }

    @Command(name = "disable", mixinStandardHelpOptions = true,
            description = "Disable a client: it gets no more tokens, and the tokens it holds stop working at once.")
    static final class Disable extends DataDirOption implements Callable<Integer> {
        @Parameters(paramLabel = "CLIENT_ID")
        String clientId;

        @Override
        public Integer call() {
            boolean changed = clients().disable(clientId);
            System.out.println(changed ? "disabled OAuth client " + clientId + "; its tokens no longer work"
                    : "OAuth client " + clientId + " was already disabled");
            return 0;
        }
    }

    @Command(name = "enable", mixinStandardHelpOptions = true,
            description = "Enable a disabled client again; the tokens it held before stay invalid.")
    static final class Enable extends DataDirOption implements Callable<Integer> {
        @Parameters(paramLabel = "CLIENT_ID")
        String clientId;

        @Override
        public Integer call() {
            boolean changed = clients().enable(clientId);
            System.out.println(changed ? "enabled OAuth client " + clientId
                    : "OAuth client " + clientId + " was not disabled");
            return 0;
        }
    }

    @Command(name = "rotate-secret", mixinStandardHelpOptions = true,
            description = "Give a client a new secret, shown once: written to --output as a client file, else printed. "
                    + "The old secret and every token issued with it stop working at once.")
    static final class RotateSecret extends DataDirOption implements Callable<Integer> {
        @Parameters(paramLabel = "CLIENT_ID")
        String clientId;

        @Option(names = "--output", description = "client file to write (default: print the secret)")
        Path output;

        @Option(names = "--server", description = "the server's base URL, for the file's token_uri (default: the "
                + "token_uri of the client's existing --output file, else " + DEFAULT_SERVER + ")")
        String server;

        @Override
        public Integer call() throws IOException {
            if (server != null && output == null) {
                throw new IllegalArgumentException("--server sets the token_uri of the client file: it needs --output");
            }
            OAuthClients clients = clients();
            OAuthClient client = clients.get(clientId);
            String tokenUri = output == null ? null : tokenUri();
            AuthStore.ClientCredentials rotated = clients.rotateSecret(clientId);
            if (output == null) {
                System.err.println("Rotated the secret of OAuth client " + clientId + "; the old secret and its tokens "
                        + "no longer work. The new secret is shown only now:");
                System.out.println(rotated.clientSecret());
                return 0;
            }
            String project = client.projects().stream().sorted().findFirst().orElse(null);
            new ClientSecretFile(clientId, rotated.clientSecret(), tokenUri, project).write(output);
            System.out.println("Rotated the secret of OAuth client " + clientId + "; the old secret and its tokens no "
                    + "longer work; wrote " + output);
            return 0;
        }

        /** --server's token endpoint, else the one in the existing file when that file is this client's. */
        private String tokenUri() throws IOException {
            if (server != null) {
                return server.replaceAll("/+$", "") + "/oauth2/token";
            }
            if (!Files.exists(output)) {
                return DEFAULT_SERVER + "/oauth2/token";
            }
            ClientSecretFile existing;
            try {
                existing = ClientSecretFile.read(output);
            } catch (IOException | IllegalArgumentException e) {
                throw new IllegalArgumentException("--output " + output + " exists and is not a client file; name "
                        + "another file");
            }
            if (!existing.clientId().equals(clientId)) {
                throw new IllegalArgumentException("--output " + output + " holds the credentials of OAuth client "
                        + existing.clientId() + ", not " + clientId + "; name another file");
            }
            return existing.tokenUri();
        }
    }
}
