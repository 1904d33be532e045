//! Bounded, decrypt-only reader of AWS Encryption SDK (ESDK) messages, as Aurora/RDS
//! Database Activity Streams (DAS) write them.
//!
//! DAS puts one ESDK message per Kinesis record (`databaseActivityEvents`), encrypted under a
//! per-record data key that the consumer obtains from KMS. The message's own data key is
//! wrapped by that KMS key with the ESDK *raw AES keyring*: provider id `"BC"`, key name
//! `"DataKey"`, AES-256-GCM. This crate implements only what is needed to open such messages
//! — header parsing (format versions 1 and 2), unwrapping the `BC`/`DataKey` encrypted data
//! key, HKDF content-key derivation, key-commitment checking, header authentication, framed and
//! non-framed body decryption and ECDSA P-384 signature verification — on RustCrypto
//! primitives, with no unsafe code and with explicit [`Limits`] on every size an attacker
//! controls.
//!
//! Why not the official `aws-esdk` crate: it is Dafny-generated, pulls the whole AWS SDK, and
//! is ~34x larger and ~25x slower to build, for the one decrypt path DAS consumers need (it
//! verifies a small record's P-384 signature faster, thanks to aws-lc): docs/BENCHMARKS.md,
//! "Decrypting Database Activity Streams".
//!
//! Non-committing suites are accepted because that is what AWS writes (0x0378); committing
//! suites (0x0478, 0x0578) are accepted and their commitment is verified.
//!
//! Note for streaming: this reader holds the whole message and releases plaintext only after
//! every check (including the signature) has passed.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects
    )
)]

mod error;
mod header;
mod suite;

pub use error::EsdkError;
pub use header::{ContentType, EncryptedDataKey, Header};
pub use suite::AlgorithmSuite;

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm, AesGcm};
use hkdf::Hkdf;
use p384::ecdsa::signature::Verifier;
use sha2::{Sha256, Sha384, Sha512};
use suite::{Kdf, Signing};

/// Key provider id RDS uses for the raw AES keyring that wraps the message data key.
pub const DAS_PROVIDER_ID: &[u8] = b"BC";
/// Key name RDS uses for that keyring (the start of the key provider info).
pub const DAS_KEY_NAME: &[u8] = b"DataKey";
/// Encryption-context key holding the base64 compressed ECDSA public key of signed suites.
pub const PUBLIC_KEY_CONTEXT_KEY: &str = "aws-crypto-public-key";

const TAG_LEN: usize = 16;
const IV_LEN: usize = 12;
/// AES-GCM's own bound on one invocation (2^36 - 32 bytes), which the format repeats.
const MAX_GCM_CONTENT: u64 = (1u64 << 36) - 32;
const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;

/// Caps on every quantity a message can make this reader process or allocate.
///
/// The defaults fit Database Activity Streams: a Kinesis record is at most 1 MiB, so a DAS
/// message is well under the 4 MiB default. Raise them (field by field, starting from
/// [`Limits::default`]) only for other producers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted message, in bytes (checked before anything is parsed).
    pub max_message_bytes: usize,
    /// Largest plaintext the reader will produce, in bytes.
    pub max_plaintext_bytes: usize,
    /// Most frames (including the final frame) in a framed body.
    pub max_frames: u32,
    /// Largest serialized encryption context (the header's AAD field), in bytes.
    pub max_encryption_context_bytes: usize,
    /// Most encryption-context entries.
    pub max_encryption_context_entries: usize,
    /// Most encrypted data keys in the header (the AWS SDKs' `max_encrypted_data_keys`; DAS
    /// messages carry exactly one).
    pub max_encrypted_data_keys: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 4 << 20,
            max_plaintext_bytes: 4 << 20,
            max_frames: 65_536,
            max_encryption_context_bytes: 8 << 10,
            max_encryption_context_entries: 64,
            max_encrypted_data_keys: 16,
        }
    }
}

impl Limits {
    /// Limits for a trusted producer with messages up to `bytes` (message and plaintext caps
    /// set to `bytes`, frame cap large enough for 128-byte frames); other caps as default.
    pub fn for_message_size(bytes: usize) -> Self {
        Limits {
            max_message_bytes: bytes,
            max_plaintext_bytes: bytes,
            max_frames: u32::try_from(bytes / 128).unwrap_or(u32::MAX).max(65_536),
            ..Limits::default()
        }
    }
}

/// Parses the message header without any key, so a consumer can inspect the suite and the
/// encryption context (e.g. which RDS resource wrote it) before fetching a data key.
///
/// The result is NOT authenticated; only a successful [`decrypt`] proves the header genuine.
pub fn parse_header(message: &[u8], limits: &Limits) -> Result<Header, EsdkError> {
    header::parse(message, limits).map(|h| h.to_owned_header())
}

/// Decrypts a whole ESDK message written with the raw AES keyring `"BC"`/`"DataKey"`, where
/// `data_key` is the 32-byte key KMS returns for the DAS record's `key` field.
///
/// Verifies, in order: limits and structure, the encrypted data key (AES-256-GCM with the
/// serialized encryption context as AAD), the key commitment (version 2), the header tag,
/// every frame's tag and sequence number, the ECDSA-P384 signature of signed suites, and that
/// no bytes follow. Plaintext is returned only if all of that passes.
pub fn decrypt(message: &[u8], data_key: &[u8; 32], limits: &Limits) -> Result<Vec<u8>, EsdkError> {
    decrypt_with_header(message, data_key, limits).map(|(pt, _)| pt)
}

/// Like [`decrypt`], and also returns the header, which is authenticated once this returns
/// `Ok` (use it to check the encryption context against what the caller expected).
pub fn decrypt_with_header(
    message: &[u8],
    data_key: &[u8; 32],
    limits: &Limits,
) -> Result<(Vec<u8>, Header), EsdkError> {
    let h = header::parse(message, limits)?;
    let suite = h.suite;
    let signing = suite.signing();
    if signing == Some(Signing::EcdsaP256Sha256) {
        return Err(EsdkError::UnsupportedSuite(suite.id()));
    }

    // The verification key is in the (not yet authenticated) context; it is only used after
    // the header tag has been checked, and the signature covers the header anyway.
    let verifying_key = match (signing, h.context_value(PUBLIC_KEY_CONTEXT_KEY)) {
        (Some(_), None) => return Err(EsdkError::MissingPublicKey),
        (None, Some(_)) => return Err(EsdkError::UnexpectedPublicKey),
        (None, None) => None,
        (Some(_), Some(b64)) => {
            let point = base64_decode(b64).ok_or(EsdkError::InvalidPublicKey)?;
            Some(
                p384::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .map_err(|_| EsdkError::InvalidPublicKey)?,
            )
        }
    };

    let plaintext_data_key = unwrap_data_key(&h, data_key)?;
    if plaintext_data_key.len() != suite.key_len() {
        return Err(EsdkError::DataKeyLength {
            expected: suite.key_len(),
            found: plaintext_data_key.len(),
        });
    }
    let content_key = derive_content_key(&h, &plaintext_data_key)?;
    let cipher = ContentCipher::new(&content_key)?;

    // Header authentication: AES-GCM over an empty plaintext, AAD = header body.
    if !cipher.open(&h.auth_iv, h.body, &mut [], &h.auth_tag) {
        return Err(EsdkError::HeaderAuth);
    }

    let mut c = header::Cursor::new(message);
    c.take(h.end, "header")?;
    let plaintext = match h.content_type {
        ContentType::NonFramed => decrypt_non_framed(&h, &cipher, &mut c, limits)?,
        ContentType::Framed => decrypt_framed(&h, &cipher, &mut c, limits)?,
    };
    let body_end = c.pos();

    if let Some(vk) = verifying_key {
        let sig = c.vec16("signature")?;
        let sig = p384::ecdsa::Signature::from_der(sig).map_err(|_| EsdkError::MalformedSignature)?;
        let signed = message
            .get(..body_end)
            .ok_or(EsdkError::Truncated { what: "body" })?;
        vk.verify(signed, &sig).map_err(|_| EsdkError::Signature)?;
    }
    if c.remaining() != 0 {
        return Err(EsdkError::TrailingData { extra: c.remaining() });
    }
    Ok((plaintext, h.to_owned_header()))
}

/// Finds the `BC`/`DataKey` encrypted data key and unwraps it with `wrapping_key`.
fn unwrap_data_key(h: &header::RawHeader<'_>, wrapping_key: &[u8; 32]) -> Result<Vec<u8>, EsdkError> {
    // Raw AES keyring provider info: key name || u32 tag length in bits || u32 IV length || IV.
    let expected_info_len = DAS_KEY_NAME
        .len()
        .checked_add(8 + IV_LEN)
        .ok_or(EsdkError::NoMatchingDataKey)?;
    let aad = serialized_context(h)?;
    let cipher = Aes256Gcm::new(&(*wrapping_key).into());
    let mut tried = false;
    for edk in &h.edks {
        if edk.provider_id != DAS_PROVIDER_ID || edk.provider_info.len() != expected_info_len {
            continue;
        }
        let mut info = header::Cursor::new(edk.provider_info);
        let (Ok(name), Ok(tag_bits), Ok(iv_len), Ok(iv)) = (
            info.take(DAS_KEY_NAME.len(), "key name"),
            info.u32("tag length"),
            info.u32("IV length"),
            info.array::<IV_LEN>("IV"),
        ) else {
            continue;
        };
        if name != DAS_KEY_NAME || tag_bits != 128 || iv_len != 12 {
            continue;
        }
        // Ciphertext: encrypted key || 16-byte tag.
        let Some(split) = edk.ciphertext.len().checked_sub(TAG_LEN) else {
            continue;
        };
        let (Some(ct), Some(tag)) = (edk.ciphertext.get(..split), edk.ciphertext.get(split..)) else {
            continue;
        };
        let Ok(tag) = <[u8; TAG_LEN]>::try_from(tag) else {
            continue;
        };
        tried = true;
        let mut key = ct.to_vec();
        if cipher
            .decrypt_inout_detached(&iv.into(), &aad, key.as_mut_slice().into(), &tag.into())
            .is_ok()
        {
            return Ok(key);
        }
    }
    Err(if tried {
        EsdkError::DataKeyUnwrap
    } else {
        EsdkError::NoMatchingDataKey
    })
}

/// The encryption context serialized as the keyring does it (count || sorted entries),
/// which is what the writer used as AAD when it wrapped the data key. Writers put it in the
/// header already sorted; if a header is not sorted, re-serialize it in sorted order.
fn serialized_context<'a>(h: &header::RawHeader<'a>) -> Result<std::borrow::Cow<'a, [u8]>, EsdkError> {
    if h.context_sorted {
        return Ok(std::borrow::Cow::Borrowed(h.context_bytes));
    }
    let mut entries = h.context.clone();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let too_big = || EsdkError::MalformedEncryptionContext("entry too long");
    let mut out = Vec::with_capacity(h.context_bytes.len());
    out.extend_from_slice(&u16::try_from(entries.len()).map_err(|_| too_big())?.to_be_bytes());
    for (k, v) in entries {
        out.extend_from_slice(&u16::try_from(k.len()).map_err(|_| too_big())?.to_be_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(&u16::try_from(v.len()).map_err(|_| too_big())?.to_be_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// Derives the content key (and checks the commitment for committing suites).
fn derive_content_key(h: &header::RawHeader<'_>, data_key: &[u8]) -> Result<Vec<u8>, EsdkError> {
    let suite = h.suite;
    let mut key = vec![0u8; suite.key_len()];
    let hkdf_err = |_| EsdkError::DataKeyLength {
        expected: suite.key_len(),
        found: data_key.len(),
    };
    let id = suite.id().to_be_bytes();
    match suite.kdf() {
        Kdf::Identity => key.copy_from_slice(data_key),
        Kdf::HkdfSha256 | Kdf::HkdfSha384 => {
            // salt: none (= zeros of hash length); info: suite id || message id
            let mut info = Vec::with_capacity(2usize.saturating_add(h.message_id.len()));
            info.extend_from_slice(&id);
            info.extend_from_slice(h.message_id);
            if suite.kdf() == Kdf::HkdfSha256 {
                Hkdf::<Sha256>::new(None, data_key)
                    .expand(&info, &mut key)
                    .map_err(hkdf_err)?;
            } else {
                Hkdf::<Sha384>::new(None, data_key)
                    .expand(&info, &mut key)
                    .map_err(hkdf_err)?;
            }
        }
        Kdf::CommitSha512 => {
            // One extract (salt = 32-byte message id), two expands.
            let prk = Hkdf::<Sha512>::new(Some(h.message_id), data_key);
            let mut info = [0u8; 11];
            info[..2].copy_from_slice(&id);
            info[2..].copy_from_slice(b"DERIVEKEY");
            prk.expand(&info, &mut key).map_err(hkdf_err)?;
            let mut commit = [0u8; 32];
            prk.expand(b"COMMITKEY", &mut commit).map_err(hkdf_err)?;
            let stored = h.commitment.ok_or(EsdkError::CommitmentMismatch)?;
            if !constant_time_eq(&commit, stored) {
                return Err(EsdkError::CommitmentMismatch);
            }
        }
    }
    Ok(key)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// AES-GCM with the suite's key size.
enum ContentCipher {
    A128(Aes128Gcm),
    A192(AesGcm<aes_gcm::aes::Aes192, U12>),
    A256(Aes256Gcm),
}

impl ContentCipher {
    fn new(key: &[u8]) -> Result<Self, EsdkError> {
        let bad = |_| EsdkError::DataKeyLength {
            expected: 32,
            found: key.len(),
        };
        Ok(match key.len() {
            16 => ContentCipher::A128(Aes128Gcm::new_from_slice(key).map_err(bad)?),
            24 => ContentCipher::A192(AesGcm::new_from_slice(key).map_err(bad)?),
            _ => ContentCipher::A256(Aes256Gcm::new_from_slice(key).map_err(bad)?),
        })
    }

    /// Decrypts `buf` in place; false if the tag does not verify.
    fn open(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        let nonce = (*iv).into();
        let tag = (*tag).into();
        match self {
            ContentCipher::A128(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            ContentCipher::A192(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
            ContentCipher::A256(c) => c.decrypt_inout_detached(&nonce, aad, buf.into(), &tag),
        }
        .is_ok()
    }
}

const AAD_SINGLE_BLOCK: &[u8] = b"AWSKMSEncryptionClient Single Block";
const AAD_FRAME: &[u8] = b"AWSKMSEncryptionClient Frame";
const AAD_FINAL_FRAME: &[u8] = b"AWSKMSEncryptionClient Final Frame";

/// Body AAD: message id || content string || u32 sequence number || u64 plaintext length.
fn body_aad(out: &mut Vec<u8>, message_id: &[u8], label: &[u8], seq: u32, len: u64) {
    out.clear();
    out.extend_from_slice(message_id);
    out.extend_from_slice(label);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
}

fn plaintext_limit(current: usize, add: usize, limits: &Limits) -> Result<(), EsdkError> {
    let total = current.saturating_add(add);
    if total > limits.max_plaintext_bytes {
        return Err(EsdkError::LimitExceeded {
            limit: "plaintext bytes",
            value: u64::try_from(total).unwrap_or(u64::MAX),
            max: u64::try_from(limits.max_plaintext_bytes).unwrap_or(u64::MAX),
        });
    }
    Ok(())
}

/// Appends `ct` to `out` and decrypts it there.
fn open_into(
    cipher: &ContentCipher,
    out: &mut Vec<u8>,
    iv: &[u8; IV_LEN],
    aad: &[u8],
    ct: &[u8],
    tag: &[u8; TAG_LEN],
    seq: u32,
) -> Result<(), EsdkError> {
    let start = out.len();
    out.extend_from_slice(ct);
    let ok = match out.get_mut(start..) {
        Some(buf) => cipher.open(iv, aad, buf, tag),
        None => false,
    };
    if ok {
        Ok(())
    } else {
        out.truncate(start);
        Err(EsdkError::BodyAuth { sequence: seq })
    }
}

fn decrypt_non_framed(
    h: &header::RawHeader<'_>,
    cipher: &ContentCipher,
    c: &mut header::Cursor<'_>,
    limits: &Limits,
) -> Result<Vec<u8>, EsdkError> {
    let iv = c.array::<IV_LEN>("body IV")?;
    let len = c.u64("encrypted content length")?;
    if len > MAX_GCM_CONTENT {
        return Err(EsdkError::MalformedBody("content length above 2^36 - 32"));
    }
    let len = usize::try_from(len).map_err(|_| EsdkError::Truncated { what: "content" })?;
    plaintext_limit(0, len, limits)?;
    let ct = c.take(len, "encrypted content")?;
    let tag = c.array::<TAG_LEN>("body tag")?;
    let mut aad = Vec::with_capacity(80);
    body_aad(&mut aad, h.message_id, AAD_SINGLE_BLOCK, 1, len as u64);
    let mut out = Vec::with_capacity(len);
    open_into(cipher, &mut out, &iv, &aad, ct, &tag, 1)?;
    Ok(out)
}

fn decrypt_framed(
    h: &header::RawHeader<'_>,
    cipher: &ContentCipher,
    c: &mut header::Cursor<'_>,
    limits: &Limits,
) -> Result<Vec<u8>, EsdkError> {
    let frame_len = usize::try_from(h.frame_length)
        .map_err(|_| EsdkError::MalformedHeader("frame length does not fit in memory"))?;
    // Plaintext is never longer than the remaining ciphertext.
    let mut out = Vec::with_capacity(c.remaining().min(limits.max_plaintext_bytes));
    let mut aad = Vec::with_capacity(96);
    let mut expected: u32 = 1;
    loop {
        if expected > limits.max_frames {
            return Err(EsdkError::LimitExceeded {
                limit: "frames",
                value: u64::from(expected),
                max: u64::from(limits.max_frames),
            });
        }
        let first = c.u32("frame sequence number")?;
        let (is_final, seq) = if first == FINAL_FRAME_MARKER {
            (true, c.u32("final frame sequence number")?)
        } else {
            (false, first)
        };
        if seq != expected {
            return Err(EsdkError::FrameSequence { expected, found: seq });
        }
        let iv = c.array::<IV_LEN>("frame IV")?;
        let len = if is_final {
            let n = c.u32("final frame length")?;
            if n > h.frame_length {
                return Err(EsdkError::MalformedBody(
                    "final frame longer than the frame length",
                ));
            }
            usize::try_from(n).map_err(|_| EsdkError::Truncated { what: "frame" })?
        } else {
            frame_len
        };
        plaintext_limit(out.len(), len, limits)?;
        let ct = c.take(len, "frame content")?;
        let tag = c.array::<TAG_LEN>("frame tag")?;
        let label = if is_final { AAD_FINAL_FRAME } else { AAD_FRAME };
        body_aad(&mut aad, h.message_id, label, seq, len as u64);
        open_into(cipher, &mut out, &iv, &aad, ct, &tag, seq)?;
        if is_final {
            return Ok(out);
        }
        expected = expected
            .checked_add(1)
            .ok_or(EsdkError::MalformedBody("more than 2^32 - 1 frames"))?;
    }
}

fn sextet(b: u8) -> Option<u32> {
    let v = match b {
        b'A'..=b'Z' => b.wrapping_sub(b'A'),
        b'a'..=b'z' => b.wrapping_sub(b'a').wrapping_add(26),
        b'0'..=b'9' => b.wrapping_sub(b'0').wrapping_add(52),
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Strict standard-alphabet base64 with padding (what the SDKs write for the public key);
/// `None` on anything else, including non-zero padding bits. Bounded: public keys are < 100
/// characters.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || bytes.len() > 256 || bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let chunks = bytes.chunks_exact(4);
    let last = chunks.len().checked_sub(1)?;
    for (i, chunk) in chunks.enumerate() {
        let &[a, b, c, d] = chunk else {
            return None;
        };
        let pad = match (c, d) {
            (b'=', b'=') => 2,
            (_, b'=') => 1,
            _ => 0,
        };
        if pad > 0 && i != last {
            return None;
        }
        let a = sextet(a)?;
        let b = sextet(b)?;
        let c = if pad == 2 { 0 } else { sextet(c)? };
        let d = if pad >= 1 { 0 } else { sextet(d)? };
        let [_, x, y, z] = ((a << 18) | (b << 12) | (c << 6) | d).to_be_bytes();
        out.push(x);
        match pad {
            0 => out.extend_from_slice(&[y, z]),
            1 if z == 0 => out.push(y),
            2 if y == 0 && z == 0 => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_strict() {
        assert_eq!(base64_decode("QQ==").as_deref(), Some(&b"A"[..]));
        assert_eq!(base64_decode("QUI=").as_deref(), Some(&b"AB"[..]));
        assert_eq!(base64_decode("QUJD").as_deref(), Some(&b"ABC"[..]));
        assert_eq!(base64_decode("QR=="), None); // non-canonical trailing bits
        assert_eq!(base64_decode("QQ="), None);
        assert_eq!(base64_decode("Q=Q="), None);
        assert_eq!(base64_decode(""), None);
        assert_eq!(base64_decode("QQ-_"), None);
    }

    #[test]
    fn suite_table_roundtrip() {
        for id in 0u16..=0x0800 {
            if let Some(s) = AlgorithmSuite::from_id(id) {
                assert_eq!(s.id(), id);
            }
        }
    }
}
