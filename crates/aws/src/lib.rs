//! laneguard's AWS adapters: everything that calls an AWS API, kept out of the engine.
//!
//! The engine (`laneguard-core`) turns log records into findings and never does I/O; this crate
//! is where findings and records cross the network:
//! - [`sdk`] — one SDK configuration for every client: region, credentials and endpoint from the
//!   environment (`AWS_ENDPOINT_URL` is how the tests point it at moto), laneguard's retry policy
//!   and timeouts that fail a hung call well inside a Lambda timeout;
//! - [`sns`] — the alert sink ([`SnsSink`]: `PublishBatch`, filter-policy attributes, FIFO
//!   deduplication, never shadow findings);
//! - [`siem`] — the SIEM sink ([`SiemSink`]: OCSF records to a log group with `PutLogEvents`
//!   within its limits);
//! - [`logs`] — reading a log group through `FilterLogEvents` for `laneguard replay --log-group`;
//! - [`kms`] — the data keys of encrypted Database Activity Streams records (KMS `Decrypt` with
//!   the RDS encryption context, failures classified as retryable or not);
//! - [`s3`] — S3 objects and the configuration bundle; [`state`] — threshold windows shared by
//!   containers in DynamoDB; `redrive` (feature `redrive`) — the on-failure queue;
//! - [`fit`] — a record over a destination's size limit kept whole, its longest strings cut;
//! - [`retry`] and [`sent`] — the backoff policy and the bounded per-container record of what was
//!   delivered, so a failed invocation fails loudly and its retry does not deliver twice.

pub mod fit;
pub mod kms;
pub mod logs;
#[cfg(feature = "redrive")]
pub mod redrive;
pub mod retry;
pub mod s3;
pub mod sdk;
pub mod sent;
pub mod sequences;
pub mod siem;
pub mod sns;
pub mod state;

pub use retry::RetryPolicy;
pub use sent::SentLog;
pub use siem::{SiemRecord, SiemReport, SiemSink};
pub use sns::{SnsReport, SnsSink};

/// Why findings or records could not be delivered to an AWS destination (after retries). Each
/// variant names the destination an operator has to look at.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Findings could not be published to an SNS topic.
    #[error("SNS topic {topic_arn}: {reason} (rules: {})", rule_ids.join(", "))]
    Sns {
        /// The topic.
        topic_arn: String,
        /// Rules of the findings not published.
        rule_ids: Vec<String>,
        /// Why.
        reason: String,
    },
    /// Records could not be written to a CloudWatch Logs group.
    #[error("CloudWatch Logs group {log_group} (stream {log_stream}): {reason}")]
    CloudWatchLogs {
        /// The log group.
        log_group: String,
        /// The log stream.
        log_stream: String,
        /// Why.
        reason: String,
    },
}

/// The SDK crates laneguard builds its clients from, re-exported so adapters (the CLI, the
/// Lambda crate) use exactly these versions and features.
pub use {aws_config, aws_sdk_cloudwatchlogs, aws_sdk_dynamodb, aws_sdk_kms, aws_sdk_s3, aws_sdk_sns};
