//! The invocation handler of every function: decode the event, detect, deliver.
//!
//! Why it is built this way:
//! - **Built once, used per invocation.** [`Handler::new`] loads the policy and rules — a bundle
//!   from S3 or the function's file system, validated exactly as `laneguard validate` does; an
//!   invalid one fails the start-up with its `file:line` — compiles them ([`laneguard_core::config`],
//!   the same assembly as the CLI) and builds the sinks once. The engine — its SQL analysis
//!   cache and the detectors' state — lives in the handler behind one mutex, taken once per
//!   invocation for the synchronous pipeline run, so a warm container analyses each statement
//!   shape once. An S3 bundle is re-checked every `LANEGUARD_CONFIG_TTL_SECONDS`; a new version
//!   replaces the engine only if it loads whole (otherwise the running one stays, and the error
//!   is logged and counted as `ConfigErrors`).
//! - **Thresholds across containers.** With `LANEGUARD_STATE_TABLE`, threshold rules count in
//!   DynamoDB ([`laneguard_aws::state`]), so a burst spread over several containers is seen
//!   whole and raised once; sequence rules' step matches meet the other functions' halves there
//!   ([`laneguard_aws::sequences`]), and absences whose window has passed the batch's newest event
//!   time are decided there, once across containers.
//! - **Health.** Every invocation writes EMF metric lines ([`crate::metrics`]).
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
//! - **Encrypted activity records (the das function).** The engine does no I/O, so the data keys
//!   a batch needs are resolved first: a scan of the event lists each record's KMS ciphertext and
//!   encryption context, the container's bounded key cache answers what it can and KMS the rest
//!   (one call per distinct key), then the pipeline runs with those keys. A record whose key
//!   failed for a reason that may pass (throttling, 5xx) and every record after it are left to
//!   Kinesis (`batchItemFailures`: the first one's sequence number; a batch is one shard, and
//!   Kinesis resumes from there, so no record is processed twice); a record that can never
//!   open (wrong context, tampered, not JSON) is a diagnostic naming its sequence number.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use laneguard_aws::kms::DataKeyClient;
use laneguard_aws::s3::{self, ObjectIdentity};
use laneguard_aws::sequences::{SequenceResolution, SequenceRules};
use laneguard_aws::state::{Resolution, SharedState};
use laneguard_aws::{DeliveryError, SiemRecord, SiemReport, SiemSink, SnsReport, SnsSink};
use laneguard_aws::{aws_sdk_cloudwatchlogs, aws_sdk_dynamodb, aws_sdk_s3, aws_sdk_sns};
use laneguard_core::bundle::{Bundle, BundleLimits};
use laneguard_core::config::{Config, EngineOptions, InvalidRules, Sources};
use laneguard_core::detector::DeferredThreshold;
use laneguard_core::diagnostic::Diagnostic;
use laneguard_core::engine::Engine;
use laneguard_core::envelope::das::{
    self, DataKey, DataKeys, EncryptionContext, KeyCache, KeyError, KeyRequest,
};
use laneguard_core::envelope::{
    AwsContext, DocContext, Limits, RawRecord, RecordSink, SealedRecord, Skip, decode_lambda_event,
};
use laneguard_core::event::{Event, Origin, Source, Timestamp};
use laneguard_core::finding::Finding;
use laneguard_core::output::{FindingFormat, FindingWriter};
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::rules::sequence::Observation;
use laneguard_core::sources::ParseOptions;

use crate::env::{ConfigError, ConfigLocation, FunctionConfig, FunctionKind};
use crate::metrics::Health;

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
    /// Findings raised (alerts and shadow, threshold findings decided by the shared store
    /// included).
    pub findings: u64,
    /// Invalid rule files the running configuration skipped (`LANEGUARD_SKIP_INVALID_RULES`):
    /// the invocation ran without their rules.
    #[serde(skip_serializing_if = "is_zero")]
    pub skipped_rules: u64,
    /// The first diagnostics in full.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostic_samples: Vec<String>,
    /// The finding ids raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub finding_ids: Vec<String>,
    /// What the shared threshold store decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Resolution>,
    /// What the shared sequence store decided (step matches filed, keys decided, fallbacks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequences: Option<SequenceResolution>,
    /// What the SNS sink did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sns: Option<SnsReport>,
    /// What the SIEM sink did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siem: Option<SiemReport>,
    /// das: KMS `Decrypt` calls the batch needed (one per distinct data key not yet cached).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_calls: Option<u64>,
    /// das: the records Kinesis must deliver again — the first whose data key KMS could not
    /// give for a reason that may pass (Lambda's partial batch response; Kinesis resumes from
    /// it). Always present for the das function, empty when the whole batch was processed.
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Option::is_none")]
    pub batch_item_failures: Option<Vec<BatchItemFailure>>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One entry of Lambda's partial batch response for Kinesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    /// The Kinesis sequence number of the record to deliver again.
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
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

/// Collects one invocation's findings, (optionally) OCSF activity records, and the facts the
/// health metrics need.
struct Collect {
    activity: bool,
    findings: Vec<Finding>,
    records: Vec<SiemRecord>,
    render_errors: u64,
    newest: Option<Timestamp>,
    by_log_group: BTreeMap<String, u64>,
}

impl Output for Collect {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        self.newest = self.newest.max(Some(event.time));
        if let Some(group) = event.origin.log_group {
            match self.by_log_group.get_mut(group) {
                Some(n) => *n += 1,
                None => {
                    self.by_log_group.insert(group.to_owned(), 1);
                }
            }
        }
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

/// What [`Handler::detect`] produced from one event, before delivery.
#[derive(Debug, Default)]
pub struct Detected {
    /// Counters and samples.
    pub report: InvocationReport,
    /// Findings decided during the run (threshold findings of a shared store come later).
    pub findings: Vec<Finding>,
    /// OCSF activity records for the SIEM (when configured).
    pub records: Vec<SiemRecord>,
    /// Threshold observations left for the shared store.
    pub deferred: Vec<DeferredThreshold>,
    /// Sequence step matches left for the shared store.
    pub sequences: Vec<Observation>,
    /// The sequence rules the shared store decides (absence rules' due lists, suppression).
    pub sequence_rules: Arc<SequenceRules>,
    /// The newest event time of the batch: the watermark of absence decisions.
    pub newest: Option<Timestamp>,
    /// The health counters of the run.
    pub health: Health,
}

/// The engine of the container and where its configuration came from.
struct Detection {
    engine: Engine,
    /// The bundle or files, for logs.
    origin: String,
    /// The S3 object the configuration was read from.
    identity: Option<ObjectIdentity>,
    /// When the S3 object was last checked.
    checked: Instant,
    /// Invalid rule files skipped at load (only with `LANEGUARD_SKIP_INVALID_RULES`).
    skipped_rules: u64,
    /// The sequence rules, for the shared store.
    sequence_rules: Arc<SequenceRules>,
}

/// Where the EMF metric lines go.
struct Metrics {
    namespace: String,
    function: String,
    out: Mutex<Box<dyn Write + Send>>,
}

/// The invocation handler of every function: decode, detect, deliver.
pub struct Handler {
    /// Locked once per invocation, for the synchronous pipeline run only (never across an
    /// `.await`).
    detection: Mutex<Detection>,
    location: ConfigLocation,
    /// How the configuration is loaded, again at every reload.
    load: LoadOptions,
    config_ttl: Duration,
    s3: Option<aws_sdk_s3::Client>,
    state: Option<SharedState>,
    parse: ParseOptions,
    source: Option<Source>,
    siem_events: bool,
    sns: Option<SnsSink>,
    siem: Option<SiemSink>,
    stdout: Option<Mutex<FindingWriter<Box<dyn Write + Send>>>>,
    metrics: Option<Metrics>,
    /// das: KMS for the data keys of encrypted activity records, and the container's cache.
    kms: Option<DataKeyClient>,
    key_cache: Mutex<KeyCache>,
}

impl std::fmt::Debug for Handler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handler")
            .field("config", &self.location)
            .field("source", &self.source)
            .field("state_table", &self.state.as_ref().map(SharedState::table))
            .field("sns", &self.sns.as_ref().map(SnsSink::topic_arn))
            .field("siem", &self.siem.as_ref().map(SiemSink::log_group))
            .field("kms", &self.kms.is_some())
            .finish_non_exhaustive()
    }
}

/// How a function loads its configuration.
#[derive(Clone, Copy, Debug)]
struct LoadOptions {
    engine: EngineOptions,
    invalid_rules: InvalidRules,
}

/// Load the policy and rules from `location` and compile the engine: strict (every rule file
/// must load) unless `LANEGUARD_SKIP_INVALID_RULES` asked to skip invalid ones, each then logged
/// as an error with its `file:line`; warnings logged.
async fn load_detection(
    location: &ConfigLocation,
    s3: Option<&aws_sdk_s3::Client>,
    options: &LoadOptions,
) -> Result<Detection, ConfigError> {
    let (sources, origin, identity) = load_sources(location, s3).await?;
    let config = load_config(&sources, &origin, options.invalid_rules)?;
    let skipped_rules = config.rejected.len() as u64;
    let sequence_rules = Arc::new(SequenceRules::of(config.rules.rules()));
    Ok(Detection {
        engine: config.engine_with(&options.engine),
        origin,
        identity,
        checked: Instant::now(),
        skipped_rules,
        sequence_rules,
    })
}

/// Compile the policy and rules of `sources` (named `origin` in logs): strict unless
/// `invalid` skips invalid rule files, each then logged as an error with its `file:line`;
/// warnings logged.
pub(crate) fn load_config(
    sources: &Sources,
    origin: &str,
    invalid: InvalidRules,
) -> Result<Config, ConfigError> {
    let config = Config::load_for(sources, invalid)?;
    for e in &config.rejected {
        tracing::error!(config = %origin, rule_error = %e, "invalid rule file skipped (LANEGUARD_SKIP_INVALID_RULES): running without it");
    }
    for w in config.warnings() {
        tracing::warn!(warning = %w, "configuration");
    }
    tracing::info!(config = %origin, rules = config.rules.rules().len(), skipped_rules = config.rejected.len(), "configuration loaded");
    Ok(config)
}

/// The policy and rule files of `location` (an S3 bundle, a local bundle or files, or the
/// embedded example), where they came from (for logs) and the S3 object's identity.
pub(crate) async fn load_sources(
    location: &ConfigLocation,
    s3: Option<&aws_sdk_s3::Client>,
) -> Result<(Sources, String, Option<ObjectIdentity>), ConfigError> {
    let limits = BundleLimits::default();
    Ok(match location {
        ConfigLocation::S3(uri) => {
            let client = s3.ok_or_else(|| ConfigError::Invalid {
                var: "LANEGUARD_CONFIG",
                value: uri.to_string(),
                reason: "no S3 client".into(),
            })?;
            let loaded = s3::load_bundle(client, uri, &limits).await?;
            for ignored in &loaded.bundle.ignored {
                tracing::info!(bundle = %loaded.bundle.origin, entry = %ignored, "bundle entry is not a policy or rule file; not loaded");
            }
            (
                loaded.bundle.sources(),
                loaded.bundle.origin.clone(),
                Some(loaded.identity),
            )
        }
        ConfigLocation::Bundle(path) => {
            let bundle = Bundle::from_path(path, &limits)?;
            (bundle.sources(), bundle.origin.clone(), None)
        }
        ConfigLocation::Files { policy, rules } => (
            Sources::from_paths(Some(policy), rules.as_deref()),
            policy.display().to_string(),
            None,
        ),
        ConfigLocation::Example { rules } => {
            tracing::warn!(
                "running on the EMBEDDED EXAMPLE POLICY (LANEGUARD_ALLOW_EXAMPLE_POLICY=true): its zones, CIDRs and \
                 datastores describe an example estate, not yours; deploy your bundle with LANEGUARD_CONFIG"
            );
            (
                Sources::from_paths(None, rules.as_deref()),
                "embedded example policy".to_owned(),
                None,
            )
        }
    })
}

impl Handler {
    /// Load the configuration of `config` and build its sinks and stores on `sdk` (each exists
    /// only when its variable is set). An invalid configuration is an error naming the file and
    /// line (the function then fails its start-up, which the template alarms on).
    pub async fn new(config: &FunctionConfig, sdk: &aws_config::SdkConfig) -> Result<Handler, ConfigError> {
        let s3 = matches!(config.config, ConfigLocation::S3(_)).then(|| s3::client(sdk));
        let state = config
            .state_table
            .as_ref()
            .map(|t| SharedState::new(aws_sdk_dynamodb::Client::new(sdk), t));
        if state.is_none() {
            tracing::warn!("LANEGUARD_STATE_TABLE is not set: threshold rules count per container");
        }
        let options = LoadOptions {
            engine: EngineOptions {
                sql_cache: INVOCATION_SQL_CACHE,
                defer_thresholds: state.is_some(),
            },
            invalid_rules: if config.skip_invalid_rules {
                InvalidRules::Skip
            } else {
                InvalidRules::Refuse
            },
        };
        let detection = load_detection(&config.config, s3.as_ref(), &options).await?;
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
        let metrics_out: Box<dyn Write + Send> = Box::new(std::io::stdout());
        Ok(Handler {
            detection: Mutex::new(detection),
            location: config.config.clone(),
            load: options,
            config_ttl: config.config_ttl,
            s3,
            state,
            parse: ParseOptions {
                // The function's region, for records whose envelope names none (a subscription
                // names its account, not its region, and delivers only to a function of its own
                // region). Leaked once per container: events of every batch borrow it.
                aws: AwsContext {
                    account: None,
                    region: sdk
                        .region()
                        .map(|r| &*Box::leak(r.as_ref().to_owned().into_boxed_str())),
                },
                ..config.parse.clone()
            },
            source: config.source,
            siem_events: config.siem_events,
            sns,
            siem,
            stdout,
            metrics: Some(Metrics {
                namespace: config.metrics_namespace.clone(),
                function: config.function_name.clone(),
                out: Mutex::new(metrics_out),
            }),
            kms: (config.kind == FunctionKind::Das)
                .then(|| DataKeyClient::new(sdk, config.kms_key_id.clone())),
            key_cache: Mutex::new(KeyCache::new(config.key_cache)),
        })
    }

    /// Write findings as JSON lines to `out` instead of stdout (tests), or nowhere (`None`).
    pub fn with_stdout(mut self, out: Option<Box<dyn Write + Send>>) -> Self {
        self.stdout = out.map(|o| Mutex::new(FindingWriter::new(o, FindingFormat::Json)));
        self
    }

    /// Write the EMF metric lines to `out` instead of stdout (tests), or nowhere (`None`).
    pub fn with_metrics(mut self, out: Option<Box<dyn Write + Send>>) -> Self {
        self.metrics = match (self.metrics.take(), out) {
            (Some(m), Some(out)) => Some(Metrics {
                out: Mutex::new(out),
                ..m
            }),
            _ => None,
        };
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

    /// Where the running configuration came from (bundle URI with its version, or files).
    pub fn config_origin(&self) -> String {
        lock(&self.detection).origin.clone()
    }

    /// Re-check an S3 bundle when its TTL has passed: a new object replaces the engine if it
    /// loads whole; otherwise the running configuration stays and the error is counted.
    async fn refresh(&self, health: &mut Health) {
        let (ConfigLocation::S3(uri), Some(client)) = (&self.location, &self.s3) else {
            return;
        };
        if self.config_ttl.is_zero() {
            return;
        }
        let current = {
            let d = lock(&self.detection);
            if d.checked.elapsed() < self.config_ttl {
                return;
            }
            d.identity.clone()
        };
        let result = match s3::head(client, uri).await {
            Ok(now) if Some(&now) == current.as_ref() => Ok(None),
            Ok(_) => load_detection(&self.location, Some(client), &self.load)
                .await
                .map(Some),
            Err(e) => Err(ConfigError::Bundle(e.into())),
        };
        let mut d = lock(&self.detection);
        d.checked = Instant::now();
        match result {
            Ok(None) => {}
            Ok(Some(new)) => {
                tracing::info!(from = %d.origin, to = %new.origin, "configuration bundle changed; new engine in use");
                *d = new;
            }
            Err(e) => {
                health.count("ConfigErrors", 1);
                tracing::error!(error = %e, running = %d.origin, "configuration bundle not reloaded; the running configuration stays");
            }
        }
    }

    /// Run the pipeline over one invocation's raw event bytes (`{"awslogs":{"data":…}}`) and
    /// return what it produced, without delivering anything.
    pub fn detect(&self, event: &[u8]) -> Detected {
        self.detect_with(event, None)
    }

    /// [`Handler::detect`] with the data keys of a batch's encrypted activity records.
    fn detect_with(&self, event: &[u8], keys: Option<&mut BatchKeys>) -> Detected {
        let mut detection = lock(&self.detection);
        let mut collect = Collect {
            activity: self.siem_events && self.siem.is_some(),
            findings: Vec::new(),
            records: Vec::new(),
            render_errors: 0,
            newest: None,
            by_log_group: BTreeMap::new(),
        };
        let ctx = DocContext {
            limits: Limits::default(),
            source: self.source,
        };
        let mut out = Detected::default();
        {
            let mut pipeline = Pipeline::new(&self.parse, &mut detection.engine, &mut collect);
            if let Some(keys) = keys {
                pipeline = pipeline.with_data_keys(keys);
            }
            decode_lambda_event(event, &Origin::default(), &ctx, &mut pipeline);
            RecordSink::end_stream(&mut pipeline);
            // Absences of sequence rules whose window and lateness have passed the newest event
            // time this container has seen.
            pipeline.finish(false);
            let stats = pipeline.stats();
            let report = &mut out.report;
            report.records = stats.records;
            report.events = stats.total_events();
            report.skipped = stats.total_skipped();
            out.health.events_by_source = stats.events.iter().map(|(s, n)| (s.to_string(), *n)).collect();
            let diagnostics = pipeline.diagnostics_mut();
            report.diagnostics = diagnostics.total();
            out.health.diagnostics_by_kind = diagnostics
                .counts()
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect();
            report.diagnostic_samples = diagnostics
                .take_kept()
                .iter()
                .take(DIAGNOSTICS_SHOWN)
                .map(Diagnostic::to_string)
                .collect();
        }
        out.deferred = detection.engine.take_deferred();
        out.sequences = detection.engine.take_sequences();
        out.sequence_rules = Arc::clone(&detection.sequence_rules);
        out.newest = collect.newest;
        out.report.skipped_rules = detection.skipped_rules;
        drop(detection);
        let h = &mut out.health;
        h.count("Records", out.report.records);
        h.count("Events", out.report.events);
        h.count("Skipped", out.report.skipped);
        h.count("Diagnostics", out.report.diagnostics);
        h.count("RenderErrors", collect.render_errors);
        h.count("SkippedRules", out.report.skipped_rules);
        if let Some(newest) = collect.newest {
            let lag = Timestamp::now().duration_since(newest).as_secs_f64().max(0.0);
            h.seconds("LagSeconds", lag);
        }
        h.events_by_log_group = collect.by_log_group;
        out.findings = collect.findings;
        out.records = collect.records;
        out
    }

    /// OCSF Detection Finding records of `findings`, for the SIEM (rendered only when a SIEM
    /// will receive them).
    fn finding_records(&self, findings: &[Finding], records: &mut Vec<SiemRecord>) {
        if self.siem.is_none() {
            return;
        }
        for f in findings {
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

    /// Handle one invocation: refresh the configuration if due, detect, settle thresholds in the
    /// shared store, then deliver to stdout, the SIEM and SNS (the last two concurrently). Any
    /// sink still failing after its retries fails the invocation; what was delivered before is
    /// remembered, so Lambda's retry does not deliver it again. Health metrics are written
    /// either way.
    pub async fn handle(&self, event: &[u8]) -> Result<InvocationReport, HandlerError> {
        let mut refresh_health = Health::default();
        self.refresh(&mut refresh_health).await;
        let mut keys = match &self.kms {
            Some(kms) => Some(self.resolve_keys(kms, event).await),
            None => None,
        };
        let Detected {
            mut report,
            mut findings,
            mut records,
            deferred,
            sequences,
            sequence_rules,
            newest,
            mut health,
        } = self.detect_with(event, keys.as_mut());
        health.totals.extend(refresh_health.totals);
        if let Some(keys) = &keys {
            report.kms_calls = Some(keys.kms_calls);
            report.batch_item_failures = Some(
                keys.retry_from
                    .iter()
                    .map(|seq| BatchItemFailure {
                        item_identifier: seq.clone(),
                    })
                    .collect(),
            );
            health.count("KmsCalls", keys.kms_calls);
            health.count("KeyCacheHits", keys.cache_hits);
            health.count("KmsFailures", keys.kms_failures);
            health.count("BatchItemFailures", u64::from(keys.retry_from.is_some()));
        }
        if let Some(state) = &self.state
            && !deferred.is_empty()
        {
            let mut res = state.resolve(deferred).await;
            findings.append(&mut res.findings);
            health.count("ThresholdsDecidedLocally", res.decided_locally);
            health.count("StateStoreErrors", res.store_errors);
            health.count("StateItemsIgnored", res.items_ignored);
            report.thresholds = Some(res);
        }
        // Sequence steps meet the other functions' halves in the table; absences due at the
        // batch's newest event time are decided there too, whoever's step they were.
        if let Some(state) = &self.state
            && (!sequences.is_empty() || (sequence_rules.has_absences() && newest.is_some()))
        {
            let mut res = state.resolve_sequences(sequences, newest, &sequence_rules).await;
            findings.append(&mut res.findings);
            health.count("SequencesDecidedLocally", res.decided_locally);
            health.count(
                "StateStoreErrors",
                res.store_errors + report.thresholds.as_ref().map_or(0, |t| t.store_errors),
            );
            health.count(
                "StateItemsIgnored",
                res.items_ignored + report.thresholds.as_ref().map_or(0, |t| t.items_ignored),
            );
            health.count("SequenceOccurrencesEvicted", res.occurrences_evicted);
            health.count("SequencesContended", res.contended);
            report.sequences = Some(res);
        }
        self.finding_records(&findings, &mut records);
        report.findings = findings.len() as u64;
        report.finding_ids = findings.iter().map(|f| f.id.clone()).collect();
        for f in &findings {
            *health
                .findings_by_severity
                .entry(f.severity.as_str().to_owned())
                .or_default() += 1;
            *health.findings_by_rule.entry(f.rule_id.clone()).or_default() += 1;
        }
        health.count("Findings", report.findings);
        for d in &report.diagnostic_samples {
            tracing::warn!(diagnostic = %d, "record not read");
        }
        let mut errors = Vec::new();
        if let Some(out) = &self.stdout
            && !findings.is_empty()
        {
            let mut sink = lock(out);
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
        health.count("Alerts", report.sns.map_or(0, |s| s.published));
        health.count("SiemRecords", report.siem.map_or(0, |s| s.written));
        health.count("AlertsParked", report.sns.map_or(0, |s| s.parked));
        health.count(
            "SiemRecordsRejected",
            report.siem.map_or(0, |s| s.oversized + s.rejected),
        );
        health.count("DeliveryFailures", errors.len() as u64);
        if let Some(m) = &self.metrics {
            health.emit(&mut **lock(&m.out), &m.namespace, &m.function, now_ms);
        }
        tracing::info!(
            records = report.records,
            events = report.events,
            skipped = report.skipped,
            diagnostics = report.diagnostics,
            findings = report.findings,
            skipped_rules = report.skipped_rules,
            published = report.sns.map_or(0, |s| s.published),
            parked = report.sns.map_or(0, |s| s.parked),
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

impl Handler {
    /// The data keys of the encrypted activity records of `event`: the container's cache, then
    /// KMS for each distinct (ciphertext, context) it lacks. From the first record whose key
    /// failed for a reason that may pass, the batch is left to Kinesis; no more KMS calls.
    async fn resolve_keys(&self, kms: &DataKeyClient, event: &[u8]) -> BatchKeys {
        let mut scan = KeyScan::default();
        let ctx = DocContext {
            limits: Limits::default(),
            source: self.source,
        };
        decode_lambda_event(event, &Origin::default(), &ctx, &mut scan);
        let mut keys = BatchKeys::default();
        for wanted in scan.wanted {
            let Some(context) = wanted.context else {
                continue;
            };
            if keys.find(&wanted.ciphertext, &context).is_some() {
                continue;
            }
            let cached = lock(&self.key_cache).get(&wanted.ciphertext, &context);
            let result = match cached {
                Some(key) => {
                    keys.cache_hits += 1;
                    Ok(key)
                }
                None => {
                    keys.kms_calls += 1;
                    match kms.decrypt(&wanted.ciphertext, &context).await {
                        Ok(key) => {
                            lock(&self.key_cache).insert(&wanted.ciphertext, &context, key.clone());
                            Ok(key)
                        }
                        Err(failure) => {
                            keys.kms_failures += 1;
                            tracing::warn!(
                                record = wanted.sequence_number.as_deref().unwrap_or("?"),
                                retryable = failure.retryable,
                                error = %failure,
                                "no data key"
                            );
                            Err(failure.into_key_error())
                        }
                    }
                }
            };
            if let (Err(KeyError::Retry(_)), Some(index), Some(seq)) =
                (&result, wanted.index, &wanted.sequence_number)
            {
                keys.cutoff = Some(index);
                keys.retry_from = Some(seq.clone());
                keys.resolved.push((wanted.ciphertext, context, result));
                break;
            }
            keys.resolved.push((wanted.ciphertext, context, result));
        }
        keys
    }
}

/// A record's data key, as the scan of an event found it wanted.
struct Wanted {
    /// Index of the record in the Kinesis event.
    index: Option<u32>,
    sequence_number: Option<String>,
    ciphertext: Vec<u8>,
    context: Option<EncryptionContext>,
}

/// The first pass over a das event: which data keys its records need, in record order.
#[derive(Default)]
struct KeyScan {
    wanted: Vec<Wanted>,
}

impl RecordSink for KeyScan {
    fn record(&mut self, _record: RawRecord<'_>) {}
    fn skipped(&mut self, _reason: Skip, _origin: &Origin<'_>) {}
    fn diagnostic(&mut self, _diagnostic: Diagnostic) {}
    fn sealed(&mut self, record: SealedRecord<'_>, _ctx: &DocContext) {
        // A record whose key cannot even be read is the pipeline's diagnostic, not a KMS call.
        if let Ok((ciphertext, context)) = das::key_of(&record) {
            self.wanted.push(Wanted {
                index: record.origin.index,
                sequence_number: record.sequence_number.map(str::to_owned),
                ciphertext,
                context,
            });
        }
    }
}

/// The data keys of one batch, resolved before the pipeline runs.
#[derive(Default)]
struct BatchKeys {
    resolved: Vec<(Vec<u8>, EncryptionContext, Result<DataKey, KeyError>)>,
    /// Records at or after this index in the event are deferred.
    cutoff: Option<u32>,
    /// The sequence number Kinesis resumes from.
    retry_from: Option<String>,
    kms_calls: u64,
    cache_hits: u64,
    kms_failures: u64,
}

impl BatchKeys {
    fn find(&self, ciphertext: &[u8], context: &EncryptionContext) -> Option<&Result<DataKey, KeyError>> {
        self.resolved
            .iter()
            .find(|(c, x, _)| c == ciphertext && x == context)
            .map(|(_, _, r)| r)
    }
}

impl DataKeys for BatchKeys {
    fn data_key(&mut self, request: &KeyRequest<'_>) -> Result<DataKey, KeyError> {
        if let (Some(cutoff), Some(index)) = (self.cutoff, request.record.origin.index)
            && index >= cutoff
        {
            return Err(KeyError::Deferred);
        }
        let Some(context) = request.context else {
            return Err(KeyError::Refused(
                "no encryption context: neither the event's eventSourceARN (aws-rds-das-<resource id>) nor \
                 the message names the database resource"
                    .into(),
            ));
        };
        match self.find(request.ciphertext, context) {
            Some(result) => result.clone(),
            None => Err(KeyError::Refused(
                "the data key was not resolved before the run".into(),
            )),
        }
    }
}

/// Lock a mutex; a panic that poisoned it elsewhere does not stop the function.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Write the start-up failure as an EMF `ConfigErrors` metric, so the alarm on it fires even
/// though no invocation will ever run.
pub fn report_init_failure(namespace: &str, function: &str) {
    let mut h = Health::default();
    h.count("ConfigErrors", 1);
    h.emit(
        &mut std::io::stdout(),
        namespace,
        function,
        jiff::Timestamp::now().as_millisecond(),
    );
}

/// `function/YYYY/MM/DD/<16 hex>`: one SIEM stream per container, named like Lambda's own.
fn stream_name(function_name: &str) -> String {
    let now = jiff::Timestamp::now();
    let nonce = xxhash_rust::xxh3::xxh3_64(
        format!("{}{}{}", now.as_nanosecond(), std::process::id(), function_name).as_bytes(),
    );
    format!("{function_name}/{}/{nonce:016x}", now.strftime("%Y/%m/%d"))
}
