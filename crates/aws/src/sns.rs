//! The alert sink: findings to an Amazon SNS topic, ten per `PublishBatch` call.
//!
//! Why it is built this way:
//! - **People read it, machines route it.** The subject says severity, rule and title in at most
//!   100 ASCII characters (SNS's limit; e-mail subscribers see it first); the body is indented
//!   JSON — a one-line `summary` followed by the whole finding. Message attributes `severity`,
//!   `severity_rank` (a Number, for `numeric >=` filters), `rule_id`, `source`, `zone`,
//!   `datastore` and `finding_id` let subscription filter policies route without parsing bodies.
//! - **Only alerts page.** Shadow-mode findings never reach SNS, nor findings below the minimum
//!   severity; both still go to the SIEM and to stdout.
//! - **FIFO topics** (ARN ends in `.fifo`) get the finding id as `MessageDeduplicationId` — SNS
//!   then drops a redelivered finding within its 5-minute window, whichever container sends it —
//!   and the datastore (else the source) as `MessageGroupId`, so alerts about one datastore keep
//!   their order while datastores do not block each other.
//! - **Never twice from one container.** Ids delivered are remembered in a bounded [`SentLog`];
//!   a retried invocation skips them.
//! - **Inside every `PublishBatch` limit**: at most 10 entries and 256 KiB per call, and 256 KiB
//!   per message — its body, subject and attributes counted ([`entry_size`]). A finding whose
//!   message would be larger is kept whole with its longest strings cut ([`crate::fit`], counted
//!   as `truncated`).
//! - **Retries** are described in [`crate::retry`]; a finding that still cannot be published
//!   fails [`SnsSink::send`], naming the topic and the rules, and the invocation with it.
//! - **A poison message does not block the others.** An entry SNS refuses as the sender's fault
//!   (`SenderFault = true`: retrying the same message cannot succeed), or one that cannot fit
//!   even cut, is **parked**: not retried, counted (`parked`, the `AlertsParked` metric), and
//!   logged as an error with its finding id and SNS's error code — never the message. The rest
//!   of the batch is still published, and the invocation does not fail, so a redelivery is not
//!   refused for ever. A parked finding still reaches the SIEM and stdout like every finding.

use std::collections::HashSet;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::DeliveryError;
use crate::fit::{Render, fit_json};
use crate::retry::RetryPolicy;
use crate::sent::SentLog;
use laneguard_core::finding::{Finding, Severity};

/// `PublishBatch` takes at most this many entries.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SNS caps the sum of a batch's messages (bodies and attributes) at 256 KiB.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// SNS caps one message, its attributes included, at 256 KiB.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS caps a subject at 100 characters.
pub const MAX_SUBJECT: usize = 100;

/// What one [`SnsSink::send`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SnsReport {
    /// Findings published now.
    pub published: u64,
    /// Alertable findings skipped because this container already published them.
    pub already_sent: u64,
    /// Findings of shadow-mode rules (never published).
    pub shadow: u64,
    /// Findings below the minimum severity (not published).
    pub below_threshold: u64,
    /// Entries SNS refused with a server-side fault and that succeeded on a sink retry.
    pub retried_entries: u64,
    /// Findings not published and not retried: refused by SNS as the sender's fault, or too
    /// large even cut. Each is logged with its finding id; all reach the SIEM.
    pub parked: u64,
    /// Findings published with their longest strings cut to fit SNS's message size limit.
    pub truncated: u64,
}

/// Publishes alertable findings to one SNS topic.
#[derive(Debug)]
pub struct SnsSink {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    fifo: bool,
    min_severity: Severity,
    retry: RetryPolicy,
    sent: SentLog,
}

impl SnsSink {
    /// A sink publishing findings of at least `min_severity` to `topic_arn`.
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>, min_severity: Severity) -> Self {
        let topic_arn = topic_arn.into();
        SnsSink {
            client,
            fifo: topic_arn.ends_with(".fifo"),
            topic_arn,
            min_severity,
            retry: RetryPolicy::default(),
            sent: SentLog::default(),
        }
    }

    /// Use `retry` for entries a successful call refused.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Remember at most `capacity` published ids.
    pub fn with_sent_capacity(mut self, capacity: usize) -> Self {
        self.sent = SentLog::new(capacity);
        self
    }

    /// The topic.
    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    /// Whether the topic is a FIFO topic.
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    /// Whether `f` is an alert for this sink (not shadow, severe enough).
    pub fn is_alert(&self, f: &Finding) -> bool {
        !f.shadow && f.severity >= self.min_severity
    }

    /// Publish every alertable finding not yet published by this container.
    pub async fn send(&self, findings: &[Finding]) -> Result<SnsReport, DeliveryError> {
        let mut report = SnsReport::default();
        let mut seen = HashSet::new();
        let mut pending: Vec<Pending<'_>> = Vec::new();
        for f in findings {
            if f.shadow {
                report.shadow += 1;
            } else if f.severity < self.min_severity {
                report.below_threshold += 1;
            } else if self.sent.contains(&f.id) || !seen.insert(f.id.as_str()) {
                report.already_sent += 1;
            } else if let Some(p) = self.prepare(f, &mut report) {
                pending.push(p);
            }
        }
        for chunk in chunks(&pending) {
            self.publish_chunk(chunk, &mut report).await?;
        }
        Ok(report)
    }

    /// The message of `f` within SNS's size limit (cut if needed), or `None` after parking it.
    fn prepare<'f>(&self, f: &'f Finding, report: &mut SnsReport) -> Option<Pending<'f>> {
        let overhead = entry_size(f, "", self.fifo);
        let limit = MAX_MESSAGE_BYTES.saturating_sub(overhead);
        let body = match message_body(f) {
            Ok(b) => b,
            Err(e) => {
                self.park(f, "RenderError", &e.to_string(), report);
                return None;
            }
        };
        let body = if body.len() <= limit {
            body
        } else {
            let Some(cut) = fit_json(&body, limit, Render::Pretty) else {
                self.park(
                    f,
                    "MessageTooLong",
                    &format!("{} bytes even cut", body.len()),
                    report,
                );
                return None;
            };
            tracing::warn!(topic = %self.topic_arn, finding_id = %f.id, rule_id = %f.rule_id, bytes = body.len(), limit, "finding message over SNS's limit; its longest strings were cut");
            report.truncated += 1;
            cut
        };
        Some(Pending {
            size: overhead + body.len(),
            finding: f,
            body,
        })
    }

    /// Count and log a finding that is not published and not retried. The log names the
    /// finding and the reason, never the message (it may hold what a person must not read in a
    /// log).
    fn park(&self, f: &Finding, code: &str, detail: &str, report: &mut SnsReport) {
        report.parked += 1;
        tracing::error!(
            topic = %self.topic_arn,
            finding_id = %f.id,
            rule_id = %f.rule_id,
            code,
            detail,
            "finding parked: not published to SNS and not retried (it is in the SIEM)"
        );
    }

    async fn publish_chunk(
        &self,
        chunk: &[Pending<'_>],
        report: &mut SnsReport,
    ) -> Result<(), DeliveryError> {
        // Indexes into `chunk` still to publish; batch entry ids are those indexes.
        let mut todo: Vec<usize> = (0..chunk.len()).collect();
        let mut attempt = 1;
        loop {
            let mut entries = Vec::with_capacity(todo.len());
            for &i in &todo {
                let p = &chunk[i];
                entries.push(
                    self.entry(i, p.finding, &p.body)
                        .map_err(|e| self.error(&[p.finding], e))?,
                );
            }
            let out = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    let fs: Vec<&Finding> = todo.iter().map(|&i| chunk[i].finding).collect();
                    self.error(
                        &fs,
                        format!(
                            "PublishBatch failed after retries: {}",
                            aws_sdk_sns::error::DisplayErrorContext(&e)
                        ),
                    )
                })?;
            let index = |id: &str| id.parse::<usize>().ok().filter(|i| todo.contains(i));
            let mut answered = HashSet::new();
            for ok in out.successful() {
                if let Some(i) = ok.id().and_then(index)
                    && answered.insert(i)
                {
                    self.sent.insert(&chunk[i].finding.id);
                    report.published += 1;
                    if attempt > 1 {
                        report.retried_entries += 1;
                    }
                }
            }
            for failed in out.failed() {
                let Some(i) = index(failed.id()) else {
                    continue;
                };
                if failed.sender_fault() && answered.insert(i) {
                    self.park(
                        chunk[i].finding,
                        failed.code(),
                        "refused as the sender's fault",
                        report,
                    );
                }
            }
            // A server-side failure, or an entry SNS did not answer at all: retried.
            let retry: Vec<usize> = todo.iter().copied().filter(|i| !answered.contains(i)).collect();
            if retry.is_empty() {
                return Ok(());
            }
            if attempt >= self.retry.max_attempts {
                let fs: Vec<&Finding> = retry.iter().map(|&i| chunk[i].finding).collect();
                return Err(self.error(
                    &fs,
                    format!("{} entries still failing after {attempt} attempts", retry.len()),
                ));
            }
            tracing::warn!(topic = %self.topic_arn, entries = retry.len(), attempt, "SNS refused entries; retrying");
            tokio::time::sleep(self.retry.backoff(attempt)).await;
            attempt += 1;
            todo = retry;
        }
    }

    fn entry(&self, index: usize, f: &Finding, body: &str) -> Result<PublishBatchRequestEntry, String> {
        let mut b = PublishBatchRequestEntry::builder()
            .id(index.to_string())
            .subject(subject(f))
            .message(body);
        for (name, data_type, value) in attributes(f) {
            b = b.message_attributes(
                name,
                MessageAttributeValue::builder()
                    .data_type(data_type)
                    .string_value(value)
                    .build()
                    .map_err(|e| e.to_string())?,
            );
        }
        if self.fifo {
            b = b.message_deduplication_id(&f.id).message_group_id(group_id(f));
        }
        b.build().map_err(|e| e.to_string())
    }

    fn error(&self, findings: &[&Finding], reason: String) -> DeliveryError {
        let mut rule_ids: Vec<String> = findings.iter().map(|f| f.rule_id.clone()).collect();
        rule_ids.sort();
        rule_ids.dedup();
        DeliveryError::Sns {
            topic_arn: self.topic_arn.clone(),
            rule_ids,
            reason,
        }
    }
}

/// A finding ready to publish: its message and the bytes its entry counts.
struct Pending<'f> {
    finding: &'f Finding,
    body: String,
    size: usize,
}

/// `pending` in `PublishBatch` calls: at most [`MAX_BATCH_ENTRIES`] entries and
/// [`MAX_BATCH_BYTES`] per call, in order (every entry alone is within the limit).
fn chunks<'a, 'f>(pending: &'a [Pending<'f>]) -> Vec<&'a [Pending<'f>]> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < pending.len() {
        let mut end = start;
        let mut bytes = 0;
        while end < pending.len()
            && end - start < MAX_BATCH_ENTRIES
            && (end == start || bytes + pending[end].size <= MAX_BATCH_BYTES)
        {
            bytes += pending[end].size;
            end += 1;
        }
        out.push(&pending[start..end]);
        start = end;
    }
    out
}

/// The message attributes of `f`: (name, data type, value), for subscription filter policies.
fn attributes(f: &Finding) -> Vec<(&'static str, &'static str, String)> {
    let mut a = vec![
        ("severity", "String", f.severity.as_str().to_owned()),
        ("severity_rank", "Number", severity_rank(f.severity).to_string()),
        ("rule_id", "String", f.rule_id.clone()),
        ("source", "String", f.source.as_str().to_owned()),
        (
            "zone",
            "String",
            f.zone.as_deref().unwrap_or("unknown").to_owned(),
        ),
        ("finding_id", "String", f.id.clone()),
    ];
    if let Some(ds) = f.datastore.as_deref().filter(|d| !d.is_empty()) {
        a.push(("datastore", "String", ds.to_owned()));
    }
    a
}

/// The bytes an entry of `f` with `body` counts against SNS's limits: the body, the subject,
/// each attribute's name, data type and value, and (FIFO) the deduplication and group ids —
/// more than SNS strictly counts (it counts body and attributes), so the limit is never met
/// by surprise.
pub fn entry_size(f: &Finding, body: &str, fifo: bool) -> usize {
    let attributes: usize = attributes(f)
        .iter()
        .map(|(n, t, v)| n.len() + t.len() + v.len())
        .sum();
    let fifo = if fifo { f.id.len() + group_id(f).len() } else { 0 };
    body.len() + subject(f).len() + attributes + fifo
}

/// 1 (info) … 5 (critical), for numeric subscription filters.
pub fn severity_rank(s: Severity) -> u8 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// `[laneguard HIGH] rule.id: Title`, ASCII only, at most 100 characters.
pub fn subject(f: &Finding) -> String {
    let raw = format!(
        "[laneguard {}] {}: {}",
        f.severity.as_str().to_ascii_uppercase(),
        f.rule_id,
        f.title
    );
    let mut s: String = raw
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '-' })
        .take(MAX_SUBJECT)
        .collect();
    s.truncate(s.trim_end().len());
    s
}

/// One line a person reads first: what, who, where.
pub fn summary(f: &Finding) -> String {
    let mut s = format!(
        "{} {}: {}",
        f.severity.as_str().to_ascii_uppercase(),
        f.rule_id,
        f.title
    );
    let who = match (&f.actor.user, &f.actor.ip, &f.actor.principal) {
        (Some(u), Some(ip), _) => Some(format!("{u}@{ip}")),
        (Some(u), None, _) => Some(u.clone()),
        (None, Some(ip), _) => Some(ip.to_string()),
        (None, None, Some(p)) => Some(p.clone()),
        (None, None, None) => None,
    };
    if let Some(who) = who {
        s.push_str(" — by ");
        s.push_str(&who);
    }
    if let Some(z) = &f.zone {
        s.push_str(&format!(" (zone {z})"));
    }
    if let Some(ds) = &f.datastore {
        s.push_str(&format!(" on {ds}"));
    }
    if let Some(st) = &f.statement {
        s.push_str(&format!(
            ": {} {}",
            st.command,
            st.normalized.chars().take(200).collect::<String>()
        ));
    } else if let Some(api) = &f.api {
        s.push_str(&format!(": {} {}", api.service, api.action));
    }
    s
}

/// The message body: indented JSON, `summary` first, then the finding (normalized statement
/// only — the finding never holds a raw literal).
pub fn message_body(f: &Finding) -> Result<String, serde_json::Error> {
    #[derive(serde::Serialize)]
    struct Body<'a> {
        summary: String,
        finding: &'a Finding,
    }
    serde_json::to_string_pretty(&Body {
        summary: summary(f),
        finding: f,
    })
}

/// FIFO message group: the datastore (order per datastore), else the source.
fn group_id(f: &Finding) -> String {
    let g = f.datastore.as_deref().unwrap_or(f.source.as_str());
    let g: String = g.chars().filter(|c| c.is_ascii_graphic()).take(128).collect();
    if g.is_empty() {
        f.source.as_str().to_owned()
    } else {
        g
    }
}
