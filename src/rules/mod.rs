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

pub mod allowlist;
pub mod condition;
pub mod field;
pub mod state;
pub mod testing;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use jiff::SignedDuration;
use serde::Deserialize;

use self::condition::{Condition, EvalCtx, Scanners, Shared};
use self::field::{Field, Val, any_value};
use self::state::{InMemoryState, StateStore};
use crate::engine::Detector;
use crate::event::{Classification, Event, Kind, Source};
use crate::finding::{Finding, Severity};
use crate::sql::Analysis;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

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

/// A rule file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    title: String,
    severity: Severity,
    #[serde(default)]
    description: String,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    attack: Vec<String>,
    #[serde(default)]
    references: Vec<String>,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    escalate: bool,
    #[serde(default)]
    on_failure: OnFailure,
    #[serde(default)]
    fp_budget: Option<u64>,
    #[serde(rename = "match")]
    matcher: toml::Table,
    #[serde(default)]
    threshold: Option<ThresholdFile>,
    #[serde(default)]
    suppress: Option<SuppressFile>,
    #[serde(default)]
    allowlist: Option<allowlist::AllowlistFile>,
    #[serde(default)]
    tests: Vec<testing::TestSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdFile {
    count: u64,
    window: String,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    distinct: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressFile {
    key: Vec<String>,
    #[serde(rename = "for")]
    duration: String,
}

/// A threshold: fire when `count` matching events (or distinct values of `distinct`) share a
/// `group_by` key within `window` of event time.
#[derive(Clone, Debug)]
pub struct Threshold {
    /// Events (or distinct values) needed.
    pub count: u64,
    /// Event-time window.
    pub window: SignedDuration,
    /// Fields whose values form the key.
    pub group_by: Vec<Field>,
    /// Count distinct values of this field instead of events.
    pub distinct: Option<Field>,
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
    /// The rule's own tests.
    pub tests: Vec<testing::TestSpec>,
    /// File the rule came from.
    pub file: String,
    /// The rule's source text (tests recompile it alone).
    pub text: String,
    /// `condition` reordered for evaluation (cheap tests first; see [`Condition::planned`]).
    plan: Condition,
}

/// A rule file that could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    /// File.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for RuleError {}

/// Parse `30s`, `5m`, `1h`, `14d`.
pub fn parse_duration(s: &str) -> Result<SignedDuration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 5m)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    if n <= 0 {
        return Err(format!("{s:?}: a duration must be positive"));
    }
    Ok(SignedDuration::from_secs(n.saturating_mul(secs)))
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

fn fields(paths: &[String], what: &str) -> Result<Vec<Field>, String> {
    paths
        .iter()
        .map(|p| Field::parse(p).ok_or_else(|| format!("{what}: unknown field `{p}`")))
        .collect()
}

fn sources(names: &[String]) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    for n in names {
        match n.as_str() {
            "any-sql" => out.extend([Source::MysqlAudit, Source::Pgaudit]),
            other => out.push(Source::from_name(other).ok_or_else(|| {
                format!("unknown source {other:?} (cloudtrail, mysql-audit, pgaudit, vpc-flow, any-sql)")
            })?),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

const KINDS: &[&str] = &[
    "statement",
    "connect",
    "disconnect",
    "failed_connect",
    "object_access",
    "api_call",
    "flow",
];

impl Rule {
    /// Compile one rule file's text, registering keywords and regexes in `shared`.
    fn compile(file: &str, text: &str, shared: &mut Shared) -> Result<Rule, RuleError> {
        let err = |line: Option<usize>, reason: String| RuleError {
            file: file.to_owned(),
            line,
            reason,
        };
        let raw: RuleFile = toml::from_str(text)
            .map_err(|e| err(e.span().map(|s| line_of(text, s.start)), e.message().to_owned()))?;
        // Line of a top-level key, for errors found after parsing.
        let line_at = |needle: &str| text.find(needle).map(|o| line_of(text, o));
        let match_line = line_at("[match]");
        if raw.id.trim().is_empty() || raw.id.contains(char::is_whitespace) {
            return Err(err(line_at("id"), format!("invalid rule id {:?}", raw.id)));
        }
        let sources = sources(&raw.sources).map_err(|e| err(line_at("sources"), e))?;
        for k in &raw.kinds {
            if !KINDS.contains(&k.as_str()) {
                return Err(err(
                    line_at("kinds"),
                    format!("unknown kind {k:?} ({})", KINDS.join(", ")),
                ));
            }
        }
        if raw.matcher.is_empty() {
            return Err(err(
                match_line,
                "`[match]` is empty: a rule must say what it matches".into(),
            ));
        }
        let condition = Condition::compile(&raw.matcher, shared).map_err(|e| err(match_line, e))?;
        let threshold = match raw.threshold {
            None => None,
            Some(t) => {
                let l = line_at("[threshold]");
                if t.count < 1 {
                    return Err(err(l, "threshold count must be at least 1".into()));
                }
                Some(Threshold {
                    count: t.count,
                    window: parse_duration(&t.window).map_err(|e| err(l, e))?,
                    group_by: fields(&t.group_by, "group_by").map_err(|e| err(l, e))?,
                    distinct: t
                        .distinct
                        .map(|d| Field::parse(&d).ok_or_else(|| format!("distinct: unknown field `{d}`")))
                        .transpose()
                        .map_err(|e| err(l, e))?,
                })
            }
        };
        let suppress = match raw.suppress {
            None => None,
            Some(s) => {
                let l = line_at("[suppress]");
                Some(Suppress {
                    key: fields(&s.key, "suppress key").map_err(|e| err(l, e))?,
                    duration: parse_duration(&s.duration).map_err(|e| err(l, e))?,
                })
            }
        };
        let allowlist = match raw.allowlist {
            None => None,
            Some(a) => Some(allowlist::Allowlist::compile(a).map_err(|e| err(line_at("[allowlist]"), e))?),
        };
        for (i, t) in raw.tests.iter().enumerate() {
            t.validate()
                .map_err(|e| err(line_at("[[tests]]"), format!("tests[{i}]: {e}")))?;
        }
        let plan = condition.planned();
        Ok(Rule {
            plan,
            id: raw.id,
            title: raw.title,
            severity: raw.severity,
            description: raw.description,
            sources,
            kinds: raw.kinds,
            attack: raw.attack,
            references: raw.references,
            mode: raw.mode,
            escalate: raw.escalate,
            on_failure: raw.on_failure,
            fp_budget: raw.fp_budget,
            condition,
            threshold,
            suppress,
            allowlist,
            tests: raw.tests,
            file: file.to_owned(),
            text: text.to_owned(),
        })
    }

    fn applies(&self, event: &Event<'_>) -> bool {
        (self.sources.is_empty() || self.sources.contains(&event.source))
            && (self.kinds.is_empty() || self.kinds.iter().any(|k| k == event.kind.name()))
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

/// A compiled rule set and its detection state.
pub struct RuleSet {
    rules: Vec<Rule>,
    scanners: Scanners,
    by_source: Index,
    state: Box<dyn StateStore + Send>,
    /// Statement verdicts that depend only on the statement's analysis (see [`sql_field`]).
    gates: SqlGates,
}

/// Most audit traffic repeats a few hundred statement shapes, and most rule conditions start
/// with `sql.class` / `sql.command` / `sql.flags` / `sql.normalized` tests: the part of each
/// candidate rule's verdict that those fields settle is computed once per (analysis, flags,
/// source) and reused. Per candidate: 0 = cannot hold, 1 = holds, 2 = evaluate per event.
/// Entries keep their `Arc<Analysis>` alive, so a key's address cannot be reused while cached.
#[derive(Default)]
struct SqlGates {
    map: HashMap<GateKey, GateEntry, BuildMix>,
}

/// (address of the analysis, SQL flags of the event, source index).
type GateKey = (usize, u32, usize);
/// The analysis (kept alive) and one verdict per candidate rule.
type GateEntry = (Arc<Analysis>, Box<[u8]>);

/// A multiply-rotate hasher for the small integer keys of [`SqlGates`] (SipHash would cost
/// more than the rules it saves).
#[derive(Clone, Copy, Default)]
struct BuildMix;

#[derive(Clone, Copy, Default)]
struct Mix(u64);

impl std::hash::BuildHasher for BuildMix {
    type Hasher = Mix;
    fn build_hasher(&self) -> Mix {
        Mix(0)
    }
}

impl std::hash::Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(26) ^ i).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// Entries kept before the gate cache starts over.
const GATE_CAPACITY: usize = 8192;

/// Fields whose values, for a statement event, are a function of (its analysis, its SQL flags,
/// its source): the key of [`SqlGates`]. `kind` is always `statement` there.
fn sql_field(field: &Field) -> bool {
    matches!(
        field,
        Field::Fixed(
            "source"
                | "kind"
                | "sql.class"
                | "sql.command"
                | "sql.flags"
                | "sql.normalized"
                | "sql.fingerprint"
        )
    )
}

impl fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

/// Rules to evaluate per (source, event kind): the source and kind prefilters, applied once
/// when the set is built instead of per event.
type Index = [[Vec<usize>; KINDS.len()]; 4];

/// Rules to evaluate per source and kind (the prefilters); `off` rules are never evaluated.
fn index_by_source(rules: &[Rule]) -> Index {
    let mut by_source: Index = Default::default();
    for (i, r) in rules.iter().enumerate() {
        if r.mode == Mode::Off {
            continue;
        }
        for s in Source::ALL {
            if r.sources.is_empty() || r.sources.contains(&s) {
                for (k, kind) in KINDS.iter().enumerate() {
                    if r.kinds.is_empty() || r.kinds.iter().any(|x| x == kind) {
                        by_source[source_index(s)][k].push(i);
                    }
                }
            }
        }
    }
    by_source
}

/// Position of the event's kind in [`KINDS`] (the names `Kind::name` returns).
fn kind_index(kind: &Kind<'_>) -> usize {
    match kind {
        Kind::Statement(_) => 0,
        Kind::Connect(_) => 1,
        Kind::Disconnect(_) => 2,
        Kind::FailedConnect(_) => 3,
        Kind::ObjectAccess(_) => 4,
        Kind::ApiCall(_) => 5,
        Kind::Flow(_) => 6,
    }
}

fn source_index(s: Source) -> usize {
    match s {
        Source::CloudTrail => 0,
        Source::MysqlAudit => 1,
        Source::Pgaudit => 2,
        Source::VpcFlow => 3,
    }
}

impl RuleSet {
    /// Compile rules from `(file, text)` pairs. Files that fail are returned as errors; the others
    /// load. Duplicate ids are errors too (the later file is rejected).
    pub fn from_sources<'t>(
        files: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> (RuleSet, Vec<RuleError>) {
        let mut shared = Shared::default();
        let mut rules: Vec<Rule> = Vec::new();
        let mut errors = Vec::new();
        for (file, text) in files {
            // Compile against a scratch copy so a failing file leaves no keywords behind.
            let mut scratch = Shared {
                keywords: shared.keywords.clone(),
                fields: shared.fields.clone(),
                regexes: shared.regexes.clone(),
            };
            match Rule::compile(file, text, &mut scratch) {
                Ok(rule) if rules.iter().any(|r| r.id == rule.id) => errors.push(RuleError {
                    file: file.to_owned(),
                    line: None,
                    reason: format!("duplicate rule id {:?}", rule.id),
                }),
                Ok(rule) => {
                    shared = scratch;
                    rules.push(rule);
                }
                Err(e) => errors.push(e),
            }
        }
        let scanners = match Scanners::build(&shared) {
            Ok(s) => s,
            Err(reason) => {
                errors.push(RuleError {
                    file: "<rule set>".into(),
                    line: None,
                    reason,
                });
                rules.clear();
                Scanners::build(&Shared::default()).unwrap_or_else(|_| Scanners {
                    keywords: None,
                    keyword_count: 0,
                    regexes: Vec::new(),
                    fields: Vec::new(),
                    fixed: Vec::new(),
                })
            }
        };
        (
            RuleSet {
                by_source: index_by_source(&rules),
                rules,
                scanners,
                state: Box::new(InMemoryState::default()),
                gates: SqlGates::default(),
            },
            errors,
        )
    }

    /// The default rule pack embedded in the binary.
    pub fn embedded() -> (RuleSet, Vec<RuleError>) {
        RuleSet::from_sources(EMBEDDED_RULES.iter().copied())
    }

    /// Load every `*.toml` of a directory (but `policy.toml`), in sorted order.
    pub fn load_dir(dir: &Path) -> Result<(RuleSet, Vec<RuleError>), std::io::Error> {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| n != "policy.toml")
            })
            .collect();
        paths.sort();
        for p in paths {
            match std::fs::read_to_string(&p) {
                Ok(text) => files.push((p.display().to_string(), text)),
                Err(e) => errors.push(RuleError {
                    file: p.display().to_string(),
                    line: None,
                    reason: e.to_string(),
                }),
            }
        }
        let (set, mut more) = RuleSet::from_sources(files.iter().map(|(f, t)| (f.as_str(), t.as_str())));
        errors.append(&mut more);
        Ok((set, errors))
    }

    /// Replace the detection state store (a shared store for several Lambda containers).
    pub fn set_state(&mut self, state: Box<dyn StateStore + Send>) {
        self.state = state;
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The compiled scanners (for explanations in tests).
    pub fn scanners(&self) -> &Scanners {
        &self.scanners
    }
}

fn key_of(event: &Event<'_>, docs: &mut field::Docs, fields: &[Field], rule: usize) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(rule as u64).to_le_bytes());
    for f in fields {
        any_value(event, docs, f, &mut |v| {
            if let Some(t) = v.as_text() {
                h.update(t.as_bytes());
            }
            true
        });
        h.update(&[0x1f]);
    }
    h.digest()
}

fn first_hash(event: &Event<'_>, docs: &mut field::Docs, field: &Field) -> u64 {
    let mut out = 0;
    any_value(event, docs, field, &mut |v: &Val<'_>| {
        if let Some(t) = v.as_text() {
            out = xxhash_rust::xxh3::xxh3_64(t.as_bytes());
        }
        true
    });
    out
}

impl Detector for RuleSet {
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        let mut ctx = EvalCtx::new(event, &self.scanners);
        debug_assert_eq!(
            KINDS.get(kind_index(&event.kind)).copied(),
            Some(event.kind.name())
        );
        let source = source_index(event.source);
        let candidates = &self.by_source[source][kind_index(&event.kind)];
        let gate: Option<&[u8]> = match (&event.kind, &event.sql) {
            (Kind::Statement(_), Some(sql)) => {
                let key = (Arc::as_ptr(&sql.analysis).addr(), sql.flags.0, source);
                if !self.gates.map.contains_key(&key) {
                    if self.gates.map.len() >= GATE_CAPACITY {
                        self.gates.map.clear();
                    }
                    let verdicts: Box<[u8]> = candidates
                        .iter()
                        .map(|&i| match self.rules[i].plan.settle(&mut ctx, sql_field) {
                            Some(false) => 0,
                            Some(true) => 1,
                            None => 2,
                        })
                        .collect();
                    self.gates.map.insert(key, (Arc::clone(&sql.analysis), verdicts));
                }
                self.gates.map.get(&key).map(|(_, v)| &**v)
            }
            _ => None,
        };
        for (n, &i) in candidates.iter().enumerate() {
            let rule = &self.rules[i];
            // Source and kind were applied by the index (`applies` holds for every candidate).
            if rule.on_failure == OnFailure::Ignore && failed(event) {
                continue;
            }
            let holds = match gate.and_then(|g| g.get(n)) {
                Some(0) => false,
                Some(1) => true,
                _ => rule.plan.holds(&mut ctx),
            };
            if !holds {
                continue;
            }
            if let Some(a) = &rule.allowlist
                && a.allows(event, &mut ctx.docs)
            {
                continue;
            }
            matched.push(rule.id.clone());
            let mut count = 1;
            if let Some(t) = &rule.threshold {
                let key = key_of(event, &mut ctx.docs, &t.group_by, i);
                let distinct = t.distinct.as_ref().map(|d| first_hash(event, &mut ctx.docs, d));
                count = self.state.observe(key, event.time, t.window, distinct);
                if count < t.count {
                    continue;
                }
                self.state.reset(key);
            }
            if let Some(s) = &rule.suppress {
                let key = key_of(event, &mut ctx.docs, &s.key, i) ^ 0x5eed;
                if self.state.suppressed(key, event.time, s.duration) {
                    continue;
                }
            }
            let mut f = Finding::from_event(&rule.id, &rule.title, rule.severity_for(event), event);
            f.count = count;
            f.attack = rule.attack.clone();
            f.shadow = rule.mode == Mode::Shadow;
            findings.push(f);
        }
    }
}
