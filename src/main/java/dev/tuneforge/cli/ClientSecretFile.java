package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** {@code client_secret.json} in the shape of Google's OAuth client file ({"installed": {...}}). */
record ClientSecretFile(String clientId, String clientSecret, String tokenUri, String projectId) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static ClientSecretFile read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("there is no client file " + file + " (--credentials)");
        }
        JsonNode root = JSON.readTree(file.toFile());
        JsonNode c = root.has("installed") ? root.get("installed") : root.path("web");
        if (!c.hasNonNull("client_id") || !c.hasNonNull("client_secret") || !c.hasNonNull("token_uri")) {
            throw new IllegalArgumentException(file + " is not an OAuth client file (installed.client_id, client_secret, token_uri)");
        }
        return new ClientSecretFile(c.get("client_id").asText(), c.get("client_secret").asText(),
                c.get("token_uri").asText(), c.path("project_id").asText(null));
    }

    void write(Path file) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode c = root.putObject("installed");
        c.put("client_id", clientId);
        c.put("project_id", projectId);
        c.put("auth_uri", tokenUri.replace("/oauth2/token", "/oauth2/auth"));
        c.put("token_uri", tokenUri);
        c.put("client_secret", clientSecret);
        c.putArray("redirect_uris").add("http://localhost");
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path tmp = Files.createTempFile(parent, "client_secret", ".tmp");
        try {
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException ignored) {
            // non-POSIX file systems keep their default permissions
        }
        JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), root);
        Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** The server's base URL: the token URI without {@code /oauth2/token}. */
    String serverUrl() {
        return tokenUri.replaceFirst("/oauth2/token$", "");
    }

    /** An access token from the server named in the file (client-credentials grant). */
    String accessToken(String scopes) {
        String form = "grant_type=client_credentials&client_id=" + enc(clientId) + "&client_secret=" + enc(clientSecret)
                + (scopes == null ? "" : "&scope=" + enc(scopes));
        return new ApiClient(serverUrl(), null, null).postForm(tokenUri, form).path("access_token").asText();
    }

    /** Revokes {@code token} at the server named in the file (RFC 7009), authenticated as this file's client. */
    void revoke(String token) {
        String form = "token=" + enc(token) + "&token_type_hint=access_token&client_id=" + enc(clientId)
                + "&client_secret=" + enc(clientSecret);
        new ApiClient(serverUrl(), null, null).postForm(serverUrl() + "/oauth2/revoke", form);
    }

    private static String enc(String s) {
        return java.net.URLEncoder.encode(s, java.nio.charset.StandardCharsets.UTF_8);
    }
}
