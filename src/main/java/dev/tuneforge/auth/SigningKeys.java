package dev.tuneforge.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * The RSA keys that sign access tokens, in {@code DATA/keys/signing-keys.json} (owner-only permissions):
 * generated on first start; {@link #rotate} puts a new key first (it signs from then on) and keeps the older
 * ones published so tokens they signed stay valid until they expire. A running server sees a rotation on its
 * next token operation.
 */
public final class SigningKeys {
    private static final int KEEP = 3;
    private final Path file;
    private volatile JWKSet keys;
    private volatile FileTime loadedAt;

    public SigningKeys(Path dataDir) {
        this.file = dataDir.resolve("keys").resolve("signing-keys.json");
        synchronized (SigningKeys.class) {
            if (!Files.exists(file)) {
                write(new JWKSet(List.of(generate())));
            }
        }
        reloadIfChanged();
    }

    /** The key that signs new tokens. */
    public RSAKey current() {
        reloadIfChanged();
        return (RSAKey) keys.getKeys().get(0);
    }

    /** Public keys, for the JWKS endpoint and for verification. */
    public JWKSet publicKeys() {
        reloadIfChanged();
        return keys.toPublicJWKSet();
    }

    /** Adds a new signing key; keeps the last {@value #KEEP} for verification. */
    public synchronized void rotate() {
        reloadIfChanged();
        List<JWK> list = new ArrayList<>();
        list.add(generate());
        list.addAll(keys.getKeys());
        write(new JWKSet(list.subList(0, Math.min(KEEP, list.size()))));
        reloadIfChanged();
    }

    private void reloadIfChanged() {
        try {
            FileTime modified = Files.getLastModifiedTime(file);
            if (keys == null || !modified.equals(loadedAt)) {
                synchronized (this) {
                    keys = JWKSet.load(file.toFile());
                    loadedAt = modified;
                }
            }
        } catch (IOException | ParseException e) {
            throw new IllegalStateException("cannot read signing keys " + file + ": " + e.getMessage(), e);
        }
    }

    private static RSAKey generate() {
        try {
            return new RSAKeyGenerator(2048).keyID(UUID.randomUUID().toString()).keyUse(KeyUse.SIGNATURE)
                    .algorithm(JWSAlgorithm.RS256).generate();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private void write(JWKSet set) {
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), "signing-keys", ".tmp");
            try {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-------"));
            } catch (UnsupportedOperationException ignored) {
                // non-POSIX file systems keep their default permissions
            }
            Files.writeString(tmp, set.toString(false));
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }
}
