//! Reading CloudWatch Logs directly: `laneguard replay --log-group` over `FilterLogEvents`.
//!
//! An incident or a new rule tried on last month's traffic needs the logs where they are. This
//! module pages through `FilterLogEvents` for a log group (optionally the streams with a prefix)
//! between two times, and hands every event to a [`RecordSink`] with the origin that finds it
//! again (log group, log stream, event id) — exactly what a subscription would have delivered,
//! so the replay result is the production result. Throttling and 5xx answers are retried by the
//! SDK's standard retry strategy (exponential backoff with jitter) configured by the caller.
//! This is I/O against an AWS API: it lives in the AWS crate, not in the engine.

use aws_sdk_cloudwatchlogs::Client;
use jiff::Timestamp;

use laneguard_core::envelope::{RawRecord, RecordSink};
use laneguard_core::event::{Origin, Source};

/// What to read.
#[derive(Clone, Debug)]
pub struct LogGroupQuery {
    /// Log group name.
    pub log_group: String,
    /// Only streams whose name starts with this.
    pub stream_prefix: Option<String>,
    /// Start of the time range (inclusive).
    pub start: Timestamp,
    /// End of the time range (exclusive).
    pub end: Timestamp,
    /// Source forced by the operator (else detected from the log group and the content).
    pub source: Option<Source>,
    /// Events per page (the API's maximum is 10,000; smaller pages only for tests).
    pub page_size: Option<i32>,
}

/// Counters of a read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// API pages read.
    pub pages: u64,
    /// Log events read.
    pub events: u64,
    /// Message bytes read.
    pub bytes: u64,
}

/// A read that failed (after the SDK's retries).
#[derive(Debug, thiserror::Error)]
#[error("reading log group {log_group}: {message}")]
pub struct ReadError {
    /// The log group.
    pub log_group: String,
    /// What the API said.
    pub message: String,
}

/// Read every event of the query into `sink`; `progress` is called after each page.
pub async fn read_log_group(
    client: &Client,
    query: &LogGroupQuery,
    sink: &mut dyn RecordSink,
    progress: &mut dyn FnMut(&ReadStats),
) -> Result<ReadStats, ReadError> {
    let mut stats = ReadStats::default();
    let mut token: Option<String> = None;
    // The log group is in the client's region: its records' region, for findings (the account
    // would take another call, to name the group's ARN; the records go without it).
    let region = client.config().region().map(|r| r.as_ref().to_owned());
    loop {
        let mut req = client
            .filter_log_events()
            .log_group_name(&query.log_group)
            .start_time(query.start.as_millisecond())
            .end_time(query.end.as_millisecond())
            .set_next_token(token.take());
        if let Some(p) = &query.stream_prefix {
            req = req.log_stream_name_prefix(p);
        }
        if let Some(n) = query.page_size {
            req = req.limit(n);
        }
        let page = req.send().await.map_err(|e| ReadError {
            log_group: query.log_group.clone(),
            message: aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e).to_string(),
        })?;
        stats.pages += 1;
        for ev in page.events() {
            let Some(message) = ev.message() else {
                continue;
            };
            stats.events += 1;
            stats.bytes += message.len() as u64;
            sink.record(RawRecord {
                text: message,
                origin: Origin {
                    log_group: Some(&query.log_group),
                    log_stream: ev.log_stream_name(),
                    event_id: ev.event_id(),
                    ..Origin::default()
                },
                source: query.source,
                envelope_time: ev.timestamp().and_then(laneguard_core::time::from_epoch_millis),
                aws: laneguard_core::envelope::AwsContext {
                    account: None,
                    region: region.as_deref(),
                },
            });
        }
        progress(&stats);
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(stats)
}

/// Parse a time for `--start`/`--end`: RFC 3339 (`2026-11-28T00:00:00Z`), or relative to now
/// (`now`, `now-15m`, `now-2h`, `now-7d`).
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("now") {
        if rest.is_empty() {
            return Ok(now);
        }
        let ago = rest
            .strip_prefix('-')
            .ok_or_else(|| format!("{s:?}: write now-15m, now-2h or now-7d"))?;
        let d = laneguard_core::rules::parse_duration(ago)?;
        return now.checked_sub(d).map_err(|e| format!("{s:?}: {e}"));
    }
    s.parse::<Timestamp>()
        .map_err(|e| format!("{s:?} is not an RFC 3339 time or now-<duration>: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now: Timestamp = "2026-11-28T12:00:00Z".parse().unwrap();
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(
            parse_time("now-2h", now).unwrap().to_string(),
            "2026-11-28T10:00:00Z"
        );
        assert_eq!(
            parse_time("2026-11-01T00:00:00Z", now).unwrap().to_string(),
            "2026-11-01T00:00:00Z"
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("now+1h", now).is_err());
    }
}
