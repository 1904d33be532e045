//! Sinks: where findings go (stdout and files now; SNS and the SIEM log group in the Lambda
//! functions). The engine produces findings and never does I/O itself (DESIGN.md §2); a sink is
//! the only place a finding leaves the process.

mod writer;

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
