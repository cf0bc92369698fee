package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tuneforge.tuning.InvalidRequestException;
import io.javalin.http.Context;
import org.eclipse.jetty.http.BadMessageException;

import java.io.IOException;
import java.util.regex.Pattern;

/**
 * Request bodies as the handlers read them: JSON parsed straight from the request's input stream, which
 * {@link RequestBodyLimit} cuts off at the request's byte limit, with Jackson's nesting, string-length and token-count
 * limits (GoogleJson). Handlers call {@link #json(Context)} instead of parsing {@code ctx.body()}, which would first
 * build the whole body as one String.
 */
public final class RequestBodies {
    private static final Pattern CREATE_TUNED_MODEL = Pattern.compile("/v1(beta)?/tunedModels/?");
    /**
     * Tokens of a tuning request: 100,000 examples (the most a request may have) of 6 tokens each, and room to
     * spare. Bounds the JSON tree a 64 MiB body can build ({@code [{},{},...]} would be 40 million nodes).
     */
    private static final long MAX_TUNING_TOKENS = 1_000_000;
    /** Tokens of any other body: a generateContent request is a few dozen. */
    private static final long MAX_TOKENS = 100_000;
    private static final ObjectMapper TUNING_READER = GoogleJson.mapper(MAX_TUNING_TOKENS);
    private static final ObjectMapper READER = GoogleJson.mapper(MAX_TOKENS);

    private RequestBodies() {
    }

    /**
     * The body as JSON with every key in lowerCamelCase; an empty body is an empty object. Bad JSON, a body over its
     * limit (refused by the read that passes it) and a body that cannot be read are INVALID_ARGUMENT.
     */
    public static JsonNode json(Context ctx) {
        ObjectMapper reader = carriesTrainingData(ctx.req().getMethod(), ctx.req().getRequestURI()) ? TUNING_READER : READER;
        try {
            return GoogleJson.parseBody(reader, ctx.req().getInputStream());
        } catch (PayloadTooLargeException e) {
            throw new InvalidRequestException(e.getMessage());
        } catch (IOException | BadMessageException e) {
            throw new InvalidRequestException("the request body could not be read" + reason(e));
        }
    }

    /** Jetty's reason for a malformed body (a bad chunk, an early end), which its stream wraps in an IOException. */
    private static String reason(Exception e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof BadMessageException bad && bad.getReason() != null) {
                return ": " + bad.getReason();
            }
        }
        return "";
    }

    /** Whether a request is tunedModels.create, whose body carries the training data and has the larger limits. */
    static boolean carriesTrainingData(String method, String rawPath) {
        return "POST".equals(method) && rawPath != null && CREATE_TUNED_MODEL.matcher(rawPath).matches();
    }
}
