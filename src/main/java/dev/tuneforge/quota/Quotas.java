package dev.tuneforge.quota;

import dev.tuneforge.tuning.ErrorDetail;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * Enforces the per-project quotas of {@link QuotaSettings}; each refusal is a {@link QuotaExceededException} naming
 * the quota, its value and the config key that sets it.
 */
public final class Quotas {
    private final QuotaSettings settings;
    private final RequestRate generateContent;

    public Quotas(QuotaSettings settings) {
        this(settings, System::nanoTime);
    }

    Quotas(QuotaSettings settings, LongSupplier nanoTime) {
        this.settings = settings;
        this.generateContent = new RequestRate(nanoTime);
    }

    /** Counts a generateContent (or streamGenerateContent) request of {@code project}, or refuses it. */
    public void chargeGenerateContent(String project) {
        long limit = settings.limitsOf(project).generateContentRequestsPerMinute();
        Duration wait = generateContent.admit(project, limit);
        if (wait != null) {
            throw QuotaExceededException.of(Quota.GENERATE_CONTENT_REQUESTS, project, limit, "quota exceeded: project "
                    + project + " may send " + limit + " generateContent requests per minute ("
                    + Quota.GENERATE_CONTENT_REQUESTS.configKey() + "); retry in " + new ErrorDetail.RetryInfo(wait).seconds()
                    + " s", wait);
        }
    }

    /**
     * Admits a new tuning job of {@code project} that trains on {@code trainingTokens}, given the project's
     * {@code tunedModels} and {@code jobsInProgress} before it; or refuses it.
     */
    public void admitTuningJob(String project, long trainingTokens, long tunedModels, long jobsInProgress) {
        QuotaSettings.Limits limits = settings.limitsOf(project);
        if (trainingTokens > limits.trainingTokensPerJob()) {
            throw QuotaExceededException.of(Quota.TRAINING_TOKENS_PER_JOB, project, limits.trainingTokensPerJob(),
                    "quota exceeded: the job would train on " + trainingTokens + " tokens (its examples' tokens times "
                            + "epoch_count); a job of project " + project + " may train on at most "
                            + limits.trainingTokensPerJob() + " (" + Quota.TRAINING_TOKENS_PER_JOB.configKey()
                            + "): use fewer examples or epochs", null);
        }
        if (tunedModels >= limits.storedTunedModels()) {
            throw QuotaExceededException.of(Quota.STORED_TUNED_MODELS, project, limits.storedTunedModels(),
                    "quota exceeded: project " + project + " has " + tunedModels + " tuned models, at most "
                            + limits.storedTunedModels() + " (" + Quota.STORED_TUNED_MODELS.configKey()
                            + "); delete one first", null);
        }
        if (jobsInProgress >= limits.tuningJobsInProgress()) {
            throw QuotaExceededException.of(Quota.TUNING_JOBS_IN_PROGRESS, project, limits.tuningJobsInProgress(),
                    "quota exceeded: project " + project + " has " + jobsInProgress + " tuning jobs in progress, at most "
                            + limits.tuningJobsInProgress() + " (" + Quota.TUNING_JOBS_IN_PROGRESS.configKey()
                            + "); retry when one has finished", null);
        }
    }
}
