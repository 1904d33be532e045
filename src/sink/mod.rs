//! Sinks: where findings go — stdout and files ([`WriterSink`], sync, for `replay` and the
//! Lambda's own logs), an SNS topic ([`SnsSink`]) and a SIEM log group ([`SiemSink`]), both
//! async because they call AWS. The engine produces findings and never does I/O itself
//! (DESIGN.md §2); a sink is the only place a finding leaves the process.
//!
//! The AWS sinks retry ([`retry`]) and remember what they delivered ([`sent`]), so a failed
//! invocation can fail loudly and its retry does not deliver twice.

pub mod retry;
pub mod sent;
pub mod siem;
pub mod sns;
mod writer;

pub use retry::RetryPolicy;
pub use sent::SentLog;
pub use siem::{SiemRecord, SiemReport, SiemSink};
pub use sns::{SnsReport, SnsSink};
pub use writer::{FindingFormat, WriterSink};

use crate::finding::Finding;

/// Why a sink could not deliver.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing failed.
    #[error("{sink}: {source}")]
    Io {
        /// Sink name.
        sink: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The destination refused the findings after retries.
    #[error("{sink}: {reason}")]
    Rejected {
        /// Sink name.
        sink: &'static str,
        /// Why.
        reason: String,
    },
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

/// A destination for findings.
///
/// `send` may be called many times per run with a batch each; `flush` is called once at the
/// end. A sink that fails returns an error: callers decide whether the run (or the Lambda
/// invocation) fails, so nothing is lost silently.
pub trait Sink {
    /// A short name for errors and logs.
    fn name(&self) -> &'static str;
    /// Deliver a batch of findings.
    fn send(&mut self, findings: &[Finding]) -> Result<(), SinkError>;
    /// Deliver anything buffered.
    fn flush(&mut self) -> Result<(), SinkError>;
}
