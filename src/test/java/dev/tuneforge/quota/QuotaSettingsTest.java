package dev.tuneforge.quota;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QuotaSettingsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static QuotaSettings read(String json) throws Exception {
        return QuotaSettings.read(JSON.readTree(json));
    }

    @Test
    void aProjectOverridesSomeLimitsAndKeepsTheOthers() throws Exception {
        QuotaSettings s = read("{\"storedTunedModels\": 10, \"projects\": {\"team-a\": {\"trainingTokensPerJob\": 5}}}");
        assertEquals(10, s.limitsOf("anyone").storedTunedModels());
        assertEquals(QuotaSettings.Limits.defaults().trainingTokensPerJob(), s.limitsOf("anyone").trainingTokensPerJob());
        assertEquals(5, s.limitsOf("team-a").trainingTokensPerJob());
        assertEquals(10, s.limitsOf("team-a").storedTunedModels(), "an override starts from the configured defaults");
        assertEquals(QuotaSettings.defaults(), QuotaSettings.read(JSON.missingNode()));
    }

    @Test
    void mistakesNameTheKey() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> read("{\"storedTunedModel\": 3}")).getMessage()
                .contains("quotas.storedTunedModel is not a quota"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> read("{\"projects\": {\"p\": {\"tuningJobsInProgress\": 0}}}"))
                .getMessage().contains("quotas.projects.p.tuningJobsInProgress must be at least 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> read("{\"generateContentRequestsPerMinute\": \"many\"}"))
                .getMessage().contains("quotas.generateContentRequestsPerMinute must be a whole number"));
    }

    @Test
    void theRateWindowSlidesAndSaysHowLongToWait() {
        AtomicLong now = new AtomicLong(0);
        RequestRate rate = new RequestRate(now::get);
        assertNull(rate.admit("p", 2));
        now.addAndGet(Duration.ofSeconds(20).toNanos());
        assertNull(rate.admit("p", 2));
        assertEquals(Duration.ofSeconds(40), rate.admit("p", 2), "the first leaves the window 60 s after it came");
        assertNull(rate.admit("q", 2), "another project has its own window");
        now.addAndGet(Duration.ofSeconds(40).toNanos());
        assertNull(rate.admit("p", 2));
        assertEquals(Duration.ofSeconds(20), rate.admit("p", 2));
    }
}
