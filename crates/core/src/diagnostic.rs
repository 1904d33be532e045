//! Diagnostics: every record that could not be read, counted and located, never silently
//! dropped.
//!
//! Parsing never aborts a batch (DESIGN.md §2): a bad record becomes a [`Diagnostic`] with its
//! origin and a reason, and the rest of the batch goes on. Diagnostics are owned because they
//! outlive the batch buffer; they are rare, so the allocation does not matter.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::event::{Origin, OriginBuf};

/// What went wrong, coarse enough to count and alert on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// Could not read the input at all.
    Io,
    /// gzip data was corrupt or truncated, or decompressed past the cap.
    Decompress,
    /// base64 data was invalid.
    Base64,
    /// A JSON document or record was invalid or not of the expected shape.
    Json,
    /// Text was not valid UTF-8 (the record was still read, lossily).
    Utf8,
    /// A record did not have the layout of its source (field count, quoting, prefix).
    Format,
    /// A field had an invalid value (number, address, enum).
    Field,
    /// The timestamp could not be read; the event carries the envelope time or the epoch.
    Timestamp,
    /// A record larger than the record-size limit was skipped.
    TooLarge,
    /// The input is of a kind laneguard does not read (an encrypted activity record without a
    /// way to decrypt it, a digest…).
    Unsupported,
    /// KMS did not return the data key of an encrypted record (wrong encryption context, a key
    /// the role may not use, throttling that outlasted the retries…).
    Kms,
    /// An encrypted record did not decrypt with its data key: wrong key, tampered ciphertext or
    /// signature, truncated message, unknown algorithm suite, a size limit.
    Decrypt,
    /// The source of a record could not be recognised.
    UnknownSource,
}

impl DiagnosticKind {
    /// The name used in summaries and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            DiagnosticKind::Io => "io",
            DiagnosticKind::Decompress => "decompress",
            DiagnosticKind::Base64 => "base64",
            DiagnosticKind::Json => "json",
            DiagnosticKind::Utf8 => "utf8",
            DiagnosticKind::Format => "format",
            DiagnosticKind::Field => "field",
            DiagnosticKind::Timestamp => "timestamp",
            DiagnosticKind::TooLarge => "too_large",
            DiagnosticKind::Unsupported => "unsupported",
            DiagnosticKind::Kms => "kms",
            DiagnosticKind::Decrypt => "decrypt",
            DiagnosticKind::UnknownSource => "unknown_source",
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record (or input) that could not be read as expected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What went wrong.
    pub kind: DiagnosticKind,
    /// Where.
    pub origin: OriginBuf,
    /// Why, in words an operator can act on.
    pub reason: String,
}

impl Diagnostic {
    /// A diagnostic at `origin`.
    pub fn new(kind: DiagnosticKind, origin: &Origin<'_>, reason: impl Into<String>) -> Self {
        Diagnostic {
            kind,
            origin: origin.to_owned_origin(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.kind, self.reason)
    }
}

/// Receives diagnostics as they happen and counts them by kind.
///
/// Keeps the first `keep` diagnostics in full (for reports) and counts all of them, so a file of
/// a million bad lines costs no memory.
#[derive(Debug)]
pub struct Diagnostics {
    counts: BTreeMap<DiagnosticKind, u64>,
    kept: Vec<Diagnostic>,
    keep: usize,
    total: u64,
}

impl Default for Diagnostics {
    fn default() -> Self {
        Diagnostics::new(1000)
    }
}

impl Diagnostics {
    /// A collector that keeps the first `keep` diagnostics in full.
    pub fn new(keep: usize) -> Self {
        Diagnostics {
            counts: BTreeMap::new(),
            kept: Vec::new(),
            keep,
            total: 0,
        }
    }

    /// Record a diagnostic.
    pub fn push(&mut self, d: Diagnostic) {
        tracing::debug!(kind = %d.kind, origin = %d.origin, reason = %d.reason, "bad record");
        *self.counts.entry(d.kind).or_default() += 1;
        self.total += 1;
        if self.kept.len() < self.keep {
            self.kept.push(d);
        }
    }

    /// Record a diagnostic at `origin`.
    pub fn report(&mut self, kind: DiagnosticKind, origin: &Origin<'_>, reason: impl Into<String>) {
        self.push(Diagnostic::new(kind, origin, reason));
    }

    /// Count by kind.
    pub fn counts(&self) -> &BTreeMap<DiagnosticKind, u64> {
        &self.counts
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many diagnostics are kept in full.
    pub fn keep(&self) -> usize {
        self.keep
    }

    /// The diagnostics kept in full (the first ones).
    pub fn kept(&self) -> &[Diagnostic] {
        &self.kept
    }

    /// Take the kept diagnostics, leaving the counts.
    pub fn take_kept(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.kept)
    }
}
