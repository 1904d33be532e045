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
//! - **Retries** are described in [`crate::retry`]; a finding that still cannot be published
//!   fails [`SnsSink::send`], naming the topic and the rules, and the invocation with it.

use std::collections::HashSet;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};

use crate::DeliveryError;
use crate::retry::RetryPolicy;
use crate::sent::SentLog;
use laneguard_core::finding::{Finding, Severity};

/// `PublishBatch` takes at most this many entries.
pub const MAX_BATCH_ENTRIES: usize = 10;
/// SNS caps one message, and the sum of a batch's messages, at 256 KiB.
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
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
        let mut pending: Vec<(&Finding, String)> = Vec::new();
        for f in findings {
            if f.shadow {
                report.shadow += 1;
            } else if f.severity < self.min_severity {
                report.below_threshold += 1;
            } else if self.sent.contains(&f.id) || !seen.insert(f.id.as_str()) {
                report.already_sent += 1;
            } else {
                let body = message_body(f).map_err(|e| self.error(&[f], format!("rendering: {e}")))?;
                if body.len() > MAX_BATCH_BYTES {
                    return Err(self.error(&[f], format!("message of {} bytes exceeds 256 KiB", body.len())));
                }
                pending.push((f, body));
            }
        }
        let mut start = 0;
        while start < pending.len() {
            let mut end = start;
            let mut bytes = 0;
            while end < pending.len()
                && end - start < MAX_BATCH_ENTRIES
                && bytes + pending[end].1.len() <= MAX_BATCH_BYTES
            {
                bytes += pending[end].1.len();
                end += 1;
            }
            self.publish_chunk(&pending[start..end], &mut report).await?;
            start = end;
        }
        Ok(report)
    }

    async fn publish_chunk(
        &self,
        chunk: &[(&Finding, String)],
        report: &mut SnsReport,
    ) -> Result<(), DeliveryError> {
        // Indexes into `chunk` still to publish; batch entry ids are those indexes.
        let mut todo: Vec<usize> = (0..chunk.len()).collect();
        let mut attempt = 1;
        loop {
            let mut entries = Vec::with_capacity(todo.len());
            for &i in &todo {
                let (f, body) = &chunk[i];
                entries.push(self.entry(i, f, body).map_err(|e| self.error(&[f], e))?);
            }
            let out = self
                .client
                .publish_batch()
                .topic_arn(&self.topic_arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    let fs: Vec<&Finding> = todo.iter().map(|&i| chunk[i].0).collect();
                    self.error(
                        &fs,
                        format!(
                            "PublishBatch failed after retries: {}",
                            aws_sdk_sns::error::DisplayErrorContext(&e)
                        ),
                    )
                })?;
            for ok in out.successful() {
                if let Some(i) = ok.id().and_then(|id| id.parse::<usize>().ok())
                    && let Some((f, _)) = chunk.get(i)
                {
                    self.sent.insert(&f.id);
                    report.published += 1;
                    if attempt > 1 {
                        report.retried_entries += 1;
                    }
                }
            }
            let mut retry = Vec::new();
            for failed in out.failed() {
                let Some(i) = failed.id().parse::<usize>().ok().filter(|&i| i < chunk.len()) else {
                    continue;
                };
                if failed.sender_fault() {
                    return Err(self.error(
                        &[chunk[i].0],
                        format!(
                            "SNS refused the message ({}: {})",
                            failed.code(),
                            failed.message().unwrap_or("no message")
                        ),
                    ));
                }
                retry.push(i);
            }
            if retry.is_empty() {
                return Ok(());
            }
            if attempt >= self.retry.max_attempts {
                let fs: Vec<&Finding> = retry.iter().map(|&i| chunk[i].0).collect();
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
        let string = |v: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| e.to_string())
        };
        let mut b = PublishBatchRequestEntry::builder()
            .id(index.to_string())
            .subject(subject(f))
            .message(body)
            .message_attributes("severity", string(f.severity.as_str())?)
            .message_attributes(
                "severity_rank",
                MessageAttributeValue::builder()
                    .data_type("Number")
                    .string_value(severity_rank(f.severity).to_string())
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .message_attributes("rule_id", string(&f.rule_id)?)
            .message_attributes("source", string(f.source.as_str())?)
            .message_attributes("zone", string(f.zone.as_deref().unwrap_or("unknown"))?)
            .message_attributes("finding_id", string(&f.id)?);
        if let Some(ds) = f.datastore.as_deref().filter(|d| !d.is_empty()) {
            b = b.message_attributes("datastore", string(ds)?);
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
