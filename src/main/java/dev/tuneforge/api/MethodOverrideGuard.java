package dev.tuneforge.api;

import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;

/**
 * {@code X-HTTP-Method-Override} counts on POST only, as Google has it: Javalin honours the header on any method,
 * which let a GET (a link, an image, a prefetch) delete a tuned model. On other methods it is removed before Javalin
 * sees it, so a GET stays a GET.
 */
final class MethodOverrideGuard implements HttpConfiguration.Customizer {
    static final String HEADER = "X-HTTP-Method-Override";

    @Override
    public void customize(Connector connector, HttpConfiguration config, Request request) {
        if (!"POST".equals(request.getMethod()) && request.getHttpFields().contains(HEADER)) {
            request.setHttpFields(HttpFields.build(request.getHttpFields()).remove(HEADER));
        }
    }
}
