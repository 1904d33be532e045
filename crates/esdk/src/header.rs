//! Header parsing (message format versions 1 and 2). Everything is read through a bounds-
//! checked cursor so hostile lengths turn into [`EsdkError::Truncated`] instead of panics, and
//! every count is checked against [`Limits`] before anything is allocated for it.

use crate::{AlgorithmSuite, EsdkError, Limits};

/// Bounds-checked big-endian reader over a byte slice.
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], EsdkError> {
        let end = self.pos.checked_add(n).ok_or(EsdkError::Truncated { what })?;
        let out = self.buf.get(self.pos..end).ok_or(EsdkError::Truncated { what })?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EsdkError> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, EsdkError> {
        Ok(u8::from_be_bytes(self.array::<1>(what)?))
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, EsdkError> {
        Ok(u16::from_be_bytes(self.array::<2>(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, EsdkError> {
        Ok(u32::from_be_bytes(self.array::<4>(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, EsdkError> {
        Ok(u64::from_be_bytes(self.array::<8>(what)?))
    }

    /// A u16 length followed by that many bytes.
    pub(crate) fn vec16(&mut self, what: &'static str) -> Result<&'a [u8], EsdkError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }
}

/// How the message body is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContentType {
    /// Content type 1: one IV, a 64-bit length, the ciphertext and one tag (legacy; the SDKs
    /// still write it when asked for frame length 0).
    NonFramed,
    /// Content type 2: numbered frames of `frame_length` bytes and a final frame.
    Framed,
}

/// One encrypted data key entry of the header, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptedDataKey {
    /// Key provider id ("BC" for Database Activity Streams).
    pub provider_id: Vec<u8>,
    /// Key provider information (raw AES keyring: key name || tag bits || IV length || IV).
    pub provider_info: Vec<u8>,
    /// The wrapped data key (raw AES keyring: encrypted key || 16-byte tag).
    pub ciphertext: Vec<u8>,
}

/// The parsed, NOT yet authenticated, message header.
///
/// Exposed so a consumer can route or log by encryption context (e.g. the RDS resource id)
/// before spending a KMS call; nothing in it may be trusted until [`crate::decrypt`] succeeds,
/// which authenticates the header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// Message format version (1 or 2).
    pub version: u8,
    /// The algorithm suite.
    pub suite: AlgorithmSuite,
    /// Message id (16 bytes in version 1, 32 in version 2).
    pub message_id: Vec<u8>,
    /// Encryption context entries, in wire order (writers sort them by key bytes).
    pub encryption_context: Vec<(String, String)>,
    /// Encrypted data keys, in wire order.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// Body layout.
    pub content_type: ContentType,
    /// Frame length (0 for non-framed bodies).
    pub frame_length: u32,
    /// Total header length in bytes, including the header authentication.
    pub header_len: usize,
}

impl Header {
    /// The value of an encryption-context key, if present (e.g. `aws-crypto-public-key`).
    pub fn context_value(&self, key: &str) -> Option<&str> {
        self.encryption_context
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Borrowed view of an encrypted data key.
pub(crate) struct RawEdk<'a> {
    pub(crate) provider_id: &'a [u8],
    pub(crate) provider_info: &'a [u8],
    pub(crate) ciphertext: &'a [u8],
}

/// Borrowed, fully parsed header, used by decryption.
pub(crate) struct RawHeader<'a> {
    pub(crate) version: u8,
    pub(crate) suite: AlgorithmSuite,
    pub(crate) message_id: &'a [u8],
    /// The "key value pairs" bytes (count || entries), exactly as in the header; empty for an
    /// empty context.
    pub(crate) context_bytes: &'a [u8],
    pub(crate) context: Vec<(&'a str, &'a str)>,
    pub(crate) context_sorted: bool,
    pub(crate) edks: Vec<RawEdk<'a>>,
    pub(crate) content_type: ContentType,
    pub(crate) frame_length: u32,
    pub(crate) commitment: Option<&'a [u8]>,
    /// Header body (everything the header tag authenticates).
    pub(crate) body: &'a [u8],
    pub(crate) auth_iv: [u8; 12],
    pub(crate) auth_tag: [u8; 16],
    /// Offset of the first body byte.
    pub(crate) end: usize,
}

impl RawHeader<'_> {
    pub(crate) fn context_value(&self, key: &str) -> Option<&str> {
        self.context.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    pub(crate) fn to_owned_header(&self) -> Header {
        Header {
            version: self.version,
            suite: self.suite,
            message_id: self.message_id.to_vec(),
            encryption_context: self
                .context
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            encrypted_data_keys: self
                .edks
                .iter()
                .map(|e| EncryptedDataKey {
                    provider_id: e.provider_id.to_vec(),
                    provider_info: e.provider_info.to_vec(),
                    ciphertext: e.ciphertext.to_vec(),
                })
                .collect(),
            content_type: self.content_type,
            frame_length: self.frame_length,
            header_len: self.end,
        }
    }
}

fn limit(limit: &'static str, value: usize, max: usize) -> Result<(), EsdkError> {
    if value > max {
        Err(EsdkError::LimitExceeded {
            limit,
            value: u64::try_from(value).unwrap_or(u64::MAX),
            max: u64::try_from(max).unwrap_or(u64::MAX),
        })
    } else {
        Ok(())
    }
}

pub(crate) fn check_message_size(message: &[u8], limits: &Limits) -> Result<(), EsdkError> {
    limit("message bytes", message.len(), limits.max_message_bytes)
}

/// Encryption-context entries borrowed from the header, in wire order.
type ContextEntries<'a> = Vec<(&'a str, &'a str)>;

fn parse_context<'a>(bytes: &'a [u8], limits: &Limits) -> Result<(ContextEntries<'a>, bool), EsdkError> {
    const BAD: fn(&'static str) -> EsdkError = EsdkError::MalformedEncryptionContext;
    if bytes.is_empty() {
        return Ok((Vec::new(), true));
    }
    let mut c = Cursor::new(bytes);
    let count = c.u16("encryption context count").map_err(|_| BAD("count"))?;
    if count == 0 {
        // The spec requires the whole AAD field to be absent for an empty context.
        return Err(BAD("zero entries in a non-empty context field"));
    }
    limit(
        "encryption context entries",
        usize::from(count),
        limits.max_encryption_context_entries,
    )?;
    let mut out: Vec<(&str, &str)> = Vec::with_capacity(usize::from(count));
    let mut sorted = true;
    for _ in 0..count {
        let k = c
            .vec16("context key")
            .map_err(|_| BAD("entry overruns its length"))?;
        let v = c
            .vec16("context value")
            .map_err(|_| BAD("entry overruns its length"))?;
        let k = core::str::from_utf8(k).map_err(|_| BAD("key is not UTF-8"))?;
        let v = core::str::from_utf8(v).map_err(|_| BAD("value is not UTF-8"))?;
        if let Some((prev, _)) = out.last() {
            if prev.as_bytes() >= k.as_bytes() {
                sorted = false;
            }
        }
        if out.iter().any(|(pk, _)| *pk == k) {
            return Err(BAD("duplicate key"));
        }
        out.push((k, v));
    }
    if c.remaining() != 0 {
        return Err(BAD("bytes after the last entry"));
    }
    Ok((out, sorted))
}

/// Parses the header at the start of `message`, checking structure and limits but not the
/// header authentication tag (that needs the key).
pub(crate) fn parse<'a>(message: &'a [u8], limits: &Limits) -> Result<RawHeader<'a>, EsdkError> {
    check_message_size(message, limits)?;
    let mut c = Cursor::new(message);
    let version = c.u8("version")?;
    if version != 1 && version != 2 {
        return Err(EsdkError::UnsupportedVersion(version));
    }
    if version == 1 {
        let t = c.u8("type")?;
        if t != 0x80 {
            return Err(EsdkError::UnsupportedType(t));
        }
    }
    let suite_id = c.u16("algorithm suite id")?;
    let suite = AlgorithmSuite::from_id(suite_id).ok_or(EsdkError::UnknownSuite(suite_id))?;
    if suite.message_format_version() != version {
        return Err(EsdkError::SuiteVersionMismatch {
            suite: suite_id,
            version,
        });
    }
    let message_id = c.take(if version == 1 { 16 } else { 32 }, "message id")?;

    let aad_len = usize::from(c.u16("encryption context length")?);
    limit(
        "encryption context bytes",
        aad_len,
        limits.max_encryption_context_bytes,
    )?;
    let context_bytes = c.take(aad_len, "encryption context")?;
    let (context, context_sorted) = parse_context(context_bytes, limits)?;

    let edk_count = c.u16("encrypted data key count")?;
    if edk_count == 0 {
        return Err(EsdkError::MalformedHeader("no encrypted data keys"));
    }
    limit(
        "encrypted data keys",
        usize::from(edk_count),
        limits.max_encrypted_data_keys,
    )?;
    let mut edks = Vec::with_capacity(usize::from(edk_count));
    for _ in 0..edk_count {
        let provider_id = c.vec16("key provider id")?;
        let provider_info = c.vec16("key provider info")?;
        let ciphertext = c.vec16("encrypted data key")?;
        edks.push(RawEdk {
            provider_id,
            provider_info,
            ciphertext,
        });
    }

    let content_type = match c.u8("content type")? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        _ => {
            return Err(EsdkError::MalformedHeader("content type is neither 1 nor 2"));
        }
    };
    if version == 1 {
        if c.array::<4>("reserved")? != [0; 4] {
            return Err(EsdkError::MalformedHeader("reserved bytes are not zero"));
        }
        if c.u8("IV length")? != 12 {
            return Err(EsdkError::MalformedHeader("IV length is not 12"));
        }
    }
    let frame_length = c.u32("frame length")?;
    match content_type {
        ContentType::NonFramed if frame_length != 0 => {
            return Err(EsdkError::MalformedHeader(
                "non-framed message with a frame length",
            ));
        }
        ContentType::Framed if frame_length == 0 => {
            return Err(EsdkError::MalformedHeader("framed message with frame length 0"));
        }
        _ => {}
    }
    let commitment = if version == 2 {
        Some(c.take(32, "commitment key")?)
    } else {
        None
    };
    let body_end = c.pos();
    let body = message
        .get(..body_end)
        .ok_or(EsdkError::Truncated { what: "header" })?;
    let auth_iv = if version == 1 {
        c.array::<12>("header IV")?
    } else {
        [0u8; 12]
    };
    let auth_tag = c.array::<16>("header authentication tag")?;
    Ok(RawHeader {
        version,
        suite,
        message_id,
        context_bytes,
        context,
        context_sorted,
        edks,
        content_type,
        frame_length,
        commitment,
        body,
        auth_iv,
        auth_tag,
        end: c.pos(),
    })
}
