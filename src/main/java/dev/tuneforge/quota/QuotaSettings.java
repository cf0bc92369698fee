package dev.tuneforge.quota;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Per-project limits: those every project gets and, per project, overrides of some of them. Read from the
 * config's {@code quotas} object: {@code {"generateContentRequestsPerMinute": 600, "tuningJobsInProgress": 3,
 * "storedTunedModels": 100, "trainingTokensPerJob": 10000000, "projects": {"team-a": {"storedTunedModels": 500}}}}.
 */
public record QuotaSettings(Limits everyProject, Map<String, Limits> projects) {
    static final String GENERATE_PER_MINUTE = "generateContentRequestsPerMinute";
    static final String JOBS_IN_PROGRESS = "tuningJobsInProgress";
    static final String STORED_MODELS = "storedTunedModels";
    static final String TRAINING_TOKENS = "trainingTokensPerJob";
    private static final Set<String> KEYS = Set.of(GENERATE_PER_MINUTE, JOBS_IN_PROGRESS, STORED_MODELS,
            TRAINING_TOKENS);

    /**
     * One project's limits: {@code generateContent} and {@code streamGenerateContent} requests in any 60 seconds;
     * its tuning jobs not yet finished (training, or waiting for the worker); its tuned models; the tokens one job
     * trains on (every example's tokens as training formats them, times the epochs).
     */
    public record Limits(long generateContentRequestsPerMinute, long tuningJobsInProgress, long storedTunedModels,
                         long trainingTokensPerJob) {
        public Limits {
            positive(GENERATE_PER_MINUTE, generateContentRequestsPerMinute);
            positive(JOBS_IN_PROGRESS, tuningJobsInProgress);
            positive(STORED_MODELS, storedTunedModels);
            positive(TRAINING_TOKENS, trainingTokensPerJob);
        }

        /**
         * 600 requests a minute, 3 jobs in progress, 100 tuned models, 10 million training tokens a job (a day or
         * so of CPU training on a small base; 20,000 examples for 1,000 epochs is far beyond it).
         */
        public static Limits defaults() {
            return new Limits(600, 3, 100, 10_000_000);
        }

        private static void positive(String key, long value) {
            if (value < 1) {
                throw new IllegalArgumentException("quotas." + key + " must be at least 1, got " + value);
            }
        }
    }

    public QuotaSettings {
        projects = Map.copyOf(projects);
    }

    /** The default limits for every project. */
    public static QuotaSettings defaults() {
        return new QuotaSettings(Limits.defaults(), Map.of());
    }

    /** The limits of {@code project}: its overrides, else the defaults. */
    public Limits limitsOf(String project) {
        return projects.getOrDefault(project, everyProject);
    }

    /** The {@code quotas} object of the config (missing: the defaults); errors name the key. */
    public static QuotaSettings read(JsonNode quotas) {
        if (quotas.isMissingNode() || quotas.isNull()) {
            return defaults();
        }
        if (!quotas.isObject()) {
            throw new IllegalArgumentException("quotas must be an object");
        }
        Limits defaults = limits(quotas, "quotas", Limits.defaults(), Set.of("projects"));
        Map<String, Limits> projects = new HashMap<>();
        JsonNode p = quotas.path("projects");
        if (!p.isMissingNode() && !p.isObject()) {
            throw new IllegalArgumentException("quotas.projects must be an object of project ids");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = p.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isObject()) {
                throw new IllegalArgumentException("quotas.projects." + e.getKey() + " must be an object");
            }
            projects.put(e.getKey(), limits(e.getValue(), "quotas.projects." + e.getKey(), defaults, Set.of()));
        }
        return new QuotaSettings(defaults, projects);
    }

    private static Limits limits(JsonNode n, String at, Limits fallback, Set<String> alsoAllowed) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!KEYS.contains(key) && !alsoAllowed.contains(key)) {
                throw new IllegalArgumentException(at + "." + key + " is not a quota (" + String.join(", ",
                        new java.util.TreeSet<>(KEYS)) + ")");
            }
        }
        try {
            return new Limits(number(n, at, GENERATE_PER_MINUTE, fallback.generateContentRequestsPerMinute()),
                    number(n, at, JOBS_IN_PROGRESS, fallback.tuningJobsInProgress()),
                    number(n, at, STORED_MODELS, fallback.storedTunedModels()),
                    number(n, at, TRAINING_TOKENS, fallback.trainingTokensPerJob()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage().replace("quotas.", at + "."), e);
        }
    }

    private static long number(JsonNode n, String at, String key, long fallback) {
        JsonNode v = n.path(key);
        if (v.isMissingNode() || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException(at + "." + key + " must be a whole number, not " + v);
        }
        return v.asLong();
    }
}
