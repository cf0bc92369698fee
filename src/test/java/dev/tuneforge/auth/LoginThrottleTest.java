package dev.tuneforge.auth;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The login throttle's arithmetic and memory bound, on a clock the test advances. */
class LoginThrottleTest {
    private final TestClock clock = new TestClock(Instant.parse("2026-01-01T00:00:00Z"));

    private LoginThrottle throttle(int maxTracked) {
        return new LoginThrottle(new LoginThrottle.Settings(5, Duration.ofSeconds(1), Duration.ofSeconds(16),
                Duration.ofHours(1), maxTracked), clock);
    }

    private static void fail(LoginThrottle t, String clientId, String address, int times) {
        for (int i = 0; i < times; i++) {
            t.failed(clientId, address);
        }
    }

    @Test
    void blocksAfterTheFreeFailuresAndDoublesUpToTheCap() {
        LoginThrottle t = throttle(100);
        fail(t, "c", "10.0.0.1", 4);
        assertEquals(Optional.empty(), t.blocked("c", "10.0.0.1"));
        t.failed("c", "10.0.0.1");
        assertEquals(Optional.of(Duration.ofSeconds(1)), t.blocked("c", "10.0.0.1"));
        for (long expected : new long[]{2, 4, 8, 16, 16, 16}) {
            clock.advance(t.blocked("c", "10.0.0.1").orElseThrow());
            assertEquals(Optional.empty(), t.blocked("c", "10.0.0.1"), "the block has run out");
            t.failed("c", "10.0.0.1");
            assertEquals(Optional.of(Duration.ofSeconds(expected)), t.blocked("c", "10.0.0.1"));
        }
    }

    @Test
    void aSuccessStartsBothCountsAgain() {
        LoginThrottle t = throttle(100);
        fail(t, "c", "10.0.0.1", 7);
        clock.advance(Duration.ofSeconds(4));
        t.succeeded("c", "10.0.0.1");
        fail(t, "c", "10.0.0.1", 4);
        assertEquals(Optional.empty(), t.blocked("c", "10.0.0.1"));
        t.failed("c", "10.0.0.1");
        assertEquals(Optional.of(Duration.ofSeconds(1)), t.blocked("c", "10.0.0.1"), "back to the first block");
    }

    @Test
    void countsAreForgottenAfterAQuietPeriod() {
        LoginThrottle t = throttle(100);
        fail(t, "c", "10.0.0.1", 8);
        clock.advance(Duration.ofHours(1).plusSeconds(1));
        fail(t, "c", "10.0.0.1", 4);
        assertEquals(Optional.empty(), t.blocked("c", "10.0.0.1"));
    }

    @Test
    void clientIdsAndAddressesAreCountedApart() {
        LoginThrottle t = throttle(100);
        for (int i = 0; i < 5; i++) {
            t.failed("client-" + i, "10.0.0.1");
        }
        assertTrue(t.blocked("someone-else", "10.0.0.1").isPresent(), "the address is blocked for every client id");
        assertEquals(Optional.empty(), t.blocked("someone-else", "10.0.0.2"));
        for (int i = 0; i < 5; i++) {
            t.failed("victim", "10.0.1." + i);
        }
        assertTrue(t.blocked("victim", "10.0.2.1").isPresent(), "the client id is blocked from every address");
    }

    @Test
    void ipv6AddressesCountByTheirSlash64() {
        assertEquals(LoginThrottle.addressKey("2001:db8:1:2:aaaa::1"), LoginThrottle.addressKey("2001:db8:1:2:bbbb:cccc:dddd:2"));
        assertEquals(LoginThrottle.addressKey("[2001:db8:1:2::1]"), LoginThrottle.addressKey("2001:db8:1:2::9%eth0"));
        assertNotEquals(LoginThrottle.addressKey("2001:db8:1:2::1"), LoginThrottle.addressKey("2001:db8:1:3::1"));
        assertEquals("192.0.2.7", LoginThrottle.addressKey("192.0.2.7"));
        assertEquals("192.0.2.7", LoginThrottle.addressKey("::ffff:192.0.2.7"));
        assertEquals("not-an-address", LoginThrottle.addressKey("not-an-address"));

        LoginThrottle t = throttle(100);
        for (int i = 1; i <= 5; i++) {
            t.failed("c" + i, "2001:db8:1:2::" + i);
        }
        assertTrue(t.blocked("c9", "2001:db8:1:2:ffff::9").isPresent());
        assertEquals(Optional.empty(), t.blocked("c9", "2001:db8:1:3::1"));
    }

    @Test
    void sprayingFreshClientIdsAndAddressesCannotGrowTheMapsOrEvictTheClientUnderAttack() {
        LoginThrottle t = throttle(1000);
        fail(t, "victim", "10.9.9.9", 5);
        for (int i = 0; i < 5_000; i++) {
            t.failed("spray-" + i, "10." + (i >> 16 & 255) + "." + (i >> 8 & 255) + "." + (i & 255));
            t.blocked("victim", "10.9.9.8");
        }
        assertTrue(t.trackedEntries() <= 2 * 1000, "tracked " + t.trackedEntries());
        assertTrue(t.blocked("victim", "10.9.9.8").isPresent(), "the attacked client id is still blocked");
    }

    @Test
    void settingsNameTheFieldThatIsWrong() {
        var e = assertThrows(IllegalArgumentException.class, () -> new LoginThrottle.Settings(0, Duration.ofSeconds(1),
                Duration.ofSeconds(2), Duration.ofSeconds(3), 10));
        assertTrue(e.getMessage().contains("auth.loginThrottle.freeFailures"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new LoginThrottle.Settings(5, Duration.ofSeconds(10),
                Duration.ofSeconds(2), Duration.ofSeconds(3), 10));
        assertTrue(e.getMessage().contains("auth.loginThrottle.maxBlockSeconds"), e.getMessage());
    }
}
