package dev.tuneforge.tuning;

import java.time.Duration;
import java.util.Map;

/**
 * What an error's {@code details} say, as Google's {@code google.rpc} error details: machine-readable facts a client
 * can branch on, beside the message meant for people. The API renders them (GoogleError); nothing else does.
 */
public sealed interface ErrorDetail {
    /**
     * {@code google.rpc.ErrorInfo} in the {@code googleapis.com} domain: a reason from Google's
     * {@code google.api.ErrorReason} (e.g. {@code API_KEY_INVALID}) and facts about it ({@code consumer},
     * {@code quota_limit}, ...); the API adds {@code service} and, where Google does, {@code method}.
     */
    record ErrorInfo(String reason, Map<String, String> metadata) implements ErrorDetail {
        public ErrorInfo {
            metadata = Map.copyOf(metadata);
        }
    }

    /**
     * A {@code google.rpc.BadRequest} field violation: the request field at fault (a path as the messages spell it,
     * e.g. {@code tuning_task.training_data.examples.examples[3].text_input}; null when no one field is) and why.
     */
    record FieldViolation(String field, String description) implements ErrorDetail {
    }

    /**
     * A {@code google.rpc.QuotaFailure} violation: whose quota ({@code projects/P}), which limit ({@code quotaId},
     * the configuration key), its metric and configured value, and what happened.
     */
    record QuotaViolation(String subject, String quotaId, String quotaMetric, long quotaValue, String description)
            implements ErrorDetail {
    }

    /** {@code google.rpc.RetryInfo}: the request may succeed if sent again after {@code delay}. */
    record RetryInfo(Duration delay) implements ErrorDetail {
        /** The delay in whole seconds, rounded up (at least 1), as {@code retryDelay} and {@code Retry-After} give it. */
        public long seconds() {
            return Math.max(1, (delay.toMillis() + 999) / 1000);
        }
    }
}
