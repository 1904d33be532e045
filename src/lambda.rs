//! The Lambda side of laneguard: configuration from the environment, the invocation [`Handler`]
//! and the CloudWatch Logs subscription event encoder — everything of `functions/*` that is not
//! wiring, so each function's `main.rs` stays ~30 lines and tests call the handler directly.
//!
//! Why it is built this way:
//! - **Built once, used per invocation.** [`FunctionConfig::from_env`] reads and checks every
//!   variable at start-up (a bad value stops the init with the variable's name, not the first
//!   invocation); [`Handler::new`] compiles the policy and rules and builds the sinks once. The
//!   policy and the detectors (with their threshold state) are shared by every invocation; each
//!   invocation gets a fresh [`Pipeline`] (parsers, SQL cache) because `Pipeline` owns its engine.
//! - **The same path as replay.** The raw event bytes go through laneguard's own capped envelope
//!   decoder ([`decode_lambda_event`]) and the shared [`Pipeline`] with the function's forced
//!   source, so a result seen in `laneguard replay` is the result production gives.
//!   `CONTROL_MESSAGE` events are acknowledged (counted as skipped).
//! - **Fail loudly, deliver once.** A sink that still fails after its retries fails the
//!   invocation, so Lambda's asynchronous retry and on-failure destination take over; the sinks
//!   remember what this container delivered, so the retry does not deliver it twice (the exact
//!   guarantee is in `docs/DEPLOY.md`, "Delivery guarantees").
//! - **No locks across `.await`.** The detectors' mutexes are held only inside the synchronous
//!   pipeline run; the sinks' dedup records only for a lookup or insert.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::engine::{Detector, Engine};
use crate::envelope::{DocContext, Limits, decode_lambda_event};
use crate::event::{Event, Origin, Source};
use crate::finding::{Finding, Severity};
use crate::pipeline::{Output, Pipeline};
use crate::policy::{Policy, PolicyChecks};
use crate::rules::RuleSet;
use crate::sink::{
    RetryPolicy, SiemRecord, SiemReport, SiemSink, Sink, SinkError, SnsReport, SnsSink, WriterSink,
};
use crate::sources::pgaudit::RDS_PREFIX;
use crate::sources::{FlowFormat, LinePrefix, ParseOptions};

/// Which of the three functions runs: decides the forced source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionKind {
    /// CloudTrail log group: every record is CloudTrail.
    CloudTrail,
    /// RDS audit (MySQL/MariaDB) and PostgreSQL log groups: the source comes from the log group
    /// name (`/aws/rds/…/audit` or `…/postgresql`), or `LANEGUARD_SOURCE`.
    RdsAudit,
    /// VPC flow-log group: every record is a flow record.
    VpcFlow,
}

impl FunctionKind {
    /// The function's name in logs and stream names.
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionKind::CloudTrail => "cloudtrail",
            FunctionKind::RdsAudit => "rds-audit",
            FunctionKind::VpcFlow => "vpc-flow",
        }
    }
}

/// Everything a function reads from its environment (see `docs/DEPLOY.md` for the table).
#[derive(Clone, Debug)]
pub struct FunctionConfig {
    /// Which function.
    pub kind: FunctionKind,
    /// `LANEGUARD_POLICY`: policy file; none → the embedded example policy.
    pub policy: Option<PathBuf>,
    /// `LANEGUARD_RULES`: rules directory; none → the embedded pack.
    pub rules: Option<PathBuf>,
    /// `LANEGUARD_SNS_TOPIC_ARN`: alert topic; none → no alerts (SIEM and logs only).
    pub sns_topic_arn: Option<String>,
    /// `LANEGUARD_SIEM_LOG_GROUP`: SIEM log group; none → no SIEM records.
    pub siem_log_group: Option<String>,
    /// `LANEGUARD_SIEM_EVENTS`: also write an OCSF activity record for every event.
    pub siem_events: bool,
    /// `LANEGUARD_MIN_SEVERITY`: least severity published to SNS (default `low`).
    pub min_severity: Severity,
    /// The forced source: the function's own, or `LANEGUARD_SOURCE` for rds-audit.
    pub source: Option<Source>,
    /// Parser options: `LANEGUARD_VPC_FORMAT` (vpc-flow), `LANEGUARD_PG_PREFIX` (rds-audit).
    pub parse: ParseOptions,
    /// `LANEGUARD_MAX_ATTEMPTS` (default 5), initial backoff `LANEGUARD_BACKOFF_MS` (100).
    pub retry: RetryPolicy,
    /// `LANEGUARD_DEDUP_CAPACITY`: ids remembered per sink (default 100,000).
    pub dedup_capacity: usize,
    /// `LANEGUARD_STDOUT_FINDINGS`: findings as JSON lines on stdout (default true).
    pub stdout_findings: bool,
    /// `AWS_LAMBDA_FUNCTION_NAME`, for the SIEM stream name.
    pub function_name: String,
}

/// A start-up configuration problem, naming the variable or file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable has a value that cannot be used.
    #[error("environment variable {var}={value:?}: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// Why it is wrong, and what would be right.
        reason: String,
    },
    /// The policy did not load.
    #[error("policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The rules directory could not be read.
    #[error("rules directory {dir}: {source}")]
    RulesDir {
        /// The directory.
        dir: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Rule files did not load (a function does not start with part of its rules).
    #[error("{} rule file(s) invalid: {}", errors.len(), errors.join("; "))]
    Rules {
        /// Each error, with file and line.
        errors: Vec<String>,
    },
}

fn invalid(var: &'static str, value: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        var,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(var, value, "expected true or false")),
    }
}

fn parse_num<T: std::str::FromStr>(var: &'static str, value: &str) -> Result<T, ConfigError> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(var, value, "expected a whole number"))
}

impl FunctionConfig {
    /// Read the configuration of `kind` from the process environment (once, at start-up).
    pub fn from_env(kind: FunctionKind) -> Result<Self, ConfigError> {
        Self::from_vars(kind, |name| std::env::var(name).ok())
    }

    /// Read the configuration from `var` (a lookup; empty values count as unset, as SAM passes
    /// empty parameters).
    pub fn from_vars(kind: FunctionKind, var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let min_severity = match get("LANEGUARD_MIN_SEVERITY") {
            None => Severity::Low,
            Some(v) => {
                serde_json::from_value(serde_json::Value::String(v.to_ascii_lowercase())).map_err(|_| {
                    invalid(
                        "LANEGUARD_MIN_SEVERITY",
                        &v,
                        "expected info, low, medium, high or critical",
                    )
                })?
            }
        };
        let source = match kind {
            FunctionKind::CloudTrail => Some(Source::CloudTrail),
            FunctionKind::VpcFlow => Some(Source::VpcFlow),
            FunctionKind::RdsAudit => match get("LANEGUARD_SOURCE").as_deref() {
                None | Some("auto") => None,
                Some(v) => match Source::from_name(v) {
                    Some(s @ (Source::MysqlAudit | Source::Pgaudit)) => Some(s),
                    _ => {
                        return Err(invalid(
                            "LANEGUARD_SOURCE",
                            v,
                            "expected auto, mysql-audit or pgaudit",
                        ));
                    }
                },
            },
        };
        let vpc_format = match get("LANEGUARD_VPC_FORMAT") {
            Some(v) => Some(FlowFormat::parse(&v).map_err(|e| invalid("LANEGUARD_VPC_FORMAT", &v, e))?),
            None => None,
        };
        let pg_prefix_text = get("LANEGUARD_PG_PREFIX").unwrap_or_else(|| RDS_PREFIX.to_owned());
        let pg_prefix = LinePrefix::compile(&pg_prefix_text)
            .map_err(|e| invalid("LANEGUARD_PG_PREFIX", &pg_prefix_text, e))?;
        let mut retry = RetryPolicy::default();
        if let Some(v) = get("LANEGUARD_MAX_ATTEMPTS") {
            retry.max_attempts = parse_num("LANEGUARD_MAX_ATTEMPTS", &v)?;
            if retry.max_attempts == 0 {
                return Err(invalid("LANEGUARD_MAX_ATTEMPTS", &v, "must be at least 1"));
            }
        }
        if let Some(v) = get("LANEGUARD_BACKOFF_MS") {
            retry.initial_backoff = Duration::from_millis(parse_num("LANEGUARD_BACKOFF_MS", &v)?);
        }
        let sns_topic_arn = get("LANEGUARD_SNS_TOPIC_ARN");
        if let Some(arn) = &sns_topic_arn
            && !arn.starts_with("arn:")
        {
            return Err(invalid(
                "LANEGUARD_SNS_TOPIC_ARN",
                arn,
                "expected a topic ARN (arn:aws:sns:…)",
            ));
        }
        Ok(FunctionConfig {
            kind,
            policy: get("LANEGUARD_POLICY").map(PathBuf::from),
            rules: get("LANEGUARD_RULES").map(PathBuf::from),
            sns_topic_arn,
            siem_log_group: get("LANEGUARD_SIEM_LOG_GROUP"),
            siem_events: get("LANEGUARD_SIEM_EVENTS")
                .map(|v| parse_bool("LANEGUARD_SIEM_EVENTS", &v))
                .transpose()?
                .unwrap_or(false),
            min_severity,
            source,
            parse: ParseOptions {
                vpc_format,
                pg_prefix: Some(pg_prefix),
                mysql_query_log_limit: None,
            },
            retry,
            dedup_capacity: get("LANEGUARD_DEDUP_CAPACITY")
                .map(|v| parse_num("LANEGUARD_DEDUP_CAPACITY", &v))
                .transpose()?
                .unwrap_or(crate::sink::sent::DEFAULT_CAPACITY),
            stdout_findings: get("LANEGUARD_STDOUT_FINDINGS")
                .map(|v| parse_bool("LANEGUARD_STDOUT_FINDINGS", &v))
                .transpose()?
                .unwrap_or(true),
            function_name: get("AWS_LAMBDA_FUNCTION_NAME")
                .unwrap_or_else(|| format!("laneguard-{}", kind.as_str())),
        })
    }
}

/// The AWS SDK configuration of the functions: region, credentials and endpoint from the
/// environment (as always), plus laneguard's retry policy — the SDK's *standard* strategy
/// (exponential backoff with jitter on throttling, 5xx and I/O errors) with
/// `retry.max_attempts` — and timeouts that fail a hung call well inside a Lambda timeout.
pub async fn aws_sdk_config(retry: &RetryPolicy) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .retry_config(sdk_retry_config(retry))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

/// The SDK retry configuration for `retry` (also used by tests that build their own config).
pub fn sdk_retry_config(retry: &RetryPolicy) -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(retry.max_attempts)
        .with_initial_backoff(retry.initial_backoff)
        .with_max_backoff(retry.max_backoff)
}

/// Shares one detector (policy checks, the rule set and its threshold state) between the
/// per-invocation engines. The lock is taken per event inside the synchronous pipeline run.
struct SharedDetector(Arc<Mutex<Box<dyn Detector + Send>>>);

impl Detector for SharedDetector {
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        match self.0.lock() {
            Ok(mut d) => d.detect(event, findings, matched),
            Err(poisoned) => poisoned.into_inner().detect(event, findings, matched),
        }
    }
}

/// SQL analysis cache of a container (kept across invocations; most traffic repeats a few
/// hundred statement shapes).
const INVOCATION_SQL_CACHE: usize = crate::engine::DEFAULT_SQL_CACHE;
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
    pub errors: Vec<SinkError>,
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
        match serde_json::to_string(&crate::ocsf::event_record(event)) {
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
    policy: Arc<Policy>,
    detectors: Vec<Arc<Mutex<Box<dyn Detector + Send>>>>,
    /// The engine between invocations: its SQL analysis cache survives, so a warm container
    /// analyses each statement shape once.
    engine: Mutex<Option<Engine>>,
    parse: ParseOptions,
    source: Option<Source>,
    siem_events: bool,
    sns: Option<SnsSink>,
    siem: Option<SiemSink>,
    stdout: Option<Mutex<WriterSink<Box<dyn Write + Send>>>>,
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
        let policy = match &config.policy {
            Some(p) => Policy::load(p)?,
            None => Policy::embedded(),
        };
        let (rules, errors) = match &config.rules {
            Some(dir) => RuleSet::load_dir(dir).map_err(|source| ConfigError::RulesDir {
                dir: dir.clone(),
                source,
            })?,
            None => RuleSet::embedded(),
        };
        if !errors.is_empty() {
            return Err(ConfigError::Rules {
                errors: errors.iter().map(ToString::to_string).collect(),
            });
        }
        let policy = Arc::new(policy);
        let checks: Box<dyn Detector + Send> = Box::new(PolicyChecks::new(Arc::clone(&policy)));
        let rules: Box<dyn Detector + Send> = Box::new(rules);
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
            Mutex::new(WriterSink::new(out, crate::sink::FindingFormat::Json))
        });
        Ok(Handler {
            policy,
            detectors: vec![Arc::new(Mutex::new(checks)), Arc::new(Mutex::new(rules))],
            engine: Mutex::new(None),
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
        self.stdout = out.map(|o| Mutex::new(WriterSink::new(o, crate::sink::FindingFormat::Json)));
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
        let engine = self
            .engine
            .lock()
            .ok()
            .and_then(|mut slot| slot.take())
            .unwrap_or_else(|| {
                let mut engine = Engine::new(INVOCATION_SQL_CACHE);
                engine.set_policy(Arc::clone(&self.policy));
                for d in &self.detectors {
                    engine.add_detector(Box::new(SharedDetector(Arc::clone(d))));
                }
                engine
            });
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
            let mut pipeline = Pipeline::new(&self.parse, engine, &mut collect);
            decode_lambda_event(event, &Origin::default(), &ctx, &mut pipeline);
            pipeline.end_stream();
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
            if let Ok(mut slot) = self.engine.lock() {
                *slot = Some(pipeline.into_engine());
            }
        }
        report.finding_ids = collect.findings.iter().map(|f| f.id.clone()).collect();
        let mut records = collect.records;
        for f in &collect.findings {
            match serde_json::to_string(&crate::ocsf::detection_finding(f)) {
                Ok(message) => records.push(SiemRecord {
                    key: format!("finding\u{1f}{}", f.id),
                    timestamp_ms: f.time.as_millisecond(),
                    message,
                }),
                Err(e) => tracing::error!(finding = %f.id, error = %e, "cannot render OCSF finding"),
            }
        }
        if self.siem.is_none() {
            records.clear();
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
            if let Err(e) = sink.send(&findings).and_then(|()| sink.flush()) {
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

/// One log event of a CloudWatch Logs subscription payload to encode.
#[derive(Clone, Copy, Debug)]
pub struct LogEventIn<'a> {
    /// Milliseconds since the epoch.
    pub timestamp_ms: i64,
    /// The log record.
    pub message: &'a str,
}

/// A CloudWatch Logs event id: 56 decimal digits, derived from the timestamp and a digest of
/// group, stream and position (deterministic, so a re-encoded file keeps its finding ids).
pub fn event_id(log_group: &str, log_stream: &str, timestamp_ms: i64, index: usize) -> String {
    let digest =
        xxhash_rust::xxh3::xxh3_128(format!("{log_group}\u{1f}{log_stream}\u{1f}{index}").as_bytes());
    let digits = format!("{:017}{:039}", timestamp_ms.max(0), digest);
    digits[..56].to_owned()
}

/// Build a Lambda event exactly as a CloudWatch Logs subscription delivers it:
/// `{"awslogs":{"data": base64(gzip(payload))}}`, the payload a `DATA_MESSAGE` from `owner` with
/// one log event per item of `events`.
pub fn subscription_event(
    owner: &str,
    log_group: &str,
    log_stream: &str,
    filter_name: &str,
    events: &[LogEventIn<'_>],
) -> std::io::Result<String> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Payload<'a> {
        message_type: &'a str,
        owner: &'a str,
        log_group: &'a str,
        log_stream: &'a str,
        subscription_filters: [&'a str; 1],
        log_events: Vec<Ev<'a>>,
    }
    #[derive(Serialize)]
    struct Ev<'a> {
        id: String,
        timestamp: i64,
        message: &'a str,
    }
    let payload = Payload {
        message_type: "DATA_MESSAGE",
        owner,
        log_group,
        log_stream,
        subscription_filters: [filter_name],
        log_events: events
            .iter()
            .enumerate()
            .map(|(i, e)| Ev {
                id: event_id(log_group, log_stream, e.timestamp_ms, i),
                timestamp: e.timestamp_ms,
                message: e.message,
            })
            .collect(),
    };
    wrap_payload(&serde_json::to_vec(&payload)?)
}

/// The `CONTROL_MESSAGE` CloudWatch Logs sends when a subscription is created (a reachability
/// check), as a Lambda event.
pub fn control_message_event(timestamp_ms: i64) -> std::io::Result<String> {
    let payload = serde_json::json!({
        "messageType": "CONTROL_MESSAGE",
        "owner": "CloudwatchLogs",
        "logGroup": "",
        "logStream": "",
        "subscriptionFilters": [],
        "logEvents": [{
            "id": "",
            "timestamp": timestamp_ms,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."
        }]
    });
    wrap_payload(&serde_json::to_vec(&payload)?)
}

fn wrap_payload(payload: &[u8]) -> std::io::Result<String> {
    use base64::Engine as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(payload)?;
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish()?);
    Ok(serde_json::json!({ "awslogs": { "data": data } }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn config_defaults_and_errors() {
        let c = FunctionConfig::from_vars(FunctionKind::VpcFlow, vars(&[])).unwrap();
        assert_eq!(c.source, Some(Source::VpcFlow));
        assert_eq!(c.min_severity, Severity::Low);
        assert!(c.sns_topic_arn.is_none() && !c.siem_events);
        let c = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[
                ("LANEGUARD_MIN_SEVERITY", "HIGH"),
                ("LANEGUARD_SNS_TOPIC_ARN", ""),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.source, c.min_severity, c.sns_topic_arn),
            (None, Severity::High, None)
        );
        let e = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[("LANEGUARD_MIN_SEVERITY", "loud")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_MIN_SEVERITY"), "{e}");
        let e = FunctionConfig::from_vars(
            FunctionKind::VpcFlow,
            vars(&[("LANEGUARD_VPC_FORMAT", "${nope}")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_VPC_FORMAT"), "{e}");
        let e = FunctionConfig::from_vars(
            FunctionKind::RdsAudit,
            vars(&[("LANEGUARD_SOURCE", "cloudtrail")]),
        )
        .unwrap_err();
        assert!(e.to_string().contains("LANEGUARD_SOURCE"), "{e}");
    }

    #[test]
    fn event_ids_are_56_digits_and_stable() {
        let a = event_id("g", "s", 1_800_000_000_000, 0);
        assert_eq!(a.len(), 56);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, event_id("g", "s", 1_800_000_000_000, 0));
        assert_ne!(a, event_id("g", "s", 1_800_000_000_000, 1));
    }
}
