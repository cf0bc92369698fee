package dev.tuneforge.tuning;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;

/**
 * How tuning jobs are shared between processes (the job engine, db-scheduler): a process that runs jobs writes a
 * heartbeat for each every {@code heartbeat}; a job whose holder missed {@code missedHeartbeats} of them in a row is
 * dead and is taken over by another worker, which resumes it from its last checkpoint. Idle workers look for queued
 * jobs every {@code poll}. {@code slots}: how many jobs one process trains at once.
 * <p>
 * Worst case from a worker's death to another one picking its job: heartbeat x missedHeartbeats (the holder's last
 * beat may have been just before it died, so up to one heartbeat less) + 2 x heartbeat (how often workers look for
 * dead jobs) + poll. Training resumes after that plus the restart: the new holder loads the base model and the job's
 * last checkpoint, which takes as long as the model's size and the store make it (not bounded by these settings).
 */
public record JobSettings(Duration heartbeat, int missedHeartbeats, Duration poll, int slots) {
    public JobSettings {
        if (heartbeat.toMillis() < 100) {
            throw new IllegalArgumentException("jobs.heartbeatSeconds must be positive, got " + heartbeat.toSeconds());
        }
        if (missedHeartbeats < 4) {
            // db-scheduler's own lower limit
            throw new IllegalArgumentException("jobs.missedHeartbeats must be at least 4, got " + missedHeartbeats);
        }
        if (poll.toMillis() < 100) {
            throw new IllegalArgumentException("jobs.pollSeconds must be positive, got " + poll.toSeconds());
        }
        if (slots < 0) {
            throw new IllegalArgumentException("tuning slots must not be negative, got " + slots);
        }
    }

    public static JobSettings defaults() {
        return new JobSettings(Duration.ofSeconds(5), 6, Duration.ofSeconds(2), 1);
    }

    /**
     * The worst-case time from a worker's death to another worker picking its job (see the class comment); training
     * resumes after this plus the restart (base model and checkpoint load).
     */
    public Duration worstCaseDetection() {
        return heartbeat.multipliedBy(missedHeartbeats + 2L).plus(poll);
    }

    public JobSettings withSlots(int n) {
        return new JobSettings(heartbeat, missedHeartbeats, poll, n);
    }

    /** The config's {@code "jobs": {"heartbeatSeconds", "missedHeartbeats", "pollSeconds", "slots"}}, each optional. */
    public static JobSettings read(JsonNode jobs) {
        JobSettings d = defaults();
        if (jobs.isMissingNode() || jobs.isNull()) {
            return d;
        }
        if (!jobs.isObject()) {
            throw new IllegalArgumentException("jobs must be an object");
        }
        for (var it = jobs.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!java.util.Set.of("heartbeatSeconds", "missedHeartbeats", "pollSeconds", "slots").contains(key)) {
                throw new IllegalArgumentException("jobs." + key + " is not a setting (heartbeatSeconds, missedHeartbeats, "
                        + "pollSeconds, slots)");
            }
        }
        return new JobSettings(Duration.ofSeconds(whole(jobs, "heartbeatSeconds", d.heartbeat.toSeconds())),
                (int) whole(jobs, "missedHeartbeats", d.missedHeartbeats),
                Duration.ofSeconds(whole(jobs, "pollSeconds", d.poll.toSeconds())), (int) whole(jobs, "slots", d.slots));
    }

    private static long whole(JsonNode parent, String field, long fallback) {
        JsonNode v = parent.path(field);
        if (v.isMissingNode() || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new IllegalArgumentException("jobs." + field + " must be a whole number, not " + v);
        }
        return v.asLong();
    }
}
