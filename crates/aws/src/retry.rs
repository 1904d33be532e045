//! Retries for the AWS sinks: two layers, stated explicitly.
//!
//! 1. **Whole calls** (`PublishBatch`, `PutLogEvents`, `CreateLogStream`) are retried by the AWS
//!    SDK's *standard* retry strategy, configured in [`crate::sdk::load`]: exponential
//!    backoff with full jitter on throttling errors (`Throttling`, `ThrottlingException`,
//!    `TooManyRequestsException`, …), on transient HTTP statuses (500, 502, 503, 504) and on
//!    I/O errors, up to [`RetryPolicy::max_attempts`] attempts per call.
//! 2. **Entries a successful call refused** (a `PublishBatch` entry in `Failed` with
//!    `SenderFault = false`, i.e. an AWS-side fault, or an entry the answer does not mention)
//!    are retried by the sink itself with [`RetryPolicy::backoff`] — the SDK does not see them
//!    as errors. An entry refused as the sender's fault is never retried: the sink parks it
//!    (see [`crate::sns`]).
//!
//! What still fails after that fails the sink, and the sink fails the invocation.

use std::time::Duration;

/// How often and how patiently a sink retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, first included (the SDK's `max_attempts`, and the sink's own loop).
    pub max_attempts: u32,
    /// First backoff; doubles on every retry.
    pub initial_backoff: Duration,
    /// Cap on one backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1-based): `initial · 2^(retry-1)`, capped, with
    /// full jitter (uniform in `[0, that]`), so retries of many containers spread out.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exp = self
            .initial_backoff
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max_backoff);
        let nanos = exp.as_nanos() as u64;
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(jitter() % (nanos + 1))
    }
}

/// A cheap pseudo-random number (clock nanoseconds and a counter through xxh3): jitter needs
/// spread, not unpredictability.
fn jitter() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    xxhash_rust::xxh3::xxh3_64(&[t.to_le_bytes(), n.to_le_bytes()].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let p = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
        };
        for retry in 1..10 {
            assert!(p.backoff(retry) <= Duration::from_millis(400));
        }
        assert!(p.backoff(1) <= Duration::from_millis(100));
    }
}
