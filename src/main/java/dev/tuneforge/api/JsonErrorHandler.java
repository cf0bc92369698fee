package dev.tuneforge.api;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.handler.ErrorHandler;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Jetty's own error answers in Google's JSON instead of its HTML pages: requests Jetty cannot parse (a bad request
 * line, a URI or headers too long, an illegal character, a bad Host), refused before a handler ran, or failed
 * outside Javalin. Each carries the security headers and {@code Cache-Control: no-store}.
 */
final class JsonErrorHandler extends ErrorHandler {
    private static final String JSON = "application/json; charset=utf-8";
    private final boolean servesTls;

    JsonErrorHandler(boolean servesTls) {
        this.servesTls = servesTls;
        setCacheControl("no-store");
        setShowStacks(false);
        setShowServlet(false);
    }

    /** Every method gets a body (Jetty's default gives one to GET, POST and HEAD only). */
    @Override
    public boolean errorPageForMethod(String method) {
        return true;
    }

    /** A request Jetty's parser refused; nothing of it is known but why. */
    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        SecurityHeaders.apply(fields::put, null, servesTls);
        if (HttpStatus.hasNoBody(status)) {
            return null;
        }
        fields.put(HttpHeader.CONTENT_TYPE, JSON);
        String message = "malformed HTTP request: " + (reason == null ? HttpStatus.getMessage(status) : reason);
        return ByteBuffer.wrap(GoogleError.json(status, GoogleError.statusOf(status), message)
                .getBytes(StandardCharsets.UTF_8));
    }

    @Override
    protected void generateAcceptableResponse(Request baseRequest, HttpServletRequest request,
                                              HttpServletResponse response, int code, String message) throws IOException {
        SecurityHeaders.apply(response::setHeader, request.getRequestURI(), request.isSecure());
        response.setHeader(HttpHeader.CACHE_CONTROL.asString(), getCacheControl());
        response.setContentType(JSON);
        // a server error's message may be an exception's, which is not the client's business
        String text = code >= 500 || message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
        byte[] body = GoogleError.json(code, GoogleError.statusOf(code), text).getBytes(StandardCharsets.UTF_8);
        response.setContentLength(body.length);
        response.getOutputStream().write(body);
    }
}
