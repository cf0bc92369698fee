package dev.tuneforge.cli;

import picocli.CommandLine.Option;

/** Where a client command finds the server, and as whom it calls. */
final class ServerOptions {
    @Option(names = "--server", description = "server base URL (default: ${DEFAULT-VALUE})")
    String server = "http://127.0.0.1:8080";

    @Option(names = "--project", description = "project sent as x-goog-user-project (default: the caller's only one)")
    String project;

    @Option(names = "--access-token", description = "OAuth access token (default: $TUNEFORGE_ACCESS_TOKEN)")
    String accessToken = System.getenv("TUNEFORGE_ACCESS_TOKEN");

    @Option(names = "--api-key", description = "API key, enough for generate and models get (default: $TUNEFORGE_API_KEY)")
    String apiKey = System.getenv("TUNEFORGE_API_KEY");

    ApiClient client() {
        return new ApiClient(server, project, accessToken, accessToken == null ? apiKey : null);
    }
}
