//! The AWS SDK configuration shared by every client laneguard builds (the functions' sinks,
//! `replay --log-group`, `replay --sns`).

use std::time::Duration;

use crate::retry::RetryPolicy;

/// The AWS SDK configuration of the functions: region, credentials and endpoint from the
/// environment (as always), plus laneguard's retry policy — the SDK's *standard* strategy
/// (exponential backoff with jitter on throttling, 5xx and I/O errors) with
/// `retry.max_attempts` — and timeouts that fail a hung call well inside a Lambda timeout.
pub async fn load(retry: &RetryPolicy) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(sdk_retry_config(retry))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

/// The SDK retry configuration for `retry` (also used by tests that build their own config).
pub fn sdk_retry_config(retry: &RetryPolicy) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(retry.max_attempts)
        .with_initial_backoff(retry.initial_backoff)
        .with_max_backoff(retry.max_backoff)
}
