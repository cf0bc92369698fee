package dev.tuneforge.auth;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Ticker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;

/**
 * Brute-force defence of client authentication: failures are counted per client id and per remote address; after
 * {@link Settings#freeFailures} of them that client id or address is blocked — every attempt refused, a right
 * secret too — for {@link Settings#firstBlock}, doubling with each further failure up to {@link Settings#maxBlock}.
 * A success resets both counts; a count is forgotten after {@link Settings#forgetAfter} without a failure.
 *
 * <p>Held in memory, in two maps of at most {@link Settings#maxTracked} entries each. Caffeine evicts by frequency
 * (W-TinyLFU), so an attacker spraying fresh client ids or addresses pushes out one-off entries before the
 * often-hit entries of the client or address under attack. IPv6 addresses count by their /64 prefix, the block
 * one subscriber is usually given.
 */
public final class LoginThrottle {
    private static final Logger LOG = LoggerFactory.getLogger(LoginThrottle.class);
    /** Client ids are at most this long (oauth_clients.client_id); longer values are counted by this prefix. */
    private static final int MAX_KEY = 100;
    private final Settings settings;
    private final Clock clock;
    private final Cache<String, Failures> clients;
    private final Cache<String, Failures> addresses;

    /**
     * How many failures are free ({@code freeFailures}), how long the first block lasts and the longest one,
     * after how long without a failure a count is forgotten, and how many client ids and addresses are tracked.
     */
    public record Settings(int freeFailures, Duration firstBlock, Duration maxBlock, Duration forgetAfter, int maxTracked) {
        public Settings {
            if (freeFailures < 1) {
                throw new IllegalArgumentException("auth.loginThrottle.freeFailures must be at least 1, not " + freeFailures);
            }
            if (firstBlock.isNegative() || firstBlock.isZero()) {
                throw new IllegalArgumentException("auth.loginThrottle.firstBlockSeconds must be positive, not " + firstBlock.toSeconds());
            }
            if (maxBlock.compareTo(firstBlock) < 0) {
                throw new IllegalArgumentException("auth.loginThrottle.maxBlockSeconds (" + maxBlock.toSeconds()
                        + ") must be at least firstBlockSeconds (" + firstBlock.toSeconds() + ")");
            }
            if (forgetAfter.compareTo(maxBlock) < 0) {
                throw new IllegalArgumentException("auth.loginThrottle.forgetAfterSeconds (" + forgetAfter.toSeconds()
                        + ") must be at least maxBlockSeconds (" + maxBlock.toSeconds() + ")");
            }
            if (maxTracked < 1) {
                throw new IllegalArgumentException("auth.loginThrottle.maxTracked must be at least 1, not " + maxTracked);
            }
        }

        /** 5 free failures, then 1 s doubling to 15 min, forgotten after an hour, 50,000 client ids and addresses. */
        public static Settings defaults() {
            return new Settings(5, Duration.ofSeconds(1), Duration.ofMinutes(15), Duration.ofHours(1), 50_000);
        }
    }

    /** A count of failures and the end of the block they started (null: not blocked). */
    private record Failures(int count, Instant blockedUntil) {
    }

    public LoginThrottle(Settings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.clients = cache();
        this.addresses = cache();
    }

    /** How long attempts for this client id or from this address must still wait; empty when neither is blocked. */
    public Optional<Duration> blocked(String clientId, String address) {
        Instant now = clock.instant();
        Duration wait = Duration.ZERO;
        for (Failures f : new Failures[]{clients.getIfPresent(clientKey(clientId)), addresses.getIfPresent(addressKey(address))}) {
            if (f != null && f.blockedUntil() != null && f.blockedUntil().isAfter(now)) {
                Duration left = Duration.between(now, f.blockedUntil());
                wait = left.compareTo(wait) > 0 ? left : wait;
            }
        }
        return wait.isZero() ? Optional.empty() : Optional.of(wait);
    }

    /** Counts a wrong secret (or unknown client id) for both, blocking either once past the free failures. */
    public void failed(String clientId, String address) {
        String shownId = printable(clientId);
        String shownAddress = printable(address);
        Failures byClient = count(clients, clientKey(clientId));
        Failures byAddress = count(addresses, addressKey(address));
        LOG.warn("client authentication failed: client_id={} address={} failures_for_client={} failures_for_address={}",
                shownId, shownAddress, byClient.count(), byAddress.count());
        if (byClient.blockedUntil() != null) {
            LOG.warn("client authentication blocked for client_id={} for {}s after {} failures", shownId,
                    seconds(byClient.blockedUntil()), byClient.count());
        }
        if (byAddress.blockedUntil() != null) {
            LOG.warn("client authentication blocked for address={} for {}s after {} failures", printable(addressKey(address)),
                    seconds(byAddress.blockedUntil()), byAddress.count());
        }
    }

    /** A right secret: both counts start again. */
    public void succeeded(String clientId, String address) {
        clients.invalidate(clientKey(clientId));
        addresses.invalidate(addressKey(address));
    }

    /** How many client ids and addresses are tracked (tests check the bound). */
    long trackedEntries() {
        clients.cleanUp();
        addresses.cleanUp();
        return clients.estimatedSize() + addresses.estimatedSize();
    }

    private Failures count(Cache<String, Failures> cache, String key) {
        Instant now = clock.instant();
        return cache.asMap().compute(key, (k, old) -> {
            int count = old == null ? 1 : old.count() + 1;
            return new Failures(count, count < settings.freeFailures() ? null : now.plus(block(count)));
        });
    }

    /** The block that the {@code count}-th failure starts: the first block, doubled for each failure past the free ones. */
    private Duration block(int count) {
        Duration block = settings.firstBlock();
        for (int doublings = count - settings.freeFailures(); doublings > 0 && block.compareTo(settings.maxBlock()) < 0; doublings--) {
            block = block.multipliedBy(2);
        }
        return block.compareTo(settings.maxBlock()) > 0 ? settings.maxBlock() : block;
    }

    private long seconds(Instant until) {
        return Duration.between(clock.instant(), until).toSeconds();
    }

    private <V> Cache<String, V> cache() {
        Ticker ticker = () -> {
            Instant now = clock.instant();
            return now.getEpochSecond() * 1_000_000_000L + now.getNano();
        };
        // expireAfterWrite: blocked() only reads, so only a new failure keeps a count alive
        return Caffeine.newBuilder().maximumSize(settings.maxTracked()).expireAfterWrite(settings.forgetAfter())
                .ticker(ticker).build();
    }

    private static String clientKey(String clientId) {
        return bounded(clientId);
    }

    private static String bounded(String value) {
        return value.length() <= MAX_KEY ? value : value.substring(0, MAX_KEY);
    }

    /** The address itself, or for IPv6 its /64 prefix. */
    static String addressKey(String address) {
        return bounded(addressOrPrefix(address));
    }

    private static String addressOrPrefix(String address) {
        String literal = address.replaceAll("^\\[|]$|%.*$", "");
        // only hex digits, dots and colons: parsed as a literal, never looked up as a name
        if (literal.indexOf(':') < 0 || !literal.matches("[0-9A-Fa-f:.]+")) {
            return address;
        }
        try {
            byte[] bytes = InetAddress.getByName(literal).getAddress();
            if (bytes.length != 16) {
                return InetAddress.getByAddress(bytes).getHostAddress();
            }
            return InetAddress.getByAddress(Arrays.copyOf(Arrays.copyOf(bytes, 8), 16)).getHostAddress() + "/64";
        } catch (UnknownHostException e) {
            return address;
        }
    }

    /** A client id or address as logged: printable ASCII only (the caller chose it), and not overlong. */
    private static String printable(String value) {
        String shown = bounded(value).replaceAll("[^\\x21-\\x7e]", "?");
        return value.length() > MAX_KEY ? shown + "...(" + value.length() + " chars)" : shown;
    }
}
