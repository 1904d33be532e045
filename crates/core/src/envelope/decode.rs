//! The one capped decoder for outside bytes.
//!
//! Every decompression of bytes laneguard did not produce goes through here (DESIGN.md §2), so a
//! gzip bomb is stopped at a known size with a clear error, and archives made of concatenated
//! gzip members (Firehose → S3 objects, `cat a.gz b.gz`) are read whole. `clippy.toml` bans the
//! raw flate2 decoders everywhere else.

use std::io::{self, BufRead, BufReader, Read};

use base64::Engine as _;

/// Default cap on the decompressed size of one document held in memory (64 MiB): far above the
/// largest CloudWatch Logs payload, far below what hurts a 256 MB Lambda.
pub const DEFAULT_MAX_DOCUMENT: u64 = 64 << 20;

/// Default cap on the decompressed size of one streamed line file (4 GiB): streamed files are
/// never held in memory, so the cap only bounds work, not memory.
pub const DEFAULT_MAX_STREAM: u64 = 4 << 30;

/// Default limit on the size of one record (1 MiB, CloudWatch Logs' own event limit).
pub const DEFAULT_MAX_RECORD: usize = 1 << 20;

/// Size limits applied to outside input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Cap on the decompressed size of a document held in memory (payloads, JSON files).
    pub max_document: u64,
    /// Cap on the decompressed size of a streamed line file.
    pub max_stream: u64,
    /// Records larger than this are skipped with a diagnostic.
    pub max_record: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_document: DEFAULT_MAX_DOCUMENT,
            max_stream: DEFAULT_MAX_STREAM,
            max_record: DEFAULT_MAX_RECORD,
        }
    }
}

/// Why bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The gzip stream was corrupt or truncated.
    #[error("gzip data is corrupt or truncated: {0}")]
    Gzip(#[source] io::Error),
    /// The decompressed data exceeded the cap.
    #[error("decompressed data exceeds the cap of {cap} bytes (raise the limit if the input is trusted)")]
    TooLarge {
        /// The cap that was exceeded.
        cap: u64,
    },
    /// base64 text was invalid.
    #[error("invalid base64: {0}")]
    Base64(#[from] base64::DecodeError),
}

/// True when `bytes` start with the gzip magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// A reader that fails with [`DecodeError::TooLarge`] (as an `io::Error`) once more than `cap`
/// bytes have passed through it.
#[derive(Debug)]
pub struct CappedReader<R> {
    inner: R,
    remaining: u64,
    cap: u64,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            // Probe one byte: end of stream exactly at the cap is fine.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::other(DecodeError::TooLarge { cap: self.cap })),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// Wrap a gzip stream (one or many members) in a decoder capped at `cap` decompressed bytes.
#[allow(clippy::disallowed_types)] // this is the one place the raw decoder is allowed
pub fn gunzip_reader<R: BufRead>(input: R, cap: u64) -> CappedReader<flate2::bufread::MultiGzDecoder<R>> {
    CappedReader {
        inner: flate2::bufread::MultiGzDecoder::new(input),
        remaining: cap,
        cap,
    }
}

/// Map an error from a [`CappedReader`] stream to a [`DecodeError`].
pub fn classify_io_error(e: io::Error) -> DecodeError {
    if e.get_ref().is_some_and(|inner| inner.is::<DecodeError>()) {
        match e.into_inner().map(|inner| inner.downcast::<DecodeError>()) {
            Some(Ok(d)) => *d,
            Some(Err(other)) => DecodeError::Gzip(io::Error::other(other)),
            None => DecodeError::Gzip(io::Error::other("unknown")),
        }
    } else {
        DecodeError::Gzip(e)
    }
}

/// Decompress all gzip members of `input` into `out` (cleared first), at most `cap` bytes.
pub fn gunzip(input: &[u8], cap: u64, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let mut r = gunzip_reader(BufReader::new(input), cap);
    r.read_to_end(out).map_err(classify_io_error)?;
    Ok(())
}

/// Decode base64 (standard alphabet, padding optional) into `out` (cleared first).
pub fn base64_decode(text: &str, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode_vec(text.trim().as_bytes(), out)?;
    Ok(())
}

/// Decode a base64 blob that may hold gzip data (CloudWatch Logs `awslogs.data`, Kinesis and
/// Firehose record data): returns the plain bytes, decompressed when they were gzip.
pub fn base64_maybe_gunzip(text: &str, cap: u64, scratch: &mut Vec<u8>) -> Result<Vec<u8>, DecodeError> {
    base64_decode(text, scratch)?;
    if is_gzip(scratch) {
        let mut out = Vec::new();
        gunzip(scratch, cap, &mut out)?;
        Ok(out)
    } else if scratch.len() as u64 > cap {
        Err(DecodeError::TooLarge { cap })
    } else {
        Ok(std::mem::take(scratch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn multi_member_and_cap() {
        let mut both = gz(b"hello ");
        both.extend(gz(b"world"));
        let mut out = Vec::new();
        gunzip(&both, 1 << 20, &mut out).unwrap();
        assert_eq!(out, b"hello world");
        // exactly at the cap is fine, one byte over is not
        gunzip(&both, 11, &mut out).unwrap();
        assert!(matches!(
            gunzip(&both, 10, &mut out),
            Err(DecodeError::TooLarge { cap: 10 })
        ));
    }

    #[test]
    fn bomb_is_stopped() {
        let big = vec![0u8; 8 << 20];
        let z = gz(&big);
        let mut out = Vec::new();
        assert!(matches!(
            gunzip(&z, 1 << 20, &mut out),
            Err(DecodeError::TooLarge { .. })
        ));
        assert!(out.len() <= 1 << 20);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let z = gz(b"some text that is long enough to matter");
        let mut out = Vec::new();
        assert!(matches!(
            gunzip(&z[..z.len() - 6], 1 << 20, &mut out),
            Err(DecodeError::Gzip(_))
        ));
    }

    #[test]
    fn base64_forms() {
        let mut s = Vec::new();
        let plain = base64_maybe_gunzip("SGVsbG8gV29ybGQ=", 100, &mut s).unwrap();
        assert_eq!(plain, b"Hello World");
        assert!(base64_maybe_gunzip("not base64 !!", 100, &mut s).is_err());
    }
}
