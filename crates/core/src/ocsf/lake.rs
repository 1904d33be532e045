//! Where an OCSF finding goes in a Security Lake custom source: the partition layout Security
//! Lake asks of custom sources, `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>/`,
//! computed here without I/O so that `laneguard replay --ocsf-dir` (local files) and a writer to
//! S3 lay findings out the same way, and `laneguard tune --compare` can read them back.
//!
//! The partition values come from the finding ([`Finding::region`], [`Finding::account`], the
//! UTC day of [`Finding::time`]). A finding whose record, envelope and deployment named no
//! account or region goes to the fallback partition [`UNKNOWN`] (`region=unknown`,
//! `accountId=unknown`). Values are log text: anything but letters, digits and `-` in them (a
//! hand-made record's `awsRegion` of `../x`) also sends the finding to [`UNKNOWN`], so a
//! partition is always one path segment.

use crate::finding::Finding;

/// The partition value of an unknown (or unusable) account or region.
pub const UNKNOWN: &str = "unknown";

/// The default custom source name (the `<source>` of `ext/<source>/`).
pub const DEFAULT_SOURCE: &str = "laneguard";

/// The partition of one finding.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition<'f> {
    /// `region=` value.
    pub region: &'f str,
    /// `accountId=` value.
    pub account: &'f str,
    /// `eventDay=` value: the finding's UTC day, `YYYYMMDD`.
    pub day: String,
}

impl<'f> Partition<'f> {
    /// The partition of `finding`.
    pub fn of(finding: &'f Finding) -> Self {
        Partition {
            region: safe(finding.region.as_deref()),
            account: safe(finding.account.as_deref()),
            day: jiff::tz::TimeZone::UTC
                .to_datetime(finding.time)
                .strftime("%Y%m%d")
                .to_string(),
        }
    }

    /// The partition's directory relative to the lake's root, for custom source `source`:
    /// `ext/<source>/region=<region>/accountId=<account>/eventDay=<YYYYMMDD>`.
    pub fn dir(&self, source: &str) -> String {
        format!(
            "ext/{source}/region={}/accountId={}/eventDay={}",
            self.region, self.account, self.day
        )
    }
}

/// Whether `name` can be a custom source name (one path segment Security Lake accepts: letters,
/// digits, `-` and `_`, at most 64).
pub fn valid_source_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn safe(value: Option<&str>) -> &str {
    match value {
        Some(v)
            if !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            v
        }
        _ => UNKNOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(region: Option<&str>, account: Option<&str>) -> Finding {
        // 2025-11-29T23:59:59Z
        let time = jiff::Timestamp::from_second(1_764_460_799).unwrap_or_default();
        let mut f = Finding::placeholder("r", time);
        f.account = account.map(Into::into);
        f.region = region.map(Into::into);
        f
    }

    #[test]
    fn partitions_follow_the_security_lake_layout() {
        let f = finding(Some("eu-west-1"), Some("111122223333"));
        assert_eq!(
            Partition::of(&f).dir(DEFAULT_SOURCE),
            "ext/laneguard/region=eu-west-1/accountId=111122223333/eventDay=20251129"
        );
        let f = finding(None, Some("111122223333"));
        assert_eq!(
            Partition::of(&f).dir("db"),
            "ext/db/region=unknown/accountId=111122223333/eventDay=20251129"
        );
        // Log text that is not a plain value never makes a path.
        let f = finding(Some("../../etc"), Some("1/2"));
        assert_eq!(
            Partition::of(&f).dir("db"),
            "ext/db/region=unknown/accountId=unknown/eventDay=20251129"
        );
        assert!(valid_source_name("laneguard-db_1"));
        assert!(!valid_source_name("a/b") && !valid_source_name("") && !valid_source_name(".."));
    }
}
