//! The per-batch replay function of the fan-out on AWS (docs/REPLAY.md, "Fan-out on AWS").
//!
//! An archive bigger than one machine should chew through is replayed by a Step Functions
//! Distributed Map (`template.yaml`, `ReplayStateMachine`): its S3 item reader lists the
//! prefix, its item batcher hands this function batches of objects —
//! `{"Items": [{"Key", "Size", "Etag", …}], "BatchInput": {"Bucket", "OutputBucket",
//! "OutputPrefix"}}` — and a last step asks it to merge (`{"Merge": {"OutputBucket",
//! "OutputPrefix"}}`).
//!
//! A batch is read in key order with the decoding of `laneguard replay s3://…` (same envelopes,
//! same per-object origins `s3://bucket/key` + line) and runs on a **fresh engine**, so what a
//! batch finds never depends on which container ran it or what that container ran before.
//! Under the output prefix it writes `findings/<batch>.jsonl` (JSON lines, as `replay --format
//! json`), the OCSF Detection Findings in the Security Lake layout of `replay --ocsf-dir`
//! (`ext/laneguard/region=…/accountId=…/eventDay=…/<batch>.json`, [`lake`]) and
//! `summaries/<batch>.json`, where
//! `<batch>` is a digest of the batch's keys and ETags: a retried batch overwrites its own
//! outputs instead of adding a second copy. The merge adds the summaries up into `summary.json`.
//!
//! An object that cannot be read fails the batch, naming it (Step Functions retries the batch,
//! then counts it failed in the map run); records that cannot be decoded are diagnostics,
//! counted in the summary, as in `laneguard replay`.

use std::collections::BTreeMap;

use laneguard_aws::aws_sdk_s3::Client;
use laneguard_aws::s3::{self, S3Uri};
use laneguard_core::config::{EngineOptions, InvalidRules, Sources};
use laneguard_core::envelope::{Limits, RecordSink};
use laneguard_core::event::Event;
use laneguard_core::finding::Finding;
use laneguard_core::input::InputOptions;
use laneguard_core::ocsf::{self, lake};
use laneguard_core::output::{FindingFormat, FindingWriter};
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::sources::ParseOptions;
use serde::{Deserialize, Serialize};

use crate::env::{ConfigError, FunctionConfig};
use crate::handler::{load_config, load_sources};

/// Largest archive object read (bytes as stored): a bigger one fails its batch, naming it (replay
/// it on a machine with `laneguard replay s3://…`). A function has 1,769 MB.
const MAX_OBJECT: u64 = 512 << 20;
/// Most downloads running ahead of the object being processed.
const CONCURRENCY: usize = 8;
/// Bytes the downloads ahead may hold at once: with the batch's largest object, this bounds how
/// many run ahead (one at least), so eight large flow-log objects never share the memory.
const AHEAD_BYTES: u64 = 256 << 20;

/// How many downloads may run ahead for a batch whose largest object is `largest` bytes.
fn concurrency_for(largest: u64) -> usize {
    usize::try_from(AHEAD_BYTES / largest.max(1))
        .unwrap_or(CONCURRENCY)
        .clamp(1, CONCURRENCY)
}

/// One object of a batch, as the Distributed Map's S3 item reader lists it (`ListObjectsV2`
/// fields; others are ignored).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Item {
    /// Object key.
    pub key: String,
    /// Size as stored.
    #[serde(default)]
    pub size: u64,
    /// Entity tag: with the key, the identity of the content (and of the batch).
    #[serde(default)]
    pub etag: Option<String>,
}

/// What every batch of one replay shares (`ItemBatcher.BatchInput`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchInput {
    /// The archive bucket the items are in.
    pub bucket: String,
    /// Bucket of the results.
    pub output_bucket: String,
    /// Prefix of the results (`findings/`, `ocsf/`, `summaries/`, `summary.json` go under it).
    #[serde(default)]
    pub output_prefix: String,
}

/// Where the merge step finds the summaries and writes `summary.json`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct MergeInput {
    /// Bucket of the results.
    pub output_bucket: String,
    /// Prefix of the results.
    #[serde(default)]
    pub output_prefix: String,
}

/// An invocation of the replay function: a batch, or the merge.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReplayEvent {
    #[serde(default)]
    items: Option<Vec<Item>>,
    #[serde(default)]
    batch_input: Option<BatchInput>,
    #[serde(default)]
    merge: Option<MergeInput>,
}

/// Counters of one batch (`summaries/<batch>.json`) or, merged, of the whole replay
/// (`summary.json`). Every record is an event, skipped (counted by reason in `laneguard
/// replay`) or a diagnostic.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Batches merged (1 in a batch's own summary).
    pub batches: u64,
    /// Objects read.
    pub objects: u64,
    /// Bytes read, as stored.
    pub bytes: u64,
    /// Records decoded.
    pub records: u64,
    /// Events analysed.
    pub events: u64,
    /// Records skipped (not an event of any source: digests, unsupported records).
    pub skipped: u64,
    /// Records that could not be decoded, by kind.
    pub diagnostics: BTreeMap<String, u64>,
    /// Findings, in all.
    pub findings: u64,
    /// Findings per rule.
    pub by_rule: BTreeMap<String, u64>,
    /// The first and last key of the batch (merged: of the whole replay), for locating a batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_key: Option<String>,
    /// See `first_key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<String>,
}

impl Summary {
    /// Add `other` (another batch's summary) to this one.
    pub fn merge(&mut self, other: &Summary) {
        self.batches += other.batches;
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.records += other.records;
        self.events += other.events;
        self.skipped += other.skipped;
        self.findings += other.findings;
        for (k, n) in &other.diagnostics {
            *self.diagnostics.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.by_rule {
            *self.by_rule.entry(k.clone()).or_default() += n;
        }
        if other.first_key.is_some() && (self.first_key.is_none() || other.first_key < self.first_key) {
            self.first_key.clone_from(&other.first_key);
        }
        if other.last_key > self.last_key {
            self.last_key.clone_from(&other.last_key);
        }
    }
}

/// A failed invocation: Step Functions sees the error (and retries the batch, per the state
/// machine's `Retry`); the message names the object or the output it could not handle.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The event is neither a batch nor a merge.
    #[error("not a replay batch or merge event: {0}")]
    Event(String),
    /// An S3 read or write failed (after the SDK's retries).
    #[error(transparent)]
    S3(#[from] s3::S3Error),
    /// The configuration did not compile (it did at start-up: only a changed build could).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A summary could not be read back.
    #[error("{uri}: not a batch summary: {reason}")]
    Summary {
        /// The summary object.
        uri: String,
        /// Why.
        reason: String,
    },
}

/// The replay function: its configuration, loaded once per container and compiled into a
/// fresh engine per batch.
pub struct ReplayFunction {
    s3: Client,
    sources: Sources,
    origin: String,
    invalid: InvalidRules,
    parse: ParseOptions,
    input: InputOptions,
}

impl std::fmt::Debug for ReplayFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayFunction")
            .field("config", &self.origin)
            .field("source", &self.input.source)
            .finish_non_exhaustive()
    }
}

/// Gathers a batch's findings.
#[derive(Default)]
struct Gather {
    findings: Vec<Finding>,
}

impl Output for Gather {
    fn event(&mut self, _event: &Event<'_>, _matched: &[String]) {}

    fn findings(&mut self, findings: &[Finding]) {
        self.findings.extend_from_slice(findings);
    }
}

impl ReplayFunction {
    /// Load the policy and rules of `config` (they must compile: an invalid configuration
    /// fails the start-up, as in every function) and an S3 client on `sdk`.
    pub async fn new(config: &FunctionConfig, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        let client = s3::client(sdk);
        let (sources, origin, _) = load_sources(&config.config, Some(&client)).await?;
        let invalid = if config.skip_invalid_rules {
            InvalidRules::Skip
        } else {
            InvalidRules::Refuse
        };
        load_config(&sources, &origin, invalid)?;
        Ok(ReplayFunction {
            s3: client,
            sources,
            origin,
            invalid,
            parse: config.parse.clone(),
            input: InputOptions {
                limits: Limits::default(),
                source: config.source,
                pg_prefix: config.parse.pg_prefix.clone().unwrap_or_default(),
            },
        })
    }

    /// Handle one invocation: a batch (returns its [`Summary`]) or the merge (returns the
    /// merged one).
    pub async fn handle(&self, event: &[u8]) -> Result<Summary, ReplayError> {
        let event: ReplayEvent =
            serde_json::from_slice(event).map_err(|e| ReplayError::Event(e.to_string()))?;
        match event {
            ReplayEvent {
                items: Some(items),
                batch_input: Some(input),
                merge: None,
            } => self.batch(items, &input).await,
            ReplayEvent {
                items: None,
                batch_input: None,
                merge: Some(input),
            } => self.merge(&input).await,
            _ => Err(ReplayError::Event(
                "expected {\"Items\": […], \"BatchInput\": {…}} or {\"Merge\": {…}}".to_owned(),
            )),
        }
    }

    async fn batch(&self, mut items: Vec<Item>, input: &BatchInput) -> Result<Summary, ReplayError> {
        // Key order, whatever order the batcher used: the findings of a batch are the findings
        // of `laneguard replay` over the same objects.
        items.sort_by(|a, b| a.key.cmp(&b.key));
        let id = batch_id(&items);
        let config = load_config(&self.sources, &self.origin, self.invalid)?;
        let mut engine = config.engine_with(&EngineOptions::default());
        let mut gather = Gather::default();
        let mut summary = Summary {
            batches: 1,
            first_key: items.first().map(|i| i.key.clone()),
            last_key: items.last().map(|i| i.key.clone()),
            ..Summary::default()
        };
        let uris = items
            .iter()
            .map(|i| S3Uri {
                bucket: input.bucket.clone(),
                key: i.key.clone(),
                version_id: None,
            })
            .collect();
        {
            let mut pipeline = Pipeline::new(&self.parse, &mut engine, &mut gather);
            let ahead = concurrency_for(items.iter().map(|i| i.size).max().unwrap_or(0));
            s3::fetch_in_order(&self.s3, uris, ahead, MAX_OBJECT, |uri, got| {
                let bytes = got?;
                summary.objects += 1;
                summary.bytes += bytes.len() as u64;
                laneguard_core::input::read_stream(&uri.to_string(), &bytes[..], &self.input, &mut pipeline);
                RecordSink::end_stream(&mut pipeline);
                Ok::<_, s3::S3Error>(())
            })
            .await?;
            // The batch is this engine's whole input: its absences are decided now.
            pipeline.finish(true);
            let stats = pipeline.stats();
            summary.records = stats.records;
            summary.events = stats.total_events();
            summary.skipped = stats.total_skipped();
            summary.diagnostics = pipeline
                .diagnostics()
                .counts()
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect();
        }
        summary.findings = gather.findings.len() as u64;
        for f in &gather.findings {
            *summary.by_rule.entry(f.rule_id.clone()).or_default() += 1;
        }
        let put = |dir: &str, ext: &str| S3Uri {
            bucket: input.output_bucket.clone(),
            key: format!("{}{dir}/{id}.{ext}", prefix_dir(&input.output_prefix)),
            version_id: None,
        };
        let render_error = |uri: S3Uri, e: std::io::Error| s3::S3Error {
            uri: uri.to_string(),
            reason: e.to_string(),
        };
        let mut w = FindingWriter::new(Vec::new(), FindingFormat::Json);
        w.write(&gather.findings)
            .and_then(|()| w.flush())
            .map_err(|e| render_error(put("findings", "jsonl"), e))?;
        let lines = std::mem::take(w.get_mut());
        s3::put(&self.s3, &put("findings", "jsonl"), lines, "application/x-ndjson").await?;
        // OCSF: one object per Security Lake partition the batch's findings fall in.
        let mut partitions: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for f in &gather.findings {
            let lines = partitions
                .entry(lake::Partition::of(f).dir(lake::DEFAULT_SOURCE))
                .or_default();
            serde_json::to_writer(&mut *lines, &ocsf::detection_finding(f))
                .map_err(|e| render_error(put("ext", "json"), e.into()))?;
            lines.push(b'\n');
        }
        for (dir, lines) in partitions {
            s3::put(&self.s3, &put(&dir, "json"), lines, "application/x-ndjson").await?;
        }
        let body = serde_json::to_vec_pretty(&summary).unwrap_or_default();
        s3::put(&self.s3, &put("summaries", "json"), body, "application/json").await?;
        tracing::info!(batch = %id, objects = summary.objects, events = summary.events, findings = summary.findings, "batch replayed");
        Ok(summary)
    }

    async fn merge(&self, input: &MergeInput) -> Result<Summary, ReplayError> {
        let dir = prefix_dir(&input.output_prefix);
        let listed = s3::list(&self.s3, &input.output_bucket, &format!("{dir}summaries/")).await?;
        let uris: Vec<S3Uri> = listed
            .into_iter()
            .filter(|o| o.key.ends_with(".json"))
            .map(|o| S3Uri {
                bucket: input.output_bucket.clone(),
                key: o.key,
                version_id: None,
            })
            .collect();
        let mut total = Summary::default();
        s3::fetch_in_order(&self.s3, uris, CONCURRENCY, 1 << 20, |uri, got| {
            let one: Summary = serde_json::from_slice(&got?).map_err(|e| ReplayError::Summary {
                uri: uri.to_string(),
                reason: e.to_string(),
            })?;
            total.merge(&one);
            Ok::<_, ReplayError>(())
        })
        .await?;
        let out = S3Uri {
            bucket: input.output_bucket.clone(),
            key: format!("{dir}summary.json"),
            version_id: None,
        };
        s3::put(
            &self.s3,
            &out,
            serde_json::to_vec_pretty(&total).unwrap_or_default(),
            "application/json",
        )
        .await?;
        tracing::info!(batches = total.batches, objects = total.objects, findings = total.findings, summary = %out, "replay merged");
        Ok(total)
    }
}

/// A prefix as a directory: empty, or ending with `/`.
fn prefix_dir(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// The name of a batch's outputs: a digest of its keys and ETags, so the same batch (a retry,
/// a re-run of the map) writes the same objects.
fn batch_id(items: &[Item]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for i in items {
        h.update(i.key.as_bytes());
        h.update(&[0]);
        h.update(i.etag.as_deref().unwrap_or("").as_bytes());
        h.update(&[0]);
    }
    format!("{:032x}", h.digest128())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_distributed_map_item_shape_parses() {
        // What the S3 item reader of a Distributed Map sends, batched (AWS's documented fields).
        let event =
            br#"{"Items": [{"Etag": "\"0c1f\"", "Key": "AWSLogs/1/CloudTrail/eu-west-1/2026/11/30/a.json.gz",
            "LastModified": 1764460800, "Size": 4096, "StorageClass": "STANDARD"}],
            "BatchInput": {"Bucket": "archive", "OutputBucket": "results", "OutputPrefix": "run-1"}}"#;
        let e: ReplayEvent = serde_json::from_slice(event).unwrap();
        let items = e.items.unwrap();
        assert_eq!(items[0].size, 4096);
        assert_eq!(items[0].etag.as_deref(), Some("\"0c1f\""));
        assert_eq!(e.batch_input.unwrap().output_prefix, "run-1");
        assert!(e.merge.is_none());
    }

    #[test]
    fn batch_ids_name_the_content_not_the_order() {
        let item = |k: &str, e: &str| Item {
            key: k.to_owned(),
            size: 1,
            etag: Some(e.to_owned()),
        };
        let a = batch_id(&[item("a", "1"), item("b", "2")]);
        assert_eq!(a, batch_id(&[item("a", "1"), item("b", "2")]));
        assert_ne!(
            a,
            batch_id(&[item("a", "1"), item("b", "3")]),
            "new content, new batch"
        );
        assert_ne!(
            a,
            batch_id(&[item("a", "1b"), item("", "2")]),
            "fields are framed"
        );
    }

    #[test]
    fn summaries_merge() {
        let one = Summary {
            batches: 1,
            objects: 2,
            findings: 3,
            by_rule: [("r".to_owned(), 3)].into(),
            first_key: Some("b".into()),
            last_key: Some("c".into()),
            ..Summary::default()
        };
        let two = Summary {
            batches: 1,
            objects: 1,
            findings: 1,
            by_rule: [("r".to_owned(), 1)].into(),
            first_key: Some("a".into()),
            last_key: Some("a2".into()),
            ..Summary::default()
        };
        let mut total = Summary::default();
        total.merge(&one);
        total.merge(&two);
        assert_eq!((total.batches, total.objects, total.findings), (2, 3, 4));
        assert_eq!(total.by_rule["r"], 4);
        assert_eq!(total.first_key.as_deref(), Some("a"));
        assert_eq!(total.last_key.as_deref(), Some("c"));
    }

    #[test]
    fn large_objects_are_fetched_fewer_at_a_time() {
        assert_eq!(concurrency_for(0), CONCURRENCY);
        assert_eq!(concurrency_for(56 << 10), CONCURRENCY);
        assert_eq!(concurrency_for(64 << 20), 4);
        assert_eq!(concurrency_for(MAX_OBJECT), 1);
        assert_eq!(concurrency_for(u64::MAX), 1);
    }

    #[test]
    fn prefixes_are_directories() {
        assert_eq!(prefix_dir(""), "");
        assert_eq!(prefix_dir("run"), "run/");
        assert_eq!(prefix_dir("run/"), "run/");
    }
}
