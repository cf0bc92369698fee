package dev.tuneforge.api;

import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpInput;
import org.eclipse.jetty.server.Request;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Caps every request body at its limit, whoever reads it (RequestBodies, Javalin's {@code ctx.body()} and form
 * parameters, Jetty's multipart parsing): a Content-Length over the limit is refused before anything is read, and a
 * body without one (chunked) or longer than it said fails the read that passes the limit. tunedModels.create, which
 * carries the training data, has its own larger limit.
 */
final class RequestBodyLimit implements HttpConfiguration.Customizer {
    private final long maxBodyBytes;
    private final long maxTuningBodyBytes;

    RequestBodyLimit(long maxBodyBytes, long maxTuningBodyBytes) {
        this.maxBodyBytes = maxBodyBytes;
        this.maxTuningBodyBytes = maxTuningBodyBytes;
    }

    @Override
    public void customize(Connector connector, HttpConfiguration config, Request request) {
        long limit = RequestBodies.carriesTrainingData(request.getMethod(), request.getRequestURI())
                ? maxTuningBodyBytes : maxBodyBytes;
        if (request.getContentLengthLong() > limit) {
            // answered here, before any handler, so that the client's upload is not waited for
            try {
                request.getResponse().sendError(400, new PayloadTooLargeException(limit).getMessage());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            request.setHandled(true);
            return;
        }
        request.getHttpInput().addInterceptor(new Counter(limit));
    }

    /** Passes the body's content through until more than {@code limit} bytes have come, then fails the read. */
    private static final class Counter implements HttpInput.Interceptor {
        private final long limit;
        private long received;
        private HttpInput.Content refused;

        Counter(long limit) {
            this.limit = limit;
        }

        @Override
        public HttpInput.Content readFrom(HttpInput.Content content) {
            if (refused != null) {
                return refused;
            }
            if (content.isSpecial()) {
                return content;
            }
            received += content.remaining();
            if (received > limit) {
                refused = new HttpInput.ErrorContent(new PayloadTooLargeException(limit));
                return refused;
            }
            return content;
        }
    }
}
