//! The SIEM sink: OCSF records to a CloudWatch Logs group with `PutLogEvents`.
//!
//! Why it is built this way:
//! - **OCSF, one record per log event.** Findings are Detection Finding (2004) records; when
//!   enabled, every event is also written as its activity record (6005, 6003, 4001). A SIEM
//!   subscribes to the log group (or exports it) and needs no laneguard-specific parser.
//! - **Inside every `PutLogEvents` limit** ([`plan_batches`], pure and unit-tested): at most
//!   10,000 events and 1,048,576 bytes (message bytes + 26 per event) per call, events in
//!   chronological order, and a call's events spanning less than 24 hours. Log-event timestamps
//!   are the records' event times, except that a time CloudWatch Logs would reject (older than
//!   14 days, more than 2 hours ahead) is replaced by the delivery time — the OCSF record keeps
//!   the true `time`.
//! - **One stream per container**, created on first use (an existing stream is fine, a deleted
//!   one is re-created and the batch sent once more — a call answered `ResourceNotFound` wrote
//!   nothing, so nothing is doubled), so concurrent containers never contend for a stream. The
//!   log group is never created: its retention and KMS key are the deployment's, and a deleted
//!   group fails the invocation, naming it.
//! - **Nothing dropped for its size or time.** A record over one log event's limit is kept whole
//!   with its longest strings cut ([`crate::fit`], counted as `truncated`). Records CloudWatch
//!   Logs rejects for their timestamp (`rejectedLogEventsInfo`: too old for the group's retention
//!   or 14 days, too new) are counted exactly ([`rejected_indices`]) and written once more with
//!   the delivery time (`restamped`); what is still rejected is counted as `rejected` and logged
//!   with its keys (finding ids).
//! - **Never twice from one container**: record keys delivered are remembered in a bounded
//!   [`SentLog`]; a retried invocation skips them. Retries: see [`crate::retry`].

use std::sync::atomic::{AtomicBool, Ordering};

use aws_sdk_cloudwatchlogs::types::InputLogEvent;

use crate::DeliveryError;
use crate::fit::{Render, fit_json};
use crate::retry::RetryPolicy;
use crate::sent::SentLog;

/// Most events per `PutLogEvents` call.
pub const MAX_EVENTS: usize = 10_000;
/// Most bytes per call: the UTF-8 messages plus [`EVENT_OVERHEAD`] per event.
pub const MAX_BYTES: usize = 1_048_576;
/// Bytes CloudWatch Logs counts per event on top of its message.
pub const EVENT_OVERHEAD: usize = 26;
/// Largest message of one event (CloudWatch Logs: 256 KiB minus the overhead).
pub const MAX_EVENT_BYTES: usize = 256 * 1024 - EVENT_OVERHEAD;
/// A call's events must span less than 24 hours.
pub const MAX_SPAN_MS: i64 = 24 * 3600 * 1000;
/// Events older than 14 days are rejected.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
/// Events more than 2 hours ahead are rejected.
pub const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

/// One record for the SIEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiemRecord {
    /// Identity for deduplication (a finding id, or the origin of an event's activity record).
    pub key: String,
    /// Event time, milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The OCSF JSON record.
    pub message: String,
}

/// What one [`SiemSink::send`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SiemReport {
    /// Records written now.
    pub written: u64,
    /// Records skipped because this container already wrote them.
    pub already_sent: u64,
    /// `PutLogEvents` calls made.
    pub calls: u64,
    /// Records larger than one log event may be even cut (logged as errors, not written).
    pub oversized: u64,
    /// Records written with their longest strings cut to fit one log event.
    pub truncated: u64,
    /// Records CloudWatch Logs rejected for their timestamp and accepted when written again
    /// with the delivery time (their OCSF `time` stays the event time).
    pub restamped: u64,
    /// Records CloudWatch Logs rejected for their timestamp even at the delivery time (logged
    /// as errors with their keys; not written).
    pub rejected: u64,
}

/// Writes OCSF records to one log group, in this container's own stream.
#[derive(Debug)]
pub struct SiemSink {
    client: aws_sdk_cloudwatchlogs::Client,
    log_group: String,
    log_stream: String,
    stream_ready: AtomicBool,
    retry: RetryPolicy,
    sent: SentLog,
}

impl SiemSink {
    /// A sink writing to `log_stream` (created if missing) of `log_group` (which must exist).
    pub fn new(
        client: aws_sdk_cloudwatchlogs::Client,
        log_group: impl Into<String>,
        log_stream: impl Into<String>,
    ) -> Self {
        SiemSink {
            client,
            log_group: log_group.into(),
            log_stream: log_stream.into(),
            stream_ready: AtomicBool::new(false),
            retry: RetryPolicy::default(),
            sent: SentLog::default(),
        }
    }

    /// Use `retry` when the stream has to be re-created.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Remember at most `capacity` written keys.
    pub fn with_sent_capacity(mut self, capacity: usize) -> Self {
        self.sent = SentLog::new(capacity);
        self
    }

    /// The log group.
    pub fn log_group(&self) -> &str {
        &self.log_group
    }

    /// This container's stream.
    pub fn log_stream(&self) -> &str {
        &self.log_stream
    }

    /// Write `records` not yet written by this container; `now_ms` is the delivery time.
    pub async fn send(&self, records: Vec<SiemRecord>, now_ms: i64) -> Result<SiemReport, DeliveryError> {
        let mut report = SiemReport::default();
        let mut fresh = Vec::with_capacity(records.len());
        let mut seen = std::collections::HashSet::new();
        for mut r in records {
            if self.sent.contains(&r.key) || !seen.insert(r.key.clone()) {
                report.already_sent += 1;
                continue;
            }
            if r.message.len() > MAX_EVENT_BYTES {
                match fit_json(&r.message, MAX_EVENT_BYTES, Render::Compact) {
                    Some(cut) => {
                        tracing::warn!(log_group = %self.log_group, key = %r.key, bytes = r.message.len(), "SIEM record over a log event's limit; its longest strings were cut");
                        report.truncated += 1;
                        r.message = cut;
                    }
                    None => {
                        tracing::error!(log_group = %self.log_group, key = %r.key, bytes = r.message.len(), "SIEM record too large for a log event even cut; not written");
                        report.oversized += 1;
                        continue;
                    }
                }
            }
            fresh.push(r);
        }
        if fresh.is_empty() {
            return Ok(report);
        }
        self.ensure_stream().await?;
        for batch in plan_batches(fresh, now_ms) {
            let rejected = self.put(&batch, &mut report).await?;
            let mut still = Vec::new();
            if !rejected.is_empty() {
                // Refused for their timestamps: once more at the delivery time (one call: the
                // batch spanned less than a day and fitted, so these fit too).
                let again: Vec<SiemRecord> = rejected
                    .iter()
                    .map(|&i| SiemRecord {
                        timestamp_ms: now_ms,
                        ..batch[i].clone()
                    })
                    .collect();
                tracing::warn!(log_group = %self.log_group, log_stream = %self.log_stream, records = again.len(), "CloudWatch Logs rejected SIEM records for their timestamps; writing them with the delivery time");
                still = self
                    .put(&again, &mut report)
                    .await?
                    .into_iter()
                    .map(|j| rejected[j])
                    .collect();
                report.restamped += (again.len() - still.len()) as u64;
            }
            for &i in &still {
                tracing::error!(log_group = %self.log_group, log_stream = %self.log_stream, key = %batch[i].key, "CloudWatch Logs rejected a SIEM record even at the delivery time; not written");
            }
            report.rejected += still.len() as u64;
            for (i, r) in batch.iter().enumerate() {
                if !still.contains(&i) {
                    self.sent.insert(&r.key);
                    report.written += 1;
                }
            }
        }
        Ok(report)
    }

    async fn ensure_stream(&self) -> Result<(), DeliveryError> {
        if self.stream_ready.load(Ordering::Acquire) {
            return Ok(());
        }
        match self
            .client
            .create_log_stream()
            .log_group_name(&self.log_group)
            .log_stream_name(&self.log_stream)
            .send()
            .await
        {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_already_exists_exception()) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Err(self.error(
                    "the log group does not exist (laneguard never creates it: its retention and KMS key are the \
                     deployment's; redeploy the stack or create it)"
                        .to_owned(),
                ));
            }
            Err(e) => {
                return Err(self.error(format!(
                    "CreateLogStream failed after retries: {}",
                    aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)
                )));
            }
        }
        self.stream_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// One `PutLogEvents` of `batch` (re-creating a deleted stream once); the indexes of the
    /// records CloudWatch Logs rejected for their timestamps.
    async fn put(&self, batch: &[SiemRecord], report: &mut SiemReport) -> Result<Vec<usize>, DeliveryError> {
        let events = batch
            .iter()
            .map(|r| {
                InputLogEvent::builder()
                    .timestamp(r.timestamp_ms)
                    .message(&r.message)
                    .build()
                    .map_err(|e| self.error(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut recreated = false;
        loop {
            report.calls += 1;
            let result = self
                .client
                .put_log_events()
                .log_group_name(&self.log_group)
                .log_stream_name(&self.log_stream)
                .set_log_events(Some(events.clone()))
                .send()
                .await;
            match result {
                Ok(out) => {
                    return Ok(out
                        .rejected_log_events_info()
                        .map(|info| {
                            rejected_indices(
                                info.too_old_log_event_end_index(),
                                info.expired_log_event_end_index(),
                                info.too_new_log_event_start_index(),
                                batch.len(),
                            )
                        })
                        .unwrap_or_default());
                }
                Err(e)
                    if !recreated
                        && e.as_service_error()
                            .is_some_and(|s| s.is_resource_not_found_exception()) =>
                {
                    // The stream was deleted under us (the group missing is fatal below).
                    recreated = true;
                    self.stream_ready.store(false, Ordering::Release);
                    tokio::time::sleep(self.retry.backoff(1)).await;
                    self.ensure_stream().await?;
                }
                Err(e) => {
                    return Err(self.error(format!(
                        "PutLogEvents of {} records failed after retries: {}",
                        batch.len(),
                        aws_sdk_cloudwatchlogs::error::DisplayErrorContext(&e)
                    )));
                }
            }
        }
    }

    fn error(&self, reason: String) -> DeliveryError {
        DeliveryError::CloudWatchLogs {
            log_group: self.log_group.clone(),
            log_stream: self.log_stream.clone(),
            reason,
        }
    }
}

/// The indexes of a `PutLogEvents` batch of `len` events that `rejectedLogEventsInfo` names.
/// The events are in chronological order, so the rejected ones are a prefix and a suffix:
/// `tooOldLogEventEndIndex` is the end (exclusive) of the too-old prefix, and
/// `expiredLogEventEndIndex` of the prefix older than the group's retention (exclusive too; the
/// two prefixes overlap, the longer one counts); `tooNewLogEventStartIndex` is the start
/// (inclusive) of the too-new suffix. A prefix and a suffix that overlap are counted once; an
/// index out of range is clamped, a negative one means none.
pub fn rejected_indices(
    too_old_end: Option<i32>,
    expired_end: Option<i32>,
    too_new_start: Option<i32>,
    len: usize,
) -> Vec<usize> {
    let index = |i: Option<i32>| i.and_then(|i| usize::try_from(i).ok()).map(|i| i.min(len));
    let old_end = index(too_old_end)
        .unwrap_or(0)
        .max(index(expired_end).unwrap_or(0));
    let new_start = index(too_new_start).unwrap_or(len).max(old_end);
    (0..old_end).chain(new_start..len).collect()
}

/// The timestamp CloudWatch Logs will accept for a record of time `ts_ms` delivered at `now_ms`:
/// `ts_ms` itself, or `now_ms` when `ts_ms` is older than 14 days (less an hour of margin) or
/// more than 2 hours ahead (less a minute).
pub fn accepted_timestamp(ts_ms: i64, now_ms: i64) -> i64 {
    if ts_ms < now_ms - MAX_AGE_MS + 3_600_000 || ts_ms > now_ms + MAX_AHEAD_MS - 60_000 {
        now_ms
    } else {
        ts_ms
    }
}

/// Split records into `PutLogEvents` calls within every limit: timestamps made acceptable, sorted
/// (stable) by timestamp, at most [`MAX_EVENTS`] and [`MAX_BYTES`] per call, each call spanning
/// less than [`MAX_SPAN_MS`]. Records over [`MAX_EVENT_BYTES`] must be removed before.
pub fn plan_batches(mut records: Vec<SiemRecord>, now_ms: i64) -> Vec<Vec<SiemRecord>> {
    for r in &mut records {
        r.timestamp_ms = accepted_timestamp(r.timestamp_ms, now_ms);
    }
    records.sort_by_key(|r| r.timestamp_ms);
    let mut batches: Vec<Vec<SiemRecord>> = Vec::new();
    let mut current: Vec<SiemRecord> = Vec::new();
    let mut bytes = 0usize;
    for r in records {
        let size = r.message.len() + EVENT_OVERHEAD;
        let full = current.len() >= MAX_EVENTS
            || bytes + size > MAX_BYTES
            || current
                .first()
                .is_some_and(|first| r.timestamp_ms - first.timestamp_ms >= MAX_SPAN_MS);
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(r);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ts: i64, len: usize) -> SiemRecord {
        SiemRecord {
            key: format!("{ts}-{len}"),
            timestamp_ms: ts,
            message: "x".repeat(len),
        }
    }

    const NOW: i64 = 1_800_000_000_000;

    #[test]
    fn sorted_and_within_span() {
        let day = MAX_SPAN_MS;
        let recs = vec![
            rec(NOW - 1, 10),
            rec(NOW - 2 * day, 10),
            rec(NOW - day - 5, 10),
            rec(NOW - 2 * day + 1, 10),
        ];
        let batches = plan_batches(recs, NOW);
        for b in &batches {
            assert!(b.windows(2).all(|w| w[0].timestamp_ms <= w[1].timestamp_ms));
            let span = b.last().unwrap().timestamp_ms - b[0].timestamp_ms;
            assert!(span < day, "span {span}");
        }
        let flat: Vec<i64> = batches.iter().flatten().map(|r| r.timestamp_ms).collect();
        assert!(flat.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(flat.len(), 4);
    }

    #[test]
    fn count_and_byte_limits() {
        let recs: Vec<SiemRecord> = (0..25_000).map(|i| rec(NOW - 1000 + (i % 7), 10)).collect();
        let batches = plan_batches(recs, NOW);
        assert!(batches.iter().all(|b| b.len() <= MAX_EVENTS));
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>(), 25_000);

        let recs: Vec<SiemRecord> = (0..20).map(|_| rec(NOW, 200_000)).collect();
        let batches = plan_batches(recs, NOW);
        for b in &batches {
            let bytes: usize = b.iter().map(|r| r.message.len() + EVENT_OVERHEAD).sum();
            assert!(bytes <= MAX_BYTES);
        }
        assert_eq!(batches.len(), 4); // 5 × 200,026 bytes fit in 1 MiB
    }

    #[test]
    fn rejected_indices_follow_the_api_semantics() {
        // tooOld end exclusive, tooNew start inclusive.
        assert_eq!(rejected_indices(Some(2), None, Some(4), 6), [0, 1, 4, 5]);
        // Expired and too old are both prefixes: the longer counts, nothing twice.
        assert_eq!(rejected_indices(Some(1), Some(3), None, 5), [0, 1, 2]);
        assert_eq!(rejected_indices(None, Some(2), None, 5), [0, 1]);
        // Overlapping prefix and suffix: each event once.
        assert_eq!(rejected_indices(Some(4), None, Some(2), 5), [0, 1, 2, 3, 4]);
        // Nothing, and out-of-range or negative indexes.
        assert!(rejected_indices(None, None, None, 5).is_empty());
        assert!(rejected_indices(Some(0), Some(-1), Some(5), 5).is_empty());
        assert_eq!(rejected_indices(Some(9), None, None, 3), [0, 1, 2]);
        assert_eq!(rejected_indices(None, None, Some(-3), 3), Vec::<usize>::new());
    }

    #[test]
    fn unacceptable_times_become_delivery_time() {
        assert_eq!(accepted_timestamp(NOW - MAX_AGE_MS, NOW), NOW);
        assert_eq!(accepted_timestamp(NOW + 3 * 3_600_000, NOW), NOW);
        assert_eq!(accepted_timestamp(NOW - 1000, NOW), NOW - 1000);
    }
}
