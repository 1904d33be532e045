//! Amazon S3: object addresses (`s3://bucket/key`), bounded reads, and the configuration bundle
//! the functions load at start-up.
//!
//! Every read is bounded: the object's size is checked against a cap before its body is read,
//! and the body is read into memory only up to that cap, so a mistaken or hostile object cannot
//! exhaust a 256 MB function. Errors name the object (`s3://bucket/key`, with its version).

use std::fmt;
use std::str::FromStr;

use aws_sdk_s3::Client;
use laneguard_core::bundle::{Bundle, BundleLimits};

/// An S3 object address: `s3://bucket/key`, optionally `?versionId=…` (versioned buckets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Uri {
    /// Bucket name.
    pub bucket: String,
    /// Object key (may be empty for a prefix that names the whole bucket).
    pub key: String,
    /// A pinned object version.
    pub version_id: Option<String>,
}

impl FromStr for S3Uri {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{s:?} is not an S3 URI (s3://bucket/key)"))?;
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(format!("{s:?}: no bucket name"));
        }
        let version_id = match query {
            None => None,
            Some(q) => match q.strip_prefix("versionId=") {
                Some(v) if !v.is_empty() && !v.contains('&') => Some(v.to_owned()),
                _ => return Err(format!("{s:?}: the only query allowed is ?versionId=<id>")),
            },
        };
        Ok(S3Uri {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id,
        })
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)?;
        if let Some(v) = &self.version_id {
            write!(f, "?versionId={v}")?;
        }
        Ok(())
    }
}

/// What identifies the content of an object: its entity tag, and its version in a versioned
/// bucket. Two reads with the same identity read the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectIdentity {
    /// `ETag`.
    pub etag: Option<String>,
    /// `VersionId` (versioned buckets).
    pub version_id: Option<String>,
}

/// An S3 call that failed (after the SDK's retries), naming the object.
#[derive(Debug, thiserror::Error)]
#[error("{uri}: {reason}")]
pub struct S3Error {
    /// The object.
    pub uri: String,
    /// What S3 (or the cap) said.
    pub reason: String,
}

/// An S3 client for `sdk`. Path-style addressing when an endpoint is configured (moto, a
/// local S3), virtual-hosted style against AWS.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    let mut conf = aws_sdk_s3::config::Builder::from(sdk);
    if sdk.endpoint_url().is_some() {
        conf = conf.force_path_style(true);
    }
    Client::from_conf(conf.build())
}

fn error(uri: &S3Uri, e: impl std::error::Error) -> S3Error {
    S3Error {
        uri: uri.to_string(),
        reason: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

/// The identity of the object now (a `HeadObject`).
pub async fn head(client: &Client, uri: &S3Uri) -> Result<ObjectIdentity, S3Error> {
    let out = client
        .head_object()
        .bucket(&uri.bucket)
        .key(&uri.key)
        .set_version_id(uri.version_id.clone())
        .send()
        .await
        .map_err(|e| error(uri, e))?;
    Ok(ObjectIdentity {
        etag: out.e_tag().map(str::to_owned),
        version_id: out.version_id().map(str::to_owned),
    })
}

/// Read a whole object of at most `max_bytes` into memory.
pub async fn get(client: &Client, uri: &S3Uri, max_bytes: u64) -> Result<(Vec<u8>, ObjectIdentity), S3Error> {
    let out = client
        .get_object()
        .bucket(&uri.bucket)
        .key(&uri.key)
        .set_version_id(uri.version_id.clone())
        .send()
        .await
        .map_err(|e| error(uri, e))?;
    let len = out.content_length().unwrap_or(0).max(0) as u64;
    if len > max_bytes {
        return Err(S3Error {
            uri: uri.to_string(),
            reason: format!("{len} bytes, more than the cap of {max_bytes}"),
        });
    }
    let identity = ObjectIdentity {
        etag: out.e_tag().map(str::to_owned),
        version_id: out.version_id().map(str::to_owned),
    };
    let mut body = out.body;
    let mut bytes = Vec::with_capacity(len as usize);
    while let Some(chunk) = body.try_next().await.map_err(|e| error(uri, e))? {
        if (bytes.len() + chunk.len()) as u64 > max_bytes {
            return Err(S3Error {
                uri: uri.to_string(),
                reason: format!("more than the cap of {max_bytes} bytes"),
            });
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, identity))
}

/// Write `body` to `uri` (`PutObject`): the replay function's findings and summaries. A retried
/// batch writes the same keys again, so a redelivery overwrites instead of duplicating.
pub async fn put(client: &Client, uri: &S3Uri, body: Vec<u8>, content_type: &str) -> Result<(), S3Error> {
    client
        .put_object()
        .bucket(&uri.bucket)
        .key(&uri.key)
        .content_type(content_type)
        .body(body.into())
        .send()
        .await
        .map_err(|e| error(uri, e))?;
    Ok(())
}

/// Read `objects` with up to `concurrency` downloads running ahead of the one being processed,
/// handing each to `each` in the order given (so the output does not depend on which download
/// finishes first), each read capped at `max_bytes`. `each` gets the object and its bytes or
/// the error that ended its read; an error it returns stops the reading.
pub async fn fetch_in_order<E>(
    client: &Client,
    objects: Vec<S3Uri>,
    concurrency: usize,
    max_bytes: u64,
    mut each: impl FnMut(S3Uri, Result<Vec<u8>, S3Error>) -> Result<(), E>,
) -> Result<(), E> {
    let mut ahead = std::collections::VecDeque::new();
    let mut next = objects.into_iter();
    loop {
        while ahead.len() < concurrency.max(1) {
            let Some(uri) = next.next() else { break };
            let client = client.clone();
            let at = uri.clone();
            let task = tokio::spawn(async move { get(&client, &at, max_bytes).await.map(|(b, _)| b) });
            ahead.push_back((uri, task));
        }
        let Some((uri, task)) = ahead.pop_front() else {
            return Ok(());
        };
        let got = task.await.unwrap_or_else(|e| {
            Err(S3Error {
                uri: uri.to_string(),
                reason: format!("download task failed: {e}"),
            })
        });
        each(uri, got)?;
    }
}

/// One object of a listing (`replay s3://bucket/prefix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Object key.
    pub key: String,
    /// Size in bytes (as stored: compressed objects count compressed).
    pub size: u64,
    /// `ETag`: with the key, what a checkpoint records as done.
    pub etag: Option<String>,
}

/// Every object under `prefix` (ListObjectsV2, every page), in key order — the order a replay
/// reads them, so its output does not depend on how S3 paged the listing.
pub async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<Listed>, S3Error> {
    let at = S3Uri {
        bucket: bucket.to_owned(),
        key: prefix.to_owned(),
        version_id: None,
    };
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| error(&at, e))?;
        for o in page.contents() {
            if let Some(key) = o.key() {
                out.push(Listed {
                    key: key.to_owned(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().map(str::to_owned),
                });
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => break,
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// The day an archive key names in its layout — `…/YYYY/MM/DD/…`, as CloudTrail
/// (`AWSLogs/<account>/CloudTrail/<region>/2026/11/30/…`), VPC flow logs delivered to S3 and
/// Firehose (`<prefix>2026/11/30/13/…`) write them — so a replay bounded in time skips the
/// objects of other days without reading them. `None`: the key names no day (always read).
pub fn key_day(key: &str) -> Option<jiff::civil::Date> {
    let parts: Vec<&str> = key.split('/').collect();
    parts.windows(3).find_map(|w| {
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        if !(digits(w[0], 4) && digits(w[1], 2) && digits(w[2], 2)) {
            return None;
        }
        let (y, m, d) = (w[0].parse().ok()?, w[1].parse().ok()?, w[2].parse().ok()?);
        jiff::civil::Date::new(y, m, d).ok()
    })
}

/// A configuration bundle loaded from S3, with the identity of the object it came from.
#[derive(Clone, Debug)]
pub struct LoadedBundle {
    /// The bundle.
    pub bundle: Bundle,
    /// The object read.
    pub identity: ObjectIdentity,
}

/// Why a bundle could not be loaded from S3.
#[derive(Debug, thiserror::Error)]
pub enum BundleLoadError {
    /// The object could not be read.
    #[error(transparent)]
    S3(#[from] S3Error),
    /// The object is not a valid bundle.
    #[error(transparent)]
    Bundle(#[from] laneguard_core::bundle::BundleError),
}

/// Read the bundle archive at `uri` (a `tar.gz` as `laneguard bundle` writes it). Errors name
/// the object and, inside it, the entry.
pub async fn load_bundle(
    client: &Client,
    uri: &S3Uri,
    limits: &BundleLimits,
) -> Result<LoadedBundle, BundleLoadError> {
    let (bytes, identity) = get(client, uri, limits.max_bytes).await?;
    let origin = match (&uri.version_id, &identity.version_id) {
        (None, Some(v)) => format!("{uri}?versionId={v}"),
        _ => uri.to_string(),
    };
    let bundle = Bundle::from_archive(&bytes, &origin, limits)?;
    Ok(LoadedBundle { bundle, identity })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_in_archive_keys() {
        use jiff::civil::date;
        for (key, day) in [
            (
                "AWSLogs/111122223333/CloudTrail/eu-west-1/2026/11/30/111122223333_CloudTrail_eu-west-1_20261130T0005Z_a.json.gz",
                Some(date(2026, 11, 30)),
            ),
            (
                "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/01/02/x.log.gz",
                Some(date(2026, 1, 2)),
            ),
            (
                "firehose/rds-audit/2026/11/30/13/delivery-1-2026-11-30-13-00-00-abc",
                Some(date(2026, 11, 30)),
            ),
            ("exports/2026/13/40/x", None),
            ("exports/aurora/000000.gz", None),
            ("2026/11/3/x", None),
        ] {
            assert_eq!(key_day(key), day, "{key}");
        }
    }

    #[test]
    fn uris() {
        let u: S3Uri = "s3://b/conf/laneguard.tar.gz?versionId=3HL4kqtJlcpXroDTDmJ"
            .parse()
            .unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.key.as_str(), u.version_id.as_deref()),
            ("b", "conf/laneguard.tar.gz", Some("3HL4kqtJlcpXroDTDmJ"))
        );
        assert_eq!(
            u.to_string(),
            "s3://b/conf/laneguard.tar.gz?versionId=3HL4kqtJlcpXroDTDmJ"
        );
        assert_eq!("s3://b".parse::<S3Uri>().unwrap().key, "");
        for bad in ["b/k", "s3:///k", "s3://b/k?x=1", "s3://b/k?versionId="] {
            assert!(bad.parse::<S3Uri>().is_err(), "{bad}");
        }
    }
}
