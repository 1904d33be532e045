//! Timestamp parsing for the fixed layouts audit engines write.
//!
//! The layouts are fixed-width digits, so they are read digit by digit (no format-string
//! interpretation per record); calendar arithmetic and validation are jiff's.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

fn digits(b: &[u8]) -> Option<i32> {
    if b.is_empty() {
        return None;
    }
    let mut n: i32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(i32::from(c - b'0'))?;
    }
    Some(n)
}

fn civil(y: i32, mo: i32, d: i32, h: i32, mi: i32, s: i32, nanos: i32) -> Option<Timestamp> {
    let dt = DateTime::new(
        i16::try_from(y).ok()?,
        i8::try_from(mo).ok()?,
        i8::try_from(d).ok()?,
        i8::try_from(h).ok()?,
        i8::try_from(mi).ok()?,
        i8::try_from(s).ok()?,
        nanos,
    )
    .ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// `YYYYMMDD HH:MM:SS` (MariaDB / RDS MySQL audit plugin; UTC on RDS).
pub fn parse_mysql_compact(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() != 17 || b[8] != b' ' || b[11] != b':' || b[14] != b':' {
        return None;
    }
    civil(
        digits(&b[0..4])?,
        digits(&b[4..6])?,
        digits(&b[6..8])?,
        digits(&b[9..11])?,
        digits(&b[12..14])?,
        digits(&b[15..17])?,
        0,
    )
}

/// Unix epoch in microseconds, 16 digits (Aurora MySQL advanced auditing).
pub fn parse_epoch_micros(s: &str) -> Option<Timestamp> {
    if s.len() < 13 || s.len() > 17 {
        return None;
    }
    let n: i64 = s.parse().ok()?;
    Timestamp::from_microsecond(n).ok()
}

/// Unix epoch seconds (VPC flow logs).
pub fn parse_epoch_seconds(s: &str) -> Option<Timestamp> {
    let n: i64 = s.parse().ok()?;
    Timestamp::from_second(n).ok()
}

/// Epoch milliseconds (CloudWatch Logs event timestamps).
pub fn from_epoch_millis(ms: i64) -> Option<Timestamp> {
    Timestamp::from_millisecond(ms).ok()
}

/// `YYYY-MM-DD HH:MM:SS[.fff] ZONE` (PostgreSQL `%t`/`%m`). Zones: `UTC`, `GMT`, `Z`, or a
/// numeric offset `+hh[:mm]`; any other abbreviation is ambiguous and rejected.
pub fn parse_pg(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    // Not `&s[19..]`: a multi-byte character where the seconds belong would be sliced through
    // (found by the `sources` fuzz target in an activity-stream `logTime`).
    let mut rest = s.get(19..)?;
    let mut nanos = 0i32;
    if let Some(frac) = rest.strip_prefix('.') {
        let end = frac.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac.len());
        let f = &frac[..end];
        if f.is_empty() || f.len() > 9 {
            return None;
        }
        nanos = digits(f.as_bytes())? * 10i32.pow(9 - f.len() as u32);
        rest = &frac[end..];
    }
    let zone = rest.trim_start();
    let offset_secs: i64 = match zone {
        "UTC" | "GMT" | "Z" | "" => 0,
        z if z.starts_with('+') || z.starts_with('-') => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            // `+hh`, `+hhmm` or `+hh:mm`, without allocating (every activity-stream record
            // has one).
            let mut d = [0u8; 4];
            let mut n = 0;
            for c in z[1..].bytes().filter(|c| *c != b':') {
                if !c.is_ascii_digit() || n == 4 {
                    return None;
                }
                d[n] = c;
                n += 1;
            }
            let (h, m) = match n {
                2 => (digits(&d[..2])?, 0),
                4 => (digits(&d[..2])?, digits(&d[2..])?),
                _ => return None,
            };
            sign * (i64::from(h) * 3600 + i64::from(m) * 60)
        }
        _ => return None,
    };
    let ts = civil(
        digits(&b[0..4])?,
        digits(&b[5..7])?,
        digits(&b[8..10])?,
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
        nanos,
    )?;
    ts.checked_sub(jiff::SignedDuration::from_secs(offset_secs)).ok()
}

/// RFC 3339 / ISO 8601 (CloudTrail `eventTime`).
pub fn parse_rfc3339(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(
            parse_mysql_compact("20261128 00:25:20").map(|t| t.to_string()),
            Some("2026-11-28T00:25:20Z".into())
        );
        assert_eq!(
            parse_epoch_micros("1603439251360772").map(|t| t.to_string()),
            Some("2020-10-23T07:47:31.360772Z".into())
        );
        assert_eq!(
            parse_pg("2022-10-05 22:05:52 UTC").map(|t| t.to_string()),
            Some("2022-10-05T22:05:52Z".into())
        );
        assert_eq!(
            parse_pg("2022-03-07 21:44:53.978 UTC").map(|t| t.to_string()),
            Some("2022-03-07T21:44:53.978Z".into())
        );
        assert_eq!(
            parse_pg("2022-03-07 21:44:53 +02").map(|t| t.to_string()),
            Some("2022-03-07T19:44:53Z".into())
        );
        assert_eq!(parse_pg("2022-03-07 21:44:53 CET"), None);
        // A character of several bytes across the seconds is not a time (and not a panic).
        assert_eq!(parse_pg("2020-05-22 18:07:\u{FFFD}13.267214+00"), None);
        assert_eq!(parse_pg("2020-05-22 18:07:1\u{e9}3 UTC"), None);
        assert_eq!(parse_mysql_compact("TIME"), None);
        assert_eq!(parse_mysql_compact("20261399 00:25:20"), None);
        assert_eq!(parse_epoch_micros("12"), None);
    }
}
