package dev.tuneforge.api;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.UnrecoverableKeyException;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server's key and certificate chain as a KeyStore for Jetty, from PEM files or a PKCS#12 keystore. Every failure
 * is an IllegalArgumentException naming the setting and the file: a missing or unreadable file, no certificate or
 * key in it, a key of another format or not the certificate's, a wrong password.
 */
final class TlsKeyStores {
    private static final Logger LOG = LoggerFactory.getLogger(TlsKeyStores.class);
    private static final Pattern PEM_BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

    /** A key store and the password of its key. */
    record Loaded(KeyStore keyStore, String password) {
    }

    private TlsKeyStores() {
    }

    static Loaded load(TlsSettings tls) {
        Loaded loaded = tls.isPem() ? fromPem(tls.certificateChain(), tls.privateKey())
                : fromPkcs12(tls.keystore(), tls.keystorePassword());
        warnIfNotValidNow(loaded);
        return loaded;
    }

    private static Loaded fromPem(Path chainFile, Path keyFile) {
        List<X509Certificate> chain = certificates(chainFile);
        X509Certificate leaf = chain.get(0);
        PrivateKey key = privateKey(keyFile, leaf.getPublicKey().getAlgorithm());
        if (!matches(key, leaf)) {
            throw new IllegalArgumentException(TlsSettings.PRIVATE_KEY + ": the key in " + keyFile + " is not the key of the "
                    + "first certificate in " + chainFile + " (" + TlsSettings.CERTIFICATE_CHAIN + " starts with the "
                    + "server's own certificate, then its intermediates)");
        }
        try {
            byte[] random = new byte[18];
            new SecureRandom().nextBytes(random);
            String password = Base64.getEncoder().encodeToString(random);
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("tuneforge", key, password.toCharArray(), chain.toArray(Certificate[]::new));
            return new Loaded(store, password);
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot hold the TLS key in memory", e);
        }
    }

    private static List<X509Certificate> certificates(Path file) {
        List<X509Certificate> chain = new ArrayList<>();
        try {
            CertificateFactory factory = CertificateFactory.getInstance("X.509");
            for (PemBlock block : pemBlocks(read(file, TlsSettings.CERTIFICATE_CHAIN), file, TlsSettings.CERTIFICATE_CHAIN)) {
                if (block.label.equals("CERTIFICATE")) {
                    chain.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(block.der)));
                }
            }
        } catch (CertificateException e) {
            throw new IllegalArgumentException(TlsSettings.CERTIFICATE_CHAIN + ": " + file + " holds a certificate that "
                    + "cannot be read: " + e.getMessage());
        }
        if (chain.isEmpty()) {
            throw new IllegalArgumentException(TlsSettings.CERTIFICATE_CHAIN + ": " + file + " has no PEM certificate "
                    + "(-----BEGIN CERTIFICATE-----)");
        }
        return chain;
    }

    private static PrivateKey privateKey(Path file, String algorithm) {
        String convert = "; convert it to an unencrypted PKCS#8 key: openssl pkcs8 -topk8 -nocrypt -in " + file
                + " -out key.pem";
        for (PemBlock block : pemBlocks(read(file, TlsSettings.PRIVATE_KEY), file, TlsSettings.PRIVATE_KEY)) {
            switch (block.label) {
                case "PRIVATE KEY" -> {
                    try {
                        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(block.der));
                    } catch (GeneralSecurityException e) {
                        throw new IllegalArgumentException(TlsSettings.PRIVATE_KEY + ": " + file + " is not a PKCS#8 "
                                + algorithm + " key, as the certificate's key is (" + e.getMessage() + ")");
                    }
                }
                case "ENCRYPTED PRIVATE KEY" -> throw new IllegalArgumentException(TlsSettings.PRIVATE_KEY + ": " + file
                        + " is encrypted; give the key unencrypted (openssl pkcs8 -in " + file + " -out key.pem), readable "
                        + "by the server's user only, or use a PKCS#12 keystore with a password");
                case "RSA PRIVATE KEY", "EC PRIVATE KEY" -> throw new IllegalArgumentException(TlsSettings.PRIVATE_KEY
                        + ": " + file + " is a " + block.label + " (PKCS#1/SEC1), not PKCS#8" + convert);
                default -> {
                }
            }
        }
        throw new IllegalArgumentException(TlsSettings.PRIVATE_KEY + ": " + file + " has no PEM private key "
                + "(-----BEGIN PRIVATE KEY-----)");
    }

    /** Whether {@code key} signs what the certificate's public key verifies (RSA, EC, EdDSA; others are not checked). */
    private static boolean matches(PrivateKey key, X509Certificate certificate) {
        String algorithm = switch (key.getAlgorithm()) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519", "Ed448" -> "EdDSA";
            default -> null;
        };
        if (algorithm == null) {
            return true;
        }
        try {
            byte[] probe = "tuneforge".getBytes(StandardCharsets.US_ASCII);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(key);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(certificate.getPublicKey());
            verifier.update(probe);
            return verifier.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private static Loaded fromPkcs12(Path file, String password) {
        KeyStore store;
        try (InputStream in = Files.newInputStream(file)) {
            store = KeyStore.getInstance("PKCS12");
            store.load(in, password.toCharArray());
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " cannot be read (permission denied)");
        } catch (IOException e) {
            if (e.getCause() instanceof UnrecoverableKeyException) {
                throw new IllegalArgumentException(TlsSettings.KEYSTORE_PASSWORD + ": wrong password for the keystore "
                        + file);
            }
            throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " is not a PKCS#12 keystore ("
                    + e.getMessage() + ")");
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " cannot be read: " + e.getMessage());
        }
        try {
            boolean hasKey = false;
            for (String alias : Collections.list(store.aliases())) {
                if (store.isKeyEntry(alias)) {
                    store.getKey(alias, password.toCharArray());
                    hasKey = true;
                }
            }
            if (!hasKey) {
                throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " holds no private key");
            }
        } catch (UnrecoverableKeyException e) {
            throw new IllegalArgumentException(TlsSettings.KEYSTORE_PASSWORD + ": the key in " + file + " has another "
                    + "password than the keystore; give it the keystore's");
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException(TlsSettings.KEYSTORE + ": " + file + " cannot be read: " + e.getMessage());
        }
        return new Loaded(store, password);
    }

    private static void warnIfNotValidNow(Loaded loaded) {
        try {
            for (String alias : Collections.list(loaded.keyStore().aliases())) {
                if (loaded.keyStore().getCertificate(alias) instanceof X509Certificate c) {
                    try {
                        c.checkValidity();
                    } catch (CertificateExpiredException | CertificateNotYetValidException e) {
                        LOG.warn("the TLS certificate {} is valid from {} to {} only: clients will refuse it",
                                c.getSubjectX500Principal(), c.getNotBefore(), c.getNotAfter());
                    }
                }
            }
        } catch (GeneralSecurityException e) {
            LOG.debug("cannot check the TLS certificate's validity", e);
        }
    }

    private record PemBlock(String label, byte[] der) {
    }

    private static List<PemBlock> pemBlocks(String text, Path file, String setting) {
        List<PemBlock> blocks = new ArrayList<>();
        Matcher m = PEM_BLOCK.matcher(text);
        while (m.find()) {
            try {
                blocks.add(new PemBlock(m.group(1), Base64.getMimeDecoder().decode(m.group(2).trim())));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(setting + ": " + file + " has a " + m.group(1) + " block that is "
                        + "not Base64");
            }
        }
        return blocks;
    }

    private static String read(Path file, String setting) {
        try {
            return Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(setting + ": " + file + " does not exist");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException(setting + ": " + file + " cannot be read (permission denied)");
        } catch (IOException e) {
            throw new IllegalArgumentException(setting + ": " + file + " cannot be read: " + e.getMessage());
        }
    }
}
