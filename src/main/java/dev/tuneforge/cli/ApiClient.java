package dev.tuneforge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The CLI's HTTP client of a Tuneforge server, sending the headers the tutorial sends. */
final class ApiClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String baseUrl;
    private final String project;
    private final String accessToken;
    private final String apiKey;

    /** A failed call, with the server's error message. */
    static final class ApiError extends RuntimeException {
        final int status;

        ApiError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    ApiClient(String baseUrl, String project, String accessToken) {
        this(baseUrl, project, accessToken, null);
    }

    ApiClient(String baseUrl, String project, String accessToken, String apiKey) {
        this.baseUrl = baseUrl.replaceAll("/+$", "");
        this.project = project;
        this.accessToken = accessToken;
        this.apiKey = apiKey;
    }

    /** The same server, called with an API key instead of the access token. */
    ApiClient withApiKey(String key) {
        return new ApiClient(baseUrl, null, null, key);
    }

    /** POSTs a form (the OAuth token endpoint) without credentials headers. */
    JsonNode postForm(String url, String form) {
        return send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/x-www-form-urlencoded")
                .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(form)));
    }

    JsonNode get(String path) {
        return send(request(path).GET());
    }

    JsonNode post(String path, String body) {
        return send(request(path).POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    JsonNode delete(String path) {
        return send(request(path).DELETE());
    }

    private HttpRequest.Builder request(String path) {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .header("Content-Type", "application/json").timeout(Duration.ofMinutes(10));
        if (project != null) {
            b.header("x-goog-user-project", project);
        }
        if (accessToken != null) {
            b.header("Authorization", "Bearer " + accessToken);
        }
        if (apiKey != null) {
            b.header("x-goog-api-key", apiKey);
        }
        return b;
    }

    private JsonNode send(HttpRequest.Builder b) {
        HttpResponse<String> r;
        try {
            r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new ApiError(0, "cannot reach " + baseUrl + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ApiError(0, "interrupted");
        }
        JsonNode body;
        try {
            body = r.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(r.body());
        } catch (IOException e) {
            throw new ApiError(r.statusCode(), "server answered " + r.statusCode() + " with non-JSON: " + r.body());
        }
        if (r.statusCode() >= 400) {
            JsonNode err = body.path("error");
            if (err.isTextual()) {
                throw new ApiError(r.statusCode(), err.asText() + ": " + body.path("error_description").asText());
            }
            throw new ApiError(r.statusCode(), err.path("status").asText("HTTP " + r.statusCode()) + ": "
                    + err.path("message").asText(r.body()));
        }
        return body;
    }

    static String pretty(JsonNode n) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(n);
        } catch (IOException e) {
            return n.toString();
        }
    }
}
