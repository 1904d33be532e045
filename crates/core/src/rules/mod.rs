//! Rules: signature and threshold detections, one TOML file each, carrying their own tests
//! (DESIGN.md §5, docs/RULES.md).
//!
//! A rule file is read strictly (unknown keys are errors, with file and line), compiled once —
//! fields resolved, globs and regexes compiled with size limits, keywords of all rules merged into
//! one automaton — and evaluated per event only when its source and kind prefilters pass. A file
//! that does not load is reported and skipped; the others still load.
//!
//! Thresholds count matching events per `group_by` key within an event-time window, through a
//! [`state::StateStore`] (in memory here; the trait lets a shared store replace it). Suppression
//! mutes repeats per key for a while. `mode = "shadow"` rules raise findings marked `shadow`
//! that callers keep away from paging sinks; `mode = "off"` rules are loaded and tested, not run.

//!
//! The module is laid out as the reader meets a rule: [`file`] is the file format and its
//! compilation (with the `[[tests]]` a rule carries), [`condition`] and [`field`] the `[match]`
//! language, [`set`] the compiled set that detects, [`state`] the threshold windows, and
//! [`allowlist`] the learned statement shapes.

pub mod allowlist;
pub mod condition;
pub mod eval;
pub mod field;
pub mod file;
pub(crate) mod index;
pub mod sequence;
pub mod set;
pub mod state;

use std::fmt;
use std::sync::Arc;

use jiff::SignedDuration;
use serde::Deserialize;

use self::condition::Condition;
use self::field::Field;
use crate::event::{Classification, Event, Kind, Source};
use crate::finding::{Severity, SigmaOrigin};

pub use file::{TestInput, TestSpec, parse_duration};
pub use set::RuleSet;

/// What a rule does when it matches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Raise findings.
    #[default]
    Alert,
    /// Raise findings marked `shadow`: counted and reported, never paged.
    Shadow,
    /// Loaded and tested, never run.
    Off,
}

/// How a rule treats events that record a failure (a refused statement, an API error).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// An attempt is evidence too, one severity lower (the default).
    #[default]
    Lower,
    /// Same severity (rules whose signal is the failure itself).
    Same,
    /// Failed attempts do not match.
    Ignore,
}

/// A threshold: fire when `count` matching events (or distinct values of `distinct`, or the sum
/// of `sum`) share a `group_by` key within `window` of event time.
#[derive(Clone, Debug)]
pub struct Threshold {
    /// Events (or distinct values) needed.
    pub count: u64,
    /// Event-time window.
    pub window: SignedDuration,
    /// Fields whose values form the key.
    pub group_by: Vec<Field>,
    /// Count distinct values of these fields (taken together) instead of events.
    pub distinct: Vec<Field>,
    /// Add up this numeric field instead of counting events (`statement.rows`): volume.
    pub sum: Option<Field>,
}

/// Suppression: after a finding, mute the rule for the same key for a while.
#[derive(Clone, Debug)]
pub struct Suppress {
    /// Fields whose values form the key.
    pub key: Vec<Field>,
    /// How long.
    pub duration: SignedDuration,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Unique id (`mysql.into-outfile`).
    pub id: String,
    /// Title shown in alerts.
    pub title: String,
    /// Base severity.
    pub severity: Severity,
    /// What it catches and how to tune it.
    pub description: String,
    /// Sources it applies to (empty: all).
    pub sources: Vec<Source>,
    /// Event kinds it applies to (empty: all).
    pub kinds: Vec<String>,
    /// MITRE ATT&CK technique ids.
    pub attack: Vec<String>,
    /// References (upstream rules, documentation).
    pub references: Vec<String>,
    /// Alert, shadow or off.
    pub mode: Mode,
    /// Raise severity with the classification of the data touched.
    pub escalate: bool,
    /// Treatment of failed attempts.
    pub on_failure: OnFailure,
    /// False positives allowed on a benign corpus before `tune` fails.
    pub fp_budget: Option<u64>,
    /// The `[match]` condition.
    pub condition: Condition,
    /// Threshold, if any.
    pub threshold: Option<Threshold>,
    /// Suppression, if any.
    pub suppress: Option<Suppress>,
    /// Allowlist: the rule matches only what the list does not allow (learned shapes).
    pub allowlist: Option<allowlist::Allowlist>,
    /// The rule's own tests (empty when [`Rule::tests_deferred`]: see [`Rule::test_specs`]).
    pub tests: Vec<TestSpec>,
    /// The tests were left in `text`, unparsed: the embedded pack is compiled without them so a
    /// Lambda container or a replay does not parse recorded test events at start-up (a third of
    /// the start-up time); `laneguard test` parses them when it runs them.
    pub tests_deferred: bool,
    /// The Sigma rule it was imported from (the `[sigma]` table), carried into its findings.
    pub sigma: Option<Arc<SigmaOrigin>>,
    /// Problems found while importing it that do not stop it (a Sigma rule's warnings:
    /// "matches calls that AWS refused", a field CloudTrail does not write, …).
    pub warnings: Vec<crate::sigma::Warning>,
    /// File the rule came from.
    pub file: String,
    /// The rule's source text (tests recompile it alone).
    pub text: String,
    /// `condition` reordered for evaluation (cheap tests first; see [`Condition::planned`]).
    plan: Condition,
    /// A sequence rule's sequence (its steps are [`Rule::steps`]; it has no condition of its own).
    pub sequence: Option<Arc<sequence::Sequence>>,
    /// A sequence rule's steps, compiled as rules (`<id>/<step>`), until the set files them
    /// behind its top-level rules.
    pub(crate) steps: Vec<Rule>,
    /// For a step of a sequence: which, and how it keys its events.
    pub(crate) step: Option<StepOf>,
}

/// What a step rule knows of its sequence.
#[derive(Clone, Debug)]
pub(crate) struct StepOf {
    /// Index of the sequence rule in the set.
    pub parent: usize,
    /// Index of the step in the sequence.
    pub index: usize,
    /// Join key fields.
    pub key: Vec<Field>,
    /// Coverage key fields (absence rules).
    pub covered_by: Vec<Field>,
}

/// A rule file that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// File.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The id the file declares, when it can be read (an operator searches rules by id as
    /// much as by file).
    pub rule: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: ", self.file)?,
            None => write!(f, "{}: ", self.file)?,
        }
        if let Some(id) = &self.rule {
            write!(f, "rule {id}: ")?;
        }
        f.write_str(&self.reason)
    }
}

impl std::error::Error for RuleError {}

impl Rule {
    /// Whether the rule looks at events of this source and kind at all (its prefilters).
    pub fn applies(&self, event: &Event<'_>) -> bool {
        (self.sources.is_empty() || self.sources.contains(&event.source))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == event.kind.name()))
    }

    /// The finding this rule raises on `event`, `count` events behind it.
    pub fn finding(&self, event: &Event<'_>, count: u64) -> crate::finding::Finding {
        let mut f =
            crate::finding::Finding::from_event(&self.id, &self.title, self.severity_for(event), event);
        f.count = count;
        f.attack = self.attack.clone();
        f.shadow = self.mode == Mode::Shadow;
        f.sigma = self.sigma.clone();
        f
    }

    /// The severity for this event: base, lowered for a failed attempt, raised with the
    /// classification of the data touched (DETECTIONS.md §4.3: confidential +1, restricted +1
    /// and at least high).
    pub fn severity_for(&self, event: &Event<'_>) -> Severity {
        let mut level = self.severity as i32;
        if self.on_failure == OnFailure::Lower && failed(event) {
            level -= 1;
        }
        if self.escalate {
            match event.enrichment.classification {
                Some(Classification::Confidential) => level += 1,
                Some(Classification::Restricted) => level = (level + 1).max(Severity::High as i32),
                _ => {}
            }
        }
        severity_from(level)
    }
}

fn severity_from(level: i32) -> Severity {
    match level {
        i32::MIN..=0 => Severity::Info,
        1 => Severity::Low,
        2 => Severity::Medium,
        3 => Severity::High,
        _ => Severity::Critical,
    }
}

/// Whether the event records a failure: a refused statement, an API error, a failed login.
pub fn failed(event: &Event<'_>) -> bool {
    match &event.kind {
        Kind::Statement(st) => !st.succeeded,
        Kind::ApiCall(a) => a.error_code.is_some(),
        Kind::FailedConnect(_) => true,
        _ => false,
    }
}
