package dev.tuneforge.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * The server's certificate and private key for HTTPS, from the {@code http.tls} object of the config file: PEM
 * files ({@code certificateChain}: the certificate then its intermediates; {@code privateKey}: PKCS#8) or a PKCS#12
 * {@code keystore} with its {@code keystorePassword}, which may instead come from $TUNEFORGE_TLS_KEYSTORE_PASSWORD so
 * that it need not sit in the file. {@link TlsKeyStores} reads them.
 */
public record TlsSettings(Path certificateChain, Path privateKey, Path keystore, String keystorePassword) {
    public static final String KEYSTORE_PASSWORD_ENV = "TUNEFORGE_TLS_KEYSTORE_PASSWORD";
    static final String CERTIFICATE_CHAIN = "http.tls.certificateChain";
    static final String PRIVATE_KEY = "http.tls.privateKey";
    static final String KEYSTORE = "http.tls.keystore";
    static final String KEYSTORE_PASSWORD = "http.tls.keystorePassword";
    private static final Set<String> KEYS = Set.of("certificateChain", "privateKey", "keystore", "keystorePassword");

    public TlsSettings {
        boolean pem = certificateChain != null || privateKey != null;
        if (pem == (keystore != null)) {
            throw new IllegalArgumentException("http.tls needs either certificateChain and privateKey (PEM) or keystore "
                    + "and keystorePassword (PKCS#12), not both");
        }
        if (pem && (certificateChain == null || privateKey == null)) {
            throw new IllegalArgumentException("http.tls needs both certificateChain and privateKey");
        }
        if (keystore != null && keystorePassword == null) {
            throw new IllegalArgumentException(KEYSTORE_PASSWORD + " is not set (nor $" + KEYSTORE_PASSWORD_ENV + ")");
        }
    }

    public static TlsSettings pem(Path certificateChain, Path privateKey) {
        return new TlsSettings(certificateChain, privateKey, null, null);
    }

    public static TlsSettings pkcs12(Path keystore, String password) {
        return new TlsSettings(null, null, keystore, password);
    }

    public boolean isPem() {
        return keystore == null;
    }

    /** Reads {@code http.tls}; relative paths are resolved against {@code dir}, the config file's directory. */
    static TlsSettings read(JsonNode tls, Path dir, Map<String, String> env) {
        if (!tls.isObject()) {
            throw new IllegalArgumentException("http.tls must be an object");
        }
        tls.fieldNames().forEachRemaining(k -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("http.tls has an unknown key '" + k + "' (certificateChain, privateKey, "
                        + "keystore, keystorePassword)");
            }
        });
        String password = tls.has("keystorePassword") ? text(tls, "keystorePassword") : env.get(KEYSTORE_PASSWORD_ENV);
        return new TlsSettings(path(tls, "certificateChain", dir), path(tls, "privateKey", dir),
                path(tls, "keystore", dir), password);
    }

    private static Path path(JsonNode tls, String key, Path dir) {
        String value = text(tls, key);
        return value == null ? null : dir.resolve(value).normalize();
    }

    private static String text(JsonNode tls, String key) {
        JsonNode v = tls.get(key);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("http.tls." + key + " must be a string");
        }
        return v.asText();
    }

    @Override
    public String toString() {
        return isPem() ? "TlsSettings[certificateChain=" + certificateChain + ", privateKey=" + privateKey + "]"
                : "TlsSettings[keystore=" + keystore + ", keystorePassword=(hidden)]";
    }
}
