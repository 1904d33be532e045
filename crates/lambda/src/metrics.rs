//! The detector's own health, as CloudWatch Embedded Metric Format (EMF) lines.
//!
//! A detector that is silent about itself cannot be trusted: a parser broken by a format change,
//! an audit log that stopped arriving, a flood of diagnostics or failing deliveries must be
//! visible and alarmable. Every invocation writes a few JSON lines to stdout; Lambda ships them
//! to the function's log group and CloudWatch extracts the metrics — no API call, no extra
//! latency, nothing to fail. Each line is one EMF document: an `_aws` member (`Timestamp`,
//! `CloudWatchMetrics` with `Namespace`, `Dimensions` and `Metrics`) and, at the root, every
//! dimension and metric it names (the EMF specification's required keys).
//!
//! Documents, all with the `Function` dimension (the function's name):
//! - `[Function]`: `Records`, `Events`, `Skipped`, `Diagnostics`, `Findings`, `Alerts`
//!   (published to SNS), `AlertsParked` (alerts SNS refused as the sender's fault or too large
//!   even cut: not published, in the SIEM), `SiemRecords`, `SiemRecordsRejected` (records
//!   CloudWatch Logs would not take even cut or re-stamped), `DeliveryFailures`, `LagSeconds` (now − newest event
//!   time), `ThresholdsDecidedLocally`, `SequencesDecidedLocally`, `StateStoreErrors` (thresholds
//!   and sequences), `StateItemsIgnored`, `SequenceOccurrencesEvicted`, `SequencesContended`,
//!   `ConfigErrors`, `RenderErrors`, `SkippedRules` (invalid rule files the running
//!   configuration skipped, only with `LANEGUARD_SKIP_INVALID_RULES`);
//! - `[Function, Source]`: `Events`; `[Function, LogGroup]`: `Events` (the "log group went
//!   silent" alarm); `[Function, DiagnosticKind]`: `Diagnostics`; `[Function, Severity]` and
//!   `[Function, RuleId]`: `Findings`.

use std::collections::BTreeMap;
use std::io::Write;

use serde_json::{Map, Value, json};

/// Counters of one invocation (or of a failed start-up).
#[derive(Clone, Debug, Default)]
pub struct Health {
    /// `[Function]` metrics: name → (value, unit).
    pub totals: BTreeMap<&'static str, (f64, &'static str)>,
    /// Events per source.
    pub events_by_source: BTreeMap<String, u64>,
    /// Events per CloudWatch Logs group.
    pub events_by_log_group: BTreeMap<String, u64>,
    /// Diagnostics per kind.
    pub diagnostics_by_kind: BTreeMap<String, u64>,
    /// Findings per severity.
    pub findings_by_severity: BTreeMap<String, u64>,
    /// Findings per rule.
    pub findings_by_rule: BTreeMap<String, u64>,
}

impl Health {
    /// Set a `[Function]` counter.
    pub fn count(&mut self, name: &'static str, value: u64) {
        self.totals.insert(name, (value as f64, "Count"));
    }

    /// Set a `[Function]` duration in seconds.
    pub fn seconds(&mut self, name: &'static str, value: f64) {
        self.totals.insert(name, (value, "Seconds"));
    }

    /// The EMF documents, one JSON object per line, for `function` in `namespace` at
    /// `timestamp_ms`.
    pub fn documents(&self, namespace: &str, function: &str, timestamp_ms: i64) -> Vec<Value> {
        let mut docs = Vec::new();
        if !self.totals.is_empty() {
            let mut root = Map::new();
            let metrics: Vec<Value> = self
                .totals
                .iter()
                .map(|(name, (value, unit))| {
                    root.insert((*name).to_owned(), json!(value));
                    json!({"Name": name, "Unit": unit})
                })
                .collect();
            docs.push(document(namespace, function, timestamp_ms, None, metrics, root));
        }
        for (dimension, metric, values) in [
            ("Source", "Events", &self.events_by_source),
            ("LogGroup", "Events", &self.events_by_log_group),
            ("DiagnosticKind", "Diagnostics", &self.diagnostics_by_kind),
            ("Severity", "Findings", &self.findings_by_severity),
            ("RuleId", "Findings", &self.findings_by_rule),
        ] {
            for (value, count) in values {
                let mut root = Map::new();
                root.insert(metric.to_owned(), json!(count));
                docs.push(document(
                    namespace,
                    function,
                    timestamp_ms,
                    Some((dimension, value)),
                    vec![json!({"Name": metric, "Unit": "Count"})],
                    root,
                ));
            }
        }
        docs
    }

    /// Write the documents to `out`, one per line (stdout in a function).
    pub fn emit(&self, out: &mut dyn Write, namespace: &str, function: &str, timestamp_ms: i64) {
        for doc in self.documents(namespace, function, timestamp_ms) {
            let written = serde_json::to_writer(&mut *out, &doc)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = written {
                tracing::error!(error = %e, "cannot write metrics");
                return;
            }
        }
        let _ = out.flush();
    }
}

/// One EMF document with the `Function` dimension and, optionally, one more.
fn document(
    namespace: &str,
    function: &str,
    timestamp_ms: i64,
    extra: Option<(&str, &str)>,
    metrics: Vec<Value>,
    mut root: Map<String, Value>,
) -> Value {
    let mut dims = vec![json!("Function")];
    root.insert("Function".to_owned(), json!(function));
    if let Some((name, value)) = extra {
        dims.push(json!(name));
        root.insert(name.to_owned(), json!(value));
    }
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dims],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root)
}
