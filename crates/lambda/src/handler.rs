//! The invocation handler of every function: decode the event, detect, deliver.
//!
//! Why it is built this way:
//! - **Built once, used per invocation.** [`Handler::new`] compiles the policy and rules
//!   ([`laneguard_core::config`], the same assembly as the CLI) and builds the sinks once. The
//!   engine — its SQL analysis cache and the detectors' threshold state — lives in the handler
//!   behind one mutex, taken once per invocation for the synchronous pipeline run, so a warm
//!   container analyses each statement shape once and counts across invocations.
//! - **The same path as replay.** The raw event bytes go through laneguard's own capped envelope
//!   decoder ([`decode_lambda_event`]) and the shared [`Pipeline`] with the function's forced
//!   source, so a result seen in `laneguard replay` is the result production gives.
//!   `CONTROL_MESSAGE` events are acknowledged (counted as skipped).
//! - **Fail loudly, deliver once.** A sink that still fails after its retries fails the
//!   invocation, so Lambda's asynchronous retry and on-failure destination take over; the sinks
//!   remember what this container delivered, so the retry does not deliver it twice (the exact
//!   guarantee is in `docs/DEPLOY.md`, "Delivery guarantees").
//! - **No locks across `.await`.** The engine's mutex is held only inside the synchronous
//!   pipeline run; the sinks' dedup records only for a lookup or insert.

use std::io::Write;
use std::sync::Mutex;

use serde::Serialize;

use laneguard_aws::{DeliveryError, SiemRecord, SiemReport, SiemSink, SnsReport, SnsSink};
use laneguard_core::config::{Config, Sources};
use laneguard_core::diagnostic::Diagnostic;
use laneguard_core::engine::Engine;
use laneguard_core::envelope::{DocContext, Limits, RecordSink, decode_lambda_event};
use laneguard_core::event::{Event, Origin, Source};
use laneguard_core::finding::Finding;
use laneguard_core::output::{FindingFormat, FindingWriter};
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::sources::ParseOptions;

use crate::env::{ConfigError, FunctionConfig};

/// SQL analysis cache of a container (kept across invocations; most traffic repeats a few
/// hundred statement shapes).
const INVOCATION_SQL_CACHE: usize = laneguard_core::engine::DEFAULT_SQL_CACHE;
/// Diagnostics reported in full per invocation (all are counted).
const DIAGNOSTICS_SHOWN: usize = 20;

/// What one invocation did: the function's response, and its summary log line.
#[derive(Clone, Debug, Default, Serialize)]
pub struct InvocationReport {
    /// Log records in the event.
    pub records: u64,
    /// Events produced.
    pub events: u64,
    /// Records skipped on purpose (control messages, no-activity lines…).
    pub skipped: u64,
    /// Records that could not be read.
    pub diagnostics: u64,
    /// Findings raised (alerts and shadow).
    pub findings: u64,
    /// The first diagnostics in full.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostic_samples: Vec<String>,
    /// The finding ids raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finding_ids: Vec<String>,
    /// What the SNS sink did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsReport>,
    /// What the SIEM sink did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siem: Option<SiemReport>,
}

/// An invocation that must fail (so Lambda retries it), with every sink error.
#[derive(Debug, thiserror::Error)]
#[error("delivery failed: {}", errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct HandlerError {
    /// The sinks that failed, each naming its destination.
    pub errors: Vec<DeliveryError>,
    /// What the invocation did before failing.
    pub report: Box<InvocationReport>,
}

/// Collects one invocation's findings and (optionally) OCSF activity records.
struct Collect {
    activity: bool,
    findings: Vec<Finding>,
    records: Vec<SiemRecord>,
    render_errors: u64,
}

impl Output for Collect {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        if !self.activity {
            return;
        }
        match serde_json::to_string(&laneguard_core::ocsf::event_record(event)) {
            Ok(message) => self.records.push(SiemRecord {
                key: format!("event\u{1f}{}", event.origin),
                timestamp_ms: event.time.as_millisecond(),
                message,
            }),
            Err(e) => {
                self.render_errors += 1;
                tracing::error!(origin = %event.origin, error = %e, "cannot render OCSF activity record");
            }
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.findings.extend_from_slice(findings);
    }
}

/// The invocation handler of every function: decode, detect, deliver.
pub struct Handler {
    /// The engine of the container: its SQL analysis cache and detection state (threshold
    /// windows) survive between invocations. Locked once per invocation, for the synchronous
    /// pipeline run only (never across an `.await`).
    engine: Mutex<Engine>,
    parse: ParseOptions,
    source: Option<Source>,
    siem_events: bool,
    sns: Option<SnsSink>,
    siem: Option<SiemSink>,
    stdout: Option<Mutex<FindingWriter<Box<dyn Write + Send>>>>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("source", &self.source)
            .field("sns", &self.sns.as_ref().map(SnsSink::topic_arn))
            .field("siem", &self.siem.as_ref().map(SiemSink::log_group))
            .finish_non_exhaustive()
    }
}

impl Handler {
    /// Load the policy and rules of `config` and build its sinks on `sdk` (the SNS and SIEM
    /// sinks exist only when their variables are set).
    pub fn new(config: &FunctionConfig, sdk: &aws_config::SdkConfig) -> Result<Handler, ConfigError> {
        let sources = Sources::from_paths(config.policy.as_deref(), config.rules.as_deref());
        let engine = Config::load(&sources)?
            .require_all_rules()?
            .engine_with_cache(INVOCATION_SQL_CACHE);
        let sns = config.sns_topic_arn.as_ref().map(|arn| {
            SnsSink::new(aws_sdk_sns::Client::new(sdk), arn, config.min_severity)
                .with_retry(config.retry)
                .with_sent_capacity(config.dedup_capacity)
        });
        let siem = config.siem_log_group.as_ref().map(|group| {
            SiemSink::new(
                aws_sdk_cloudwatchlogs::Client::new(sdk),
                group,
                stream_name(&config.function_name),
            )
            .with_retry(config.retry)
            .with_sent_capacity(config.dedup_capacity)
        });
        let stdout = config.stdout_findings.then(|| {
            let out: Box<dyn Write + Send> = Box::new(std::io::stdout());
            Mutex::new(FindingWriter::new(out, FindingFormat::Json))
        });
        Ok(Handler {
            engine: Mutex::new(engine),
            parse: config.parse.clone(),
            source: config.source,
            siem_events: config.siem_events,
            sns,
            siem,
            stdout,
        })
    }

    /// Write findings as JSON lines to `out` instead of stdout (tests), or nowhere (`None`).
    pub fn with_stdout(mut self, out: Option<Box<dyn Write + Send>>) -> Self {
        self.stdout = out.map(|o| Mutex::new(FindingWriter::new(o, FindingFormat::Json)));
        self
    }

    /// The SNS sink, if configured.
    pub fn sns(&self) -> Option<&SnsSink> {
        self.sns.as_ref()
    }

    /// The SIEM sink, if configured.
    pub fn siem(&self) -> Option<&SiemSink> {
        self.siem.as_ref()
    }

    /// Run the pipeline over one invocation's raw event bytes (`{"awslogs":{"data":…}}`) and
    /// return what it produced, without delivering anything.
    pub fn detect(&self, event: &[u8]) -> (InvocationReport, Vec<Finding>, Vec<SiemRecord>) {
        // A panic elsewhere cannot leave the engine half-updated in a way that matters more than
        // losing the container: keep going with what it holds.
        let mut engine = match self.engine.lock() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut collect = Collect {
            activity: self.siem_events && self.siem.is_some(),
            findings: Vec::new(),
            records: Vec::new(),
            render_errors: 0,
        };
        let ctx = DocContext {
            limits: Limits::default(),
            source: self.source,
        };
        let mut report = InvocationReport::default();
        {
            let mut pipeline = Pipeline::new(&self.parse, &mut engine, &mut collect);
            decode_lambda_event(event, &Origin::default(), &ctx, &mut pipeline);
            RecordSink::end_stream(&mut pipeline);
            let stats = pipeline.stats();
            report.records = stats.records;
            report.events = stats.total_events();
            report.skipped = stats.total_skipped();
            report.findings = stats.findings;
            let diagnostics = pipeline.diagnostics_mut();
            report.diagnostics = diagnostics.total();
            report.diagnostic_samples = diagnostics
                .take_kept()
                .iter()
                .take(DIAGNOSTICS_SHOWN)
                .map(Diagnostic::to_string)
                .collect();
        }
        report.finding_ids = collect.findings.iter().map(|f| f.id.clone()).collect();
        let mut records = collect.records;
        // OCSF findings are rendered only for a SIEM that will receive them.
        if self.siem.is_some() {
            for f in &collect.findings {
                match serde_json::to_string(&laneguard_core::ocsf::detection_finding(f)) {
                    Ok(message) => records.push(SiemRecord {
                        key: format!("finding\u{1f}{}", f.id),
                        timestamp_ms: f.time.as_millisecond(),
                        message,
                    }),
                    Err(e) => tracing::error!(finding = %f.id, error = %e, "cannot render OCSF finding"),
                }
            }
        }
        (report, collect.findings, records)
    }

    /// Handle one invocation: detect, then deliver to stdout, the SIEM and SNS (the last two
    /// concurrently). Any sink still failing after its retries fails the invocation; what was
    /// delivered before is remembered, so Lambda's retry does not deliver it again.
    pub async fn handle(&self, event: &[u8]) -> Result<InvocationReport, HandlerError> {
        let (mut report, findings, records) = self.detect(event);
        for d in &report.diagnostic_samples {
            tracing::warn!(diagnostic = %d, "record not read");
        }
        let mut errors = Vec::new();
        if let Some(out) = &self.stdout
            && !findings.is_empty()
        {
            let mut sink = match out.lock() {
                Ok(s) => s,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Err(e) = sink.write(&findings).and_then(|()| sink.flush()) {
                // The function's own log is not a delivery target: report, do not fail.
                tracing::error!(error = %e, "cannot write findings to stdout");
            }
        }
        let now_ms = jiff::Timestamp::now().as_millisecond();
        let siem = async {
            match &self.siem {
                Some(s) => Some(s.send(records, now_ms).await),
                None => None,
            }
        };
        let sns = async {
            match &self.sns {
                Some(s) => Some(s.send(&findings).await),
                None => None,
            }
        };
        let (siem, sns) = tokio::join!(siem, sns);
        match siem {
            Some(Ok(r)) => report.siem = Some(r),
            Some(Err(e)) => errors.push(e),
            None => {}
        }
        match sns {
            Some(Ok(r)) => report.sns = Some(r),
            Some(Err(e)) => errors.push(e),
            None => {}
        }
        tracing::info!(
            records = report.records,
            events = report.events,
            skipped = report.skipped,
            diagnostics = report.diagnostics,
            findings = report.findings,
            published = report.sns.map_or(0, |s| s.published),
            siem_written = report.siem.map_or(0, |s| s.written),
            failed_sinks = errors.len(),
            "invocation done"
        );
        if errors.is_empty() {
            Ok(report)
        } else {
            for e in &errors {
                tracing::error!(error = %e, "sink failed; failing the invocation so Lambda retries it");
            }
            Err(HandlerError {
                errors,
                report: Box::new(report),
            })
        }
    }
}

/// `function/YYYY/MM/DD/<16 hex>`: one SIEM stream per container, named like Lambda's own.
fn stream_name(function_name: &str) -> String {
    let now = jiff::Timestamp::now();
    let nonce = xxhash_rust::xxh3::xxh3_64(
        format!("{}{}{}", now.as_nanosecond(), std::process::id(), function_name).as_bytes(),
    );
    format!("{function_name}/{}/{nonce:016x}", now.strftime("%Y/%m/%d"))
}
