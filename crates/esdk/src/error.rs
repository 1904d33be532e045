//! Typed errors: every way a message can be rejected has its own variant, so a caller can
//! count and alert on *why* a Database Activity Streams record failed to open (tampering,
//! truncation by a broken producer, a key mix-up, or a limit hit by hostile input).

/// Why a message could not be parsed or decrypted.
///
/// Each variant maps to a short, stable [`EsdkError::kind`] string, used by the fixtures and
/// suitable as a metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EsdkError {
    /// The message ended before a field was complete (a cut record, or garbage).
    #[error("message truncated while reading {what}")]
    Truncated {
        /// The field that could not be read in full.
        what: &'static str,
    },
    /// Bytes were left after the last field of the message (body end, or footer for signed
    /// suites). The AWS Python SDK ignores such bytes; this reader refuses them so that a
    /// message has exactly one meaning.
    #[error("{extra} unexpected bytes after the end of the message")]
    TrailingData {
        /// How many bytes were left over.
        extra: usize,
    },
    /// The first byte is not a message format version this reader knows (1 or 2).
    #[error("unsupported message format version {0:#04x}")]
    UnsupportedVersion(u8),
    /// A version 1 header whose type byte is not 0x80 (customer authenticated encrypted data).
    #[error("unsupported message type {0:#04x}")]
    UnsupportedType(u8),
    /// The algorithm suite id is not an AWS Encryption SDK suite.
    #[error("unknown algorithm suite {0:#06x}")]
    UnknownSuite(u16),
    /// A valid ESDK suite that this reader deliberately does not implement (0x0214 needs an
    /// ECDSA P-256 verifier; RDS never writes it).
    #[error("algorithm suite {0:#06x} is not supported by this reader")]
    UnsupportedSuite(u16),
    /// The suite belongs to the other message format version (e.g. a committing suite in a
    /// version 1 header).
    #[error("algorithm suite {suite:#06x} is not valid in message format version {version}")]
    SuiteVersionMismatch {
        /// The suite id found in the header.
        suite: u16,
        /// The message format version found in the header.
        version: u8,
    },
    /// A header field has a value the format forbids (reserved bytes, IV length, content
    /// type, frame length).
    #[error("malformed header: {0}")]
    MalformedHeader(&'static str),
    /// The serialized encryption context is inconsistent (lengths, UTF-8, duplicate keys).
    #[error("malformed encryption context: {0}")]
    MalformedEncryptionContext(&'static str),
    /// The body is inconsistent (e.g. a final frame longer than the frame length).
    #[error("malformed body: {0}")]
    MalformedBody(&'static str),
    /// A configured [`crate::Limits`] bound was exceeded; the message was not processed
    /// further.
    #[error("limit exceeded: {limit} is {value}, maximum {max}")]
    LimitExceeded {
        /// Which limit.
        limit: &'static str,
        /// The value found (or about to be reached).
        value: u64,
        /// The configured maximum.
        max: u64,
    },
    /// No encrypted data key has provider id "BC" and key name "DataKey" with the AES-GCM
    /// 12-byte IV / 128-bit tag layout, so the DAS key cannot apply to this message.
    #[error("no encrypted data key for provider \"BC\" / key \"DataKey\"")]
    NoMatchingDataKey,
    /// The "BC"/"DataKey" encrypted data key did not decrypt with the given key (wrong KMS
    /// data key for this record, or a tampered header).
    #[error("the encrypted data key did not decrypt with the supplied key")]
    DataKeyUnwrap,
    /// The unwrapped data key has the wrong length for the message's suite.
    #[error("unwrapped data key is {found} bytes, suite needs {expected}")]
    DataKeyLength {
        /// Bytes the suite requires.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The header authentication tag did not verify: the header was altered.
    #[error("header authentication failed")]
    HeaderAuth,
    /// The commitment key in a version 2 header does not match the one derived from the data
    /// key: the message could decrypt differently under another key.
    #[error("key commitment mismatch")]
    CommitmentMismatch,
    /// A frame (or the non-framed body) failed AES-GCM authentication.
    #[error("body authentication failed at sequence number {sequence}")]
    BodyAuth {
        /// Sequence number of the frame that failed (1 for non-framed bodies).
        sequence: u32,
    },
    /// Frames are out of order, repeated or missing.
    #[error("frame sequence number {found}, expected {expected}")]
    FrameSequence {
        /// The sequence number the reader expected next.
        expected: u32,
        /// The sequence number found.
        found: u32,
    },
    /// A signed suite without the `aws-crypto-public-key` encryption-context entry.
    #[error("signed algorithm suite but no aws-crypto-public-key in the encryption context")]
    MissingPublicKey,
    /// An unsigned suite that nevertheless carries `aws-crypto-public-key` (the AWS
    /// specification requires decryption to fail).
    #[error("unsigned algorithm suite but aws-crypto-public-key is present")]
    UnexpectedPublicKey,
    /// The `aws-crypto-public-key` value is not base64 of a valid compressed P-384 point.
    #[error("invalid aws-crypto-public-key")]
    InvalidPublicKey,
    /// The footer signature is not a DER-encoded ECDSA signature.
    #[error("malformed signature")]
    MalformedSignature,
    /// The ECDSA signature over header and body did not verify.
    #[error("signature verification failed")]
    Signature,
}

impl EsdkError {
    /// A short, stable identifier for the error class (used by the test fixtures' `expect`
    /// field and suitable as a metric label); it never contains message data.
    pub fn kind(&self) -> &'static str {
        match self {
            EsdkError::Truncated { .. } => "truncated",
            EsdkError::TrailingData { .. } => "trailing_data",
            EsdkError::UnsupportedVersion(_) => "unsupported_version",
            EsdkError::UnsupportedType(_) => "unsupported_type",
            EsdkError::UnknownSuite(_) => "unknown_suite",
            EsdkError::UnsupportedSuite(_) => "unsupported_suite",
            EsdkError::SuiteVersionMismatch { .. } => "suite_version_mismatch",
            EsdkError::MalformedHeader(_) => "malformed_header",
            EsdkError::MalformedEncryptionContext(_) => "malformed_encryption_context",
            EsdkError::MalformedBody(_) => "malformed_body",
            EsdkError::LimitExceeded { .. } => "limit_exceeded",
            EsdkError::NoMatchingDataKey => "no_matching_data_key",
            EsdkError::DataKeyUnwrap => "data_key_unwrap",
            EsdkError::DataKeyLength { .. } => "data_key_length",
            EsdkError::HeaderAuth => "header_auth",
            EsdkError::CommitmentMismatch => "commitment_mismatch",
            EsdkError::BodyAuth { .. } => "body_auth",
            EsdkError::FrameSequence { .. } => "frame_sequence",
            EsdkError::MissingPublicKey => "missing_public_key",
            EsdkError::UnexpectedPublicKey => "unexpected_public_key",
            EsdkError::InvalidPublicKey => "invalid_public_key",
            EsdkError::MalformedSignature => "malformed_signature",
            EsdkError::Signature => "signature",
        }
    }
}
