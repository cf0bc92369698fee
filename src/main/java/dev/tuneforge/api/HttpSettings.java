package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The HTTP layer's settings, the {@code "http"} object of the config file: the URL clients reach the server at,
 * TLS, trusted reverse proxies, timeouts and body limits. Absent keys take the defaults.
 *
 * @param publicBaseUrl      the discovery document's base URL; null: derived from the address the server listens on
 * @param tls                the certificate and key to serve HTTPS with; null: plain HTTP
 * @param trustedProxies     peers whose X-Forwarded-For/-Proto/-Host count; empty: nobody's
 * @param idleTimeout        a connection with no traffic for this long is closed
 * @param headerTimeout      a request head (request line and headers) must arrive within this, however it trickles
 * @param maxBodyBytes       the largest request body but tunedModels.create's
 * @param maxTuningBodyBytes the largest tunedModels.create body (it carries the training data)
 */
public record HttpSettings(String publicBaseUrl, TlsSettings tls, List<IpRange> trustedProxies, Duration idleTimeout,
                           Duration headerTimeout, long maxBodyBytes, long maxTuningBodyBytes) {
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(15);
    public static final long DEFAULT_MAX_BODY_BYTES = 4L * 1024 * 1024;
    public static final long DEFAULT_MAX_TUNING_BODY_BYTES = 64L * 1024 * 1024;
    private static final List<String> KEYS = List.of("publicBaseUrl", "tls", "trustedProxies", "idleTimeoutSeconds",
            "headerTimeoutSeconds", "maxBodyBytes", "maxTuningBodyBytes");

    public HttpSettings {
        publicBaseUrl = publicBaseUrl == null ? null : PublicBaseUrl.parse(publicBaseUrl, "http.publicBaseUrl");
        trustedProxies = List.copyOf(trustedProxies);
        positive(idleTimeout, "http.idleTimeoutSeconds");
        positive(headerTimeout, "http.headerTimeoutSeconds");
        if (maxBodyBytes <= 0) {
            throw new IllegalArgumentException("http.maxBodyBytes must be positive, got " + maxBodyBytes);
        }
        if (maxTuningBodyBytes <= 0) {
            throw new IllegalArgumentException("http.maxTuningBodyBytes must be positive, got " + maxTuningBodyBytes);
        }
    }

    public static HttpSettings defaults() {
        return new HttpSettings(null, null, List.of(), DEFAULT_IDLE_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
                DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_TUNING_BODY_BYTES);
    }

    public HttpSettings withPublicBaseUrl(String url) {
        return new HttpSettings(url, tls, trustedProxies, idleTimeout, headerTimeout, maxBodyBytes, maxTuningBodyBytes);
    }

    public HttpSettings withTls(TlsSettings t) {
        return new HttpSettings(publicBaseUrl, t, trustedProxies, idleTimeout, headerTimeout, maxBodyBytes, maxTuningBodyBytes);
    }

    public HttpSettings withTrustedProxies(List<IpRange> proxies) {
        return new HttpSettings(publicBaseUrl, tls, proxies, idleTimeout, headerTimeout, maxBodyBytes, maxTuningBodyBytes);
    }

    public HttpSettings withTimeouts(Duration idle, Duration header) {
        return new HttpSettings(publicBaseUrl, tls, trustedProxies, idle, header, maxBodyBytes, maxTuningBodyBytes);
    }

    public HttpSettings withBodyLimits(long maxBody, long maxTuningBody) {
        return new HttpSettings(publicBaseUrl, tls, trustedProxies, idleTimeout, headerTimeout, maxBody, maxTuningBody);
    }

    public boolean servesTls() {
        return tls != null;
    }

    /**
     * Reads {@code {"publicBaseUrl", "tls": {...}, "trustedProxies": ["10.0.0.0/8", ...], "idleTimeoutSeconds",
     * "headerTimeoutSeconds", "maxBodyBytes", "maxTuningBodyBytes"}} (a missing node: the defaults); paths are
     * resolved against {@code dir}; {@code env} may hold the keystore password.
     */
    static HttpSettings read(JsonNode http, Path dir, Map<String, String> env) {
        if (http.isMissingNode() || http.isNull()) {
            return defaults();
        }
        if (!http.isObject()) {
            throw new IllegalArgumentException("http must be an object");
        }
        http.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("http has an unknown key '" + k + "' (" + String.join(", ", KEYS) + ")");
            }
        });
        HttpSettings d = defaults();
        JsonNode url = http.path("publicBaseUrl");
        if (!url.isMissingNode() && !url.isNull() && !url.isTextual()) {
            throw new IllegalArgumentException("http.publicBaseUrl must be a string");
        }
        return new HttpSettings(url.isTextual() ? url.asText() : null,
                http.hasNonNull("tls") ? TlsSettings.read(http.get("tls"), dir, env) : null,
                trustedProxies(http.path("trustedProxies")),
                seconds(http, "idleTimeoutSeconds", d.idleTimeout()),
                seconds(http, "headerTimeoutSeconds", d.headerTimeout()),
                bytes(http, "maxBodyBytes", d.maxBodyBytes()),
                bytes(http, "maxTuningBodyBytes", d.maxTuningBodyBytes()));
    }

    private static List<IpRange> trustedProxies(JsonNode list) {
        if (list.isMissingNode() || list.isNull()) {
            return List.of();
        }
        if (!list.isArray()) {
            throw new IllegalArgumentException("http.trustedProxies must be a list of IP addresses or CIDR ranges");
        }
        List<IpRange> ranges = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!list.get(i).isTextual()) {
                throw new IllegalArgumentException("http.trustedProxies[" + i + "] must be a string");
            }
            try {
                ranges.add(IpRange.parse(list.get(i).asText()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("http.trustedProxies[" + i + "]: " + e.getMessage());
            }
        }
        return ranges;
    }

    private static Duration seconds(JsonNode http, String key, Duration fallback) {
        JsonNode v = http.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isNumber() || v.asDouble() <= 0 || v.asDouble() > 86_400) {
            throw new IllegalArgumentException("http." + key + " must be a number of seconds above 0 (at most 86400), got " + v);
        }
        return Duration.ofMillis(Math.max(1, Math.round(v.asDouble() * 1000)));
    }

    private static long bytes(JsonNode http, String key, long fallback) {
        JsonNode v = http.get(key);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() <= 0) {
            throw new IllegalArgumentException("http." + key + " must be a whole number of bytes above 0, got " + v);
        }
        return v.asLong();
    }

    private static void positive(Duration d, String key) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(key + " must be above 0, got " + d);
        }
    }
}
