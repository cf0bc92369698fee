package dev.tuneforge.quota;

/**
 * Tuneforge's quotas as Google's quota system names them: a metric ({@code generativelanguage.googleapis.com/...})
 * and a limit on it; the config key that sets it is in every message.
 */
enum Quota {
    GENERATE_CONTENT_REQUESTS("generativelanguage.googleapis.com/generate_content_requests",
            "GenerateContentRequestsPerMinutePerProject", QuotaSettings.GENERATE_PER_MINUTE, true),
    TUNING_JOBS_IN_PROGRESS("generativelanguage.googleapis.com/tuning_jobs_in_progress",
            "TuningJobsInProgressPerProject", QuotaSettings.JOBS_IN_PROGRESS, false),
    STORED_TUNED_MODELS("generativelanguage.googleapis.com/tuned_models", "TunedModelsPerProject",
            QuotaSettings.STORED_MODELS, false),
    TRAINING_TOKENS_PER_JOB("generativelanguage.googleapis.com/training_tokens", "TrainingTokensPerTuningJob",
            QuotaSettings.TRAINING_TOKENS, false);

    private final String metric;
    private final String limitName;
    private final String configKey;
    private final boolean rate;

    Quota(String metric, String limitName, String configKey, boolean rate) {
        this.metric = metric;
        this.limitName = limitName;
        this.configKey = configKey;
        this.rate = rate;
    }

    String metric() {
        return metric;
    }

    String limitName() {
        return limitName;
    }

    /** The key under {@code quotas} (or {@code quotas.projects.P}) that sets it. */
    String configKey() {
        return "quotas." + configKey;
    }

    /** A rate (requests over time) rather than an amount. */
    boolean rate() {
        return rate;
    }
}
