//! Encrypted Database Activity Streams records, and how they are opened.
//!
//! On the Kinesis stream `aws-rds-das-<resource id>` every record is
//! `{"type":"DatabaseActivityMonitoringRecords","version":"1.x","databaseActivityEvents":
//! "<base64 AWS Encryption SDK message>","key":"<base64 KMS ciphertext of the data key>"}`.
//! Opening one takes three steps, each bounded:
//!
//! 1. the data key: KMS `Decrypt` of `key` with the encryption context RDS used —
//!    `{"aws:rds:dbc-id": "cluster-…"}` for an Aurora cluster's stream, `{"aws:rds:db-id":
//!    "db-…"}` for an instance's. That call is I/O, so the engine never makes it: the caller
//!    hands the pipeline a [`DataKeys`] (the Lambda function resolves a batch's keys before the
//!    run, `laneguard replay --kms` asks KMS as records come). [`KeyCache`] keeps decrypted keys
//!    per (ciphertext, context), bounded, so a batch costs one KMS call per distinct key;
//! 2. the message: [`laneguard_esdk`], laneguard's decrypt-only reader of the AWS Encryption
//!    SDK format (raw AES keyring `"BC"`/`"DataKey"`, framed or not, ECDSA-P384 signatures
//!    verified; docs/BENCHMARKS.md says why not the official crate), with its size limits;
//! 3. the plaintext: gzip, through the one capped decoder ([`super::decode`]).
//!
//! Every failure names the record (its Kinesis sequence number) and says whether it may pass
//! ([`KeyError::Retry`]: KMS throttling, 5xx) or never will (bad ciphertext, wrong context, not
//! gzip, not JSON): a Lambda reports only the first kind back to Kinesis for redelivery.

use std::fmt;
use std::num::NonZeroUsize;

use lru::LruCache;

use super::decode::{self, DecodeError, Limits};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::event::{Origin, Timestamp};

/// The encryption-context key of an Aurora cluster's stream.
pub const CLUSTER_CONTEXT_KEY: &str = "aws:rds:dbc-id";
/// The encryption-context key of a DB instance's stream.
pub const INSTANCE_CONTEXT_KEY: &str = "aws:rds:db-id";
/// Prefix of an activity stream's Kinesis stream name; the resource id follows.
pub const STREAM_PREFIX: &str = "aws-rds-das-";

/// Which resource an activity stream belongs to, as KMS must be told: a data key decrypts only
/// with the context it was generated with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncryptionContext {
    /// `aws:rds:dbc-id` (cluster) or `aws:rds:db-id` (instance).
    pub key: &'static str,
    /// The resource id (`cluster-…`, `db-…`).
    pub resource_id: Box<str>,
}

impl EncryptionContext {
    /// The context of a resource id: `cluster-…` is a cluster, anything else (`db-…`) an
    /// instance; `None` for an empty id.
    pub fn of_resource(resource_id: &str) -> Option<Self> {
        let id = resource_id.trim();
        if id.is_empty() {
            return None;
        }
        Some(EncryptionContext {
            key: if id.starts_with("cluster-") {
                CLUSTER_CONTEXT_KEY
            } else {
                INSTANCE_CONTEXT_KEY
            },
            resource_id: id.into(),
        })
    }

    /// The context of a Kinesis stream ARN or name (`…:stream/aws-rds-das-cluster-ABC`).
    pub fn of_stream(stream: &str) -> Option<Self> {
        let name = stream.rsplit('/').next().unwrap_or(stream);
        Self::of_resource(name.strip_prefix(STREAM_PREFIX)?)
    }
}

impl fmt::Display for EncryptionContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{:?}: {:?}}}", self.key, self.resource_id)
    }
}

/// An encrypted activity record as it came off the stream, borrowed from the envelope.
#[derive(Clone, Debug)]
pub struct SealedRecord<'a> {
    /// Where the record is (Lambda: the Kinesis `eventID`, `shardId-…:<sequence number>`).
    pub origin: Origin<'a>,
    /// The Kinesis sequence number, when the envelope gives one.
    pub sequence_number: Option<&'a str>,
    /// The Kinesis stream (`eventSourceARN`), which names the resource.
    pub stream: Option<&'a str>,
    /// `version` of the record (`1.0`, `1.1`, `1.2`).
    pub version: Option<&'a str>,
    /// `key`: base64 of the KMS ciphertext of the data key.
    pub key: &'a str,
    /// `databaseActivityEvents`: base64 of the AWS Encryption SDK message.
    pub message: &'a str,
    /// When Kinesis received it (used when an activity record's own time is unreadable).
    pub arrival: Option<Timestamp>,
}

impl SealedRecord<'_> {
    /// `Kinesis record <sequence number>` (or the origin), for messages.
    pub fn name(&self) -> String {
        match self.sequence_number {
            Some(s) => format!("Kinesis record {s}"),
            None => format!("record at {}", self.origin),
        }
    }
}

/// The diagnostic of an encrypted record met where no data keys are available.
pub fn without_keys(record: &SealedRecord<'_>) -> Diagnostic {
    Diagnostic::new(
        DiagnosticKind::Unsupported,
        &record.origin,
        format!(
            "{}: an encrypted Database Activity Streams record; decrypting it needs KMS \
             (`laneguard replay --kms`, or the das function)",
            record.name()
        ),
    )
}

/// What a [`DataKeys`] is asked: the data key of one record.
#[derive(Clone, Copy, Debug)]
pub struct KeyRequest<'r> {
    /// The KMS ciphertext (`key`, base64-decoded).
    pub ciphertext: &'r [u8],
    /// The encryption context from the stream name (or the message header); `None` when
    /// neither names the resource — a [`DataKeys`] may know it from its configuration.
    pub context: Option<&'r EncryptionContext>,
    /// The record.
    pub record: &'r SealedRecord<'r>,
}

/// A 32-byte data key (the raw AES keyring's wrapping key), zeroed when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A key from the bytes KMS returned; `None` unless they are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<DataKey> {
        <[u8; 32]>::try_from(bytes).ok().map(DataKey)
    }

    /// The key bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for DataKey {
    fn from(bytes: [u8; 32]) -> Self {
        DataKey(bytes)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl Drop for DataKey {
    /// Zero the key: a dropped key does not linger in freed memory. (`write_volatile` needs
    /// `unsafe`, which the workspace forbids; `black_box` keeps the store from being elided.)
    fn drop(&mut self) {
        self.0 = [0; 32];
        std::hint::black_box(&mut self.0);
    }
}

/// Why a data key could not be had.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyError {
    /// It may work later (KMS throttling or a 5xx that outlasted the retries): the record should
    /// be delivered again.
    Retry(String),
    /// It never will for this record (wrong encryption context, a ciphertext KMS does not know,
    /// no context at all).
    Refused(String),
    /// Not asked now: an earlier record of the batch must be retried first, and Kinesis
    /// redelivers from it (the record is counted as [`crate::envelope::Skip::Deferred`]).
    Deferred,
}

/// Where the pipeline gets data keys from. The engine does no I/O: the implementation does
/// (KMS through the AWS crate), or holds keys resolved before the run.
pub trait DataKeys {
    /// The data key of `request`'s record.
    fn data_key(&mut self, request: &KeyRequest<'_>) -> Result<DataKey, KeyError>;
}

/// What identifies a data key: its KMS ciphertext and its encryption context.
type CacheKey = (Box<[u8]>, EncryptionContext);

/// Decrypted data keys by (ciphertext, context), least recently used evicted. RDS reuses a
/// data key across many records, so a warm cache makes KMS calls rare; the bound keeps a
/// stream that rotates keys quickly from growing it.
pub struct KeyCache {
    keys: LruCache<CacheKey, DataKey>,
    hits: u64,
    misses: u64,
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.keys.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

/// Default number of data keys a [`KeyCache`] holds.
pub const DEFAULT_KEY_CACHE: usize = 1024;

impl KeyCache {
    /// A cache of at most `capacity` keys (at least one).
    pub fn new(capacity: usize) -> Self {
        KeyCache {
            keys: LruCache::new(NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN)),
            hits: 0,
            misses: 0,
        }
    }

    fn key(ciphertext: &[u8], context: &EncryptionContext) -> CacheKey {
        (ciphertext.into(), context.clone())
    }

    /// The cached key, counting a hit or a miss.
    pub fn get(&mut self, ciphertext: &[u8], context: &EncryptionContext) -> Option<DataKey> {
        let found = self.keys.get(&Self::key(ciphertext, context)).cloned();
        if found.is_some() {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
        found
    }

    /// Whether the key is cached (not counted).
    pub fn contains(&self, ciphertext: &[u8], context: &EncryptionContext) -> bool {
        self.keys.contains(&Self::key(ciphertext, context))
    }

    /// Remember a key.
    pub fn insert(&mut self, ciphertext: &[u8], context: &EncryptionContext, key: DataKey) {
        self.keys.put(Self::key(ciphertext, context), key);
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// No key held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Why a record could not be opened.
#[derive(Debug)]
pub enum OpenError {
    /// `key` or `databaseActivityEvents` is not base64.
    Base64 {
        /// Which field.
        field: &'static str,
    },
    /// The message is larger than the reader's cap (checked before decoding it).
    TooLarge {
        /// Its base64 length.
        len: usize,
    },
    /// No data key.
    Key(KeyError),
    /// The message did not decrypt.
    Esdk(laneguard_esdk::EsdkError),
    /// The plaintext is not gzip, is corrupt, or decompresses past the cap.
    Decompress(DecodeError),
    /// The plaintext is not UTF-8.
    Utf8,
}

impl OpenError {
    /// The diagnostic kind of the failure (`None`: a deferred record, counted as a skip).
    pub fn kind(&self) -> Option<DiagnosticKind> {
        Some(match self {
            OpenError::Base64 { .. } => DiagnosticKind::Base64,
            OpenError::TooLarge { .. } => DiagnosticKind::TooLarge,
            OpenError::Key(KeyError::Deferred) => return None,
            OpenError::Key(_) => DiagnosticKind::Kms,
            OpenError::Esdk(_) => DiagnosticKind::Decrypt,
            OpenError::Decompress(_) => DiagnosticKind::Decompress,
            OpenError::Utf8 => DiagnosticKind::Utf8,
        })
    }

    /// Whether a later attempt may succeed (KMS throttling, 5xx).
    pub fn retryable(&self) -> bool {
        matches!(self, OpenError::Key(KeyError::Retry(_)))
    }
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Base64 { field } => write!(f, "`{field}` is not base64"),
            OpenError::TooLarge { len } => {
                write!(
                    f,
                    "an encrypted message of {len} base64 characters exceeds the reader's cap"
                )
            }
            OpenError::Key(KeyError::Retry(r)) => write!(f, "no data key yet (may pass; retry): {r}"),
            OpenError::Key(KeyError::Refused(r)) => write!(f, "no data key: {r}"),
            OpenError::Key(KeyError::Deferred) => f.write_str("deferred behind an earlier record"),
            OpenError::Esdk(e) => write!(f, "the message does not decrypt ({}): {e}", e.kind()),
            OpenError::Decompress(e) => write!(f, "the decrypted payload: {e}"),
            OpenError::Utf8 => f.write_str("the decrypted payload is not UTF-8"),
        }
    }
}

/// The limits of the encrypted message: a Kinesis record is at most 1 MiB, so the reader's
/// defaults (4 MiB message and plaintext) bound it with room to spare.
fn esdk_limits() -> laneguard_esdk::Limits {
    laneguard_esdk::Limits::default()
}

fn base64(text: &str, field: &'static str, out: &mut Vec<u8>) -> Result<(), OpenError> {
    decode::base64_decode(text, out).map_err(|_| OpenError::Base64 { field })
}

/// What KMS needs for a record's data key: the ciphertext (`key`, decoded) and the encryption
/// context — from the stream name, else from the message header (RDS may name the resource
/// there; it is not trusted: KMS checks the context against the ciphertext).
pub fn key_of(record: &SealedRecord<'_>) -> Result<(Vec<u8>, Option<EncryptionContext>), OpenError> {
    let mut ciphertext = Vec::with_capacity(record.key.len() / 4 * 3);
    base64(record.key, "key", &mut ciphertext)?;
    if let Some(c) = record.stream.and_then(EncryptionContext::of_stream) {
        return Ok((ciphertext, Some(c)));
    }
    let message = decode_message(record)?;
    Ok((ciphertext, header_context(&message)))
}

fn decode_message(record: &SealedRecord<'_>) -> Result<Vec<u8>, OpenError> {
    let max_b64 = esdk_limits().max_message_bytes.div_ceil(3) * 4 + 4;
    if record.message.len() > max_b64 {
        return Err(OpenError::TooLarge {
            len: record.message.len(),
        });
    }
    let mut message = Vec::with_capacity(record.message.len() / 4 * 3);
    base64(record.message, "databaseActivityEvents", &mut message)?;
    Ok(message)
}

/// The resource the (unauthenticated) message header names, if any.
fn header_context(message: &[u8]) -> Option<EncryptionContext> {
    let header = laneguard_esdk::parse_header(message, &esdk_limits()).ok()?;
    [CLUSTER_CONTEXT_KEY, INSTANCE_CONTEXT_KEY]
        .into_iter()
        .find_map(|k| header.context_value(k))
        .and_then(EncryptionContext::of_resource)
}

/// Open a record: its data key from `keys`, the message decrypted and gunzipped (at most
/// `limits.max_document` bytes), as UTF-8 text — the decrypted `DatabaseActivityMonitoringRecord`.
pub fn open(
    record: &SealedRecord<'_>,
    keys: &mut dyn DataKeys,
    limits: &Limits,
) -> Result<String, OpenError> {
    let message = decode_message(record)?;
    let mut ciphertext = Vec::with_capacity(record.key.len() / 4 * 3);
    base64(record.key, "key", &mut ciphertext)?;
    let context = record
        .stream
        .and_then(EncryptionContext::of_stream)
        .or_else(|| header_context(&message));
    let key = keys
        .data_key(&KeyRequest {
            ciphertext: &ciphertext,
            context: context.as_ref(),
            record,
        })
        .map_err(OpenError::Key)?;
    let gz = laneguard_esdk::decrypt(&message, key.bytes(), &esdk_limits()).map_err(OpenError::Esdk)?;
    let mut plain = Vec::new();
    decode::gunzip(&gz, limits.max_document, &mut plain).map_err(OpenError::Decompress)?;
    String::from_utf8(plain).map_err(|_| OpenError::Utf8)
}
