package dev.tuneforge.quota;

import dev.tuneforge.tuning.ErrorDetail;
import dev.tuneforge.tuning.ServiceException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A project over one of its quotas: 429 RESOURCE_EXHAUSTED with Google's details — {@code ErrorInfo}
 * ({@code RATE_LIMIT_EXCEEDED} for a rate, {@code RESOURCE_QUOTA_EXCEEDED} for an amount) with the consumer and the
 * limit, a {@code QuotaFailure}, and, when waiting helps and for how long is known, {@code RetryInfo}.
 */
public final class QuotaExceededException extends ServiceException {
    private QuotaExceededException(String message, List<ErrorDetail> details) {
        super(Code.RESOURCE_EXHAUSTED, message, details);
    }

    /** {@code quota} of {@code project} is exceeded; {@code retryAfter} null when no wait is known to help. */
    static QuotaExceededException of(Quota quota, String project, long limit, String message, Duration retryAfter) {
        String consumer = "projects/" + project;
        List<ErrorDetail> details = new ArrayList<>();
        details.add(new ErrorDetail.ErrorInfo(quota.rate() ? "RATE_LIMIT_EXCEEDED" : "RESOURCE_QUOTA_EXCEEDED",
                Map.of("consumer", consumer, "quota_limit", quota.limitName(), "quota_limit_value", Long.toString(limit),
                        "quota_metric", quota.metric())));
        details.add(new ErrorDetail.QuotaViolation(consumer, quota.limitName(), quota.metric(), limit, message));
        if (retryAfter != null) {
            details.add(new ErrorDetail.RetryInfo(retryAfter));
        }
        return new QuotaExceededException(message, details);
    }
}
