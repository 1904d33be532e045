//! Tuning: what a rule set does on a labeled corpus — the measured step between writing a rule
//! and letting it page anyone.
//!
//! A corpus is a directory of logs labeled by layout (a `benign/` or `attack/` directory anywhere
//! on a file's path) or by a `labels.tsv` file (`path<TAB>benign|attack`, paths relative to the
//! corpus). [`Tally`] is a pipeline [`Output`]: it counts, per rule, hits on benign records (false
//! positives), hits on attack records (true positives), the principals and statement shapes
//! behind the hits, the corpus time span (for alerts-per-day projections), and the attack records
//! no rule caught. [`diff`] compares the fire sets of two rule sets on the same corpus.
//!
//! Measured per source, too: how many benign and attack *statements* raised a finding
//! ([`StatementCounts`], the false-positive rate of an engine's traffic). A [`Baseline`] is the
//! set of records a rule set flags on a corpus, written to a file and committed; comparing a run
//! with it finds regressions — a benign record newly flagged, an attack record no longer caught —
//! which is how CI keeps the numbers measured. A [`Split`] sets the first part of each benign
//! file aside for learning (`laneguard learn --split`) so the rest measures what was learned.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::envelope::{RawRecord, RecordSink, Skip};
use crate::event::{Event, Kind, Origin, Timestamp};
use crate::finding::Finding;
use crate::pipeline::Output;

/// The label of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Label {
    /// Known-good traffic: any finding on it is a false positive.
    Benign,
    /// Attack traffic: findings on it are true positives.
    Attack,
    /// Not labeled: counted, not scored.
    Unlabeled,
    /// The learning part of a benign file under a [`Split`]: counted, not scored.
    Training,
}

/// A chronological split of every benign file: the first `fraction` of its lines is for
/// learning (`laneguard learn --split`), the rest for measuring (`laneguard tune --split`).
/// Attack files are never split.
#[derive(Clone, Debug, Default)]
pub struct Split {
    fraction: f64,
    /// Last record line per file (filled by a [`LineCounter`] pass over the inputs).
    lines: HashMap<String, u64>,
}

impl Split {
    /// A split keeping the first `fraction` (0 to 1) of each file for learning.
    pub fn new(fraction: f64) -> Split {
        Split {
            fraction: fraction.clamp(0.0, 1.0),
            lines: HashMap::new(),
        }
    }

    /// A record sink that learns each file's length: read every input into it once, first.
    pub fn counter(&mut self) -> LineCounter<'_> {
        LineCounter { split: self }
    }

    /// The last line of a file's learning part.
    pub fn cut(&self, file: &str) -> u64 {
        let total = self.lines.get(file).copied().unwrap_or(0);
        (total as f64 * self.fraction).ceil() as u64
    }

    /// Whether a record is in the learning part of its file.
    pub fn in_training(&self, origin: &Origin<'_>) -> bool {
        match (origin.file, origin.line) {
            (Some(file), Some(line)) => line <= self.cut(file),
            _ => false,
        }
    }
}

/// Counts the lines of each input for a [`Split`] (the last line a record starts on).
#[derive(Debug)]
pub struct LineCounter<'s> {
    split: &'s mut Split,
}

impl LineCounter<'_> {
    fn seen(&mut self, origin: &Origin<'_>) {
        if let (Some(file), Some(line)) = (origin.file, origin.line) {
            let last = self.split.lines.entry(file.to_owned()).or_default();
            *last = (*last).max(line);
        }
    }
}

impl RecordSink for LineCounter<'_> {
    fn record(&mut self, record: RawRecord<'_>) {
        self.seen(&record.origin);
    }
    fn skipped(&mut self, _reason: Skip, origin: &Origin<'_>) {
        self.seen(origin);
    }
    fn diagnostic(&mut self, _diagnostic: Diagnostic) {}
}

/// How files of a corpus are labeled.
#[derive(Clone, Debug, Default)]
pub struct Labels {
    explicit: HashMap<PathBuf, Label>,
}

impl Labels {
    /// Labels for a corpus directory: `labels.tsv` entries (if the file exists) override the
    /// `benign/` / `attack/` layout. Lines are `path<TAB>label`; `#` starts a comment; other
    /// columns are ignored.
    pub fn for_corpus(dir: &Path) -> std::io::Result<Labels> {
        let mut explicit = HashMap::new();
        let file = dir.join("labels.tsv");
        if file.is_file() {
            for line in std::fs::read_to_string(&file)?.lines() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let mut cols = line.split('\t');
                let (Some(path), Some(label)) = (cols.next(), cols.next()) else {
                    continue;
                };
                let label = match label.trim() {
                    "benign" => Label::Benign,
                    "attack" => Label::Attack,
                    _ => continue,
                };
                explicit.insert(dir.join(path.trim()), label);
            }
        }
        Ok(Labels { explicit })
    }

    /// The label of a file.
    pub fn of(&self, file: &str) -> Label {
        let path = Path::new(file);
        if let Some(l) = self.explicit.get(path) {
            return *l;
        }
        for c in path.components().rev() {
            match c.as_os_str().to_str() {
                Some("benign") => return Label::Benign,
                Some("attack") => return Label::Attack,
                _ => {}
            }
        }
        Label::Unlabeled
    }
}

/// Per-rule counts.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleTally {
    /// Findings on benign records.
    pub benign: u64,
    /// Findings on attack records.
    pub attack: u64,
    /// Findings on unlabeled records.
    pub unlabeled: u64,
    /// Shadow-mode findings (included in the counts above).
    pub shadow: u64,
    /// Distinct principals behind the findings.
    pub principals: BTreeSet<String>,
    /// Findings per statement fingerprint (or API action / flow port for other sources).
    pub shapes: BTreeMap<String, u64>,
}

/// A finding's identity in a fire set: rule and finding id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Fired {
    /// Rule id.
    pub rule: String,
    /// Finding id (deterministic).
    pub id: String,
    /// Where.
    pub origin: String,
}

/// Statements of one source and how many raised findings.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StatementCounts {
    /// Benign statements (scored: a split's learning part excluded).
    pub benign: u64,
    /// Benign statements with an alert (non-shadow) finding: false positives.
    pub benign_flagged: u64,
    /// Benign statements with any finding, shadow rules included (a learned allowlist).
    pub benign_flagged_with_shadow: u64,
    /// Attack statements.
    pub attack: u64,
    /// Attack statements with an alert finding.
    pub attack_flagged: u64,
    /// Attack statements with any finding, shadow rules included.
    pub attack_flagged_with_shadow: u64,
}

impl StatementCounts {
    /// Benign statements flagged, as a fraction (0 when there are none).
    pub fn fp_rate(&self, with_shadow: bool) -> f64 {
        let n = if with_shadow {
            self.benign_flagged_with_shadow
        } else {
            self.benign_flagged
        };
        if self.benign == 0 {
            0.0
        } else {
            n as f64 / self.benign as f64
        }
    }
}

/// The records of one file that raised an alert finding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlaggedFile {
    /// The file's label.
    pub label: Option<Label>,
    /// Lines of the flagged records (a record's first line).
    pub lines: BTreeSet<u64>,
}

/// Everything a tuning run measured.
#[derive(Debug, Serialize)]
pub struct Tally {
    #[serde(skip)]
    labels: Labels,
    #[serde(skip)]
    split: Option<Split>,
    /// Statements per source, and how many were flagged.
    pub statements: BTreeMap<&'static str, StatementCounts>,
    /// Records that raised an alert finding, per labeled file (the baseline of a run).
    #[serde(skip)]
    pub flagged: BTreeMap<String, FlaggedFile>,
    #[serde(skip)]
    current: Option<(&'static str, Label, bool)>,
    /// The current event's place (line, index): a finding raised on another event (a sequence
    /// completed by a late record, an absence settled at the end) is not the current
    /// statement's.
    #[serde(skip)]
    current_at: (Option<u64>, Option<u32>),
    /// Events per label.
    pub events: BTreeMap<Label, u64>,
    /// Per-rule counts.
    pub rules: BTreeMap<String, RuleTally>,
    /// Earliest and latest benign event time (for projections).
    pub benign_span: Option<(Timestamp, Timestamp)>,
    /// Attack events that raised no finding (count).
    pub uncaught_attack: u64,
    /// The first uncaught attack events (origins).
    pub uncaught_examples: Vec<String>,
    /// Every finding (for fire-set diffs).
    #[serde(skip)]
    pub fired: BTreeSet<Fired>,
    #[serde(skip)]
    pending: Option<String>,
}

impl Tally {
    /// A tally labeling files with `labels`.
    pub fn new(labels: Labels) -> Self {
        Tally::with_split(labels, None)
    }

    /// A tally that scores only the measuring part of each benign file (see [`Split`]).
    pub fn with_split(labels: Labels, split: Option<Split>) -> Self {
        Tally {
            labels,
            split,
            statements: BTreeMap::new(),
            flagged: BTreeMap::new(),
            current: None,
            current_at: (None, None),
            events: BTreeMap::new(),
            rules: BTreeMap::new(),
            benign_span: None,
            uncaught_attack: 0,
            uncaught_examples: Vec::new(),
            fired: BTreeSet::new(),
            pending: None,
        }
    }

    fn settle(&mut self) {
        if let Some(origin) = self.pending.take() {
            self.uncaught_attack += 1;
            if self.uncaught_examples.len() < 20 {
                self.uncaught_examples.push(origin);
            }
        }
    }

    /// Finish the run (call once after the last event).
    pub fn finish(&mut self) {
        self.settle();
    }

    /// Projected findings per day of a benign hit count, from the benign corpus's time span
    /// (at least one hour, so a burst corpus does not project absurd rates).
    pub fn per_day(&self, hits: u64) -> Option<f64> {
        let (a, b) = self.benign_span?;
        let secs = (b.as_second() - a.as_second()).max(3600) as f64;
        Some(hits as f64 * 86_400.0 / secs)
    }

    /// Total false positives (benign hits), shadow rules excluded.
    pub fn false_positives(&self) -> u64 {
        self.rules
            .values()
            .map(|r| r.benign - r.shadow.min(r.benign))
            .sum()
    }
}

fn shape_of(f: &Finding) -> String {
    if let Some(s) = &f.statement {
        format!(
            "{} {}",
            s.fingerprint,
            s.normalized.chars().take(80).collect::<String>()
        )
    } else if let Some(a) = &f.api {
        format!("{} {}", a.service, a.action)
    } else if let Some(fl) = &f.flow {
        format!(
            "{} port {}",
            fl.action.as_deref().unwrap_or("-"),
            fl.dst_port.map_or("-".into(), |p| p.to_string())
        )
    } else {
        f.title.clone()
    }
}

impl Tally {
    fn label_of(&self, origin: &Origin<'_>) -> Label {
        let label = origin.file.map_or(Label::Unlabeled, |f| self.labels.of(f));
        if label == Label::Benign && self.split.as_ref().is_some_and(|s| s.in_training(origin)) {
            Label::Training
        } else {
            label
        }
    }
}

impl Output for Tally {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        self.settle();
        let label = self.label_of(&event.origin);
        *self.events.entry(label).or_default() += 1;
        let statement = matches!(event.kind, Kind::Statement(_));
        self.current = Some((event.source.as_str(), label, statement));
        self.current_at = (event.origin.line, event.origin.index);
        if statement {
            let c = self.statements.entry(event.source.as_str()).or_default();
            match label {
                Label::Benign => c.benign += 1,
                Label::Attack => c.attack += 1,
                _ => {}
            }
        }
        match label {
            Label::Benign => {
                let t = event.time;
                self.benign_span = Some(match self.benign_span {
                    None => (t, t),
                    Some((a, b)) => (a.min(t), b.max(t)),
                });
            }
            Label::Attack => self.pending = Some(event.origin.to_string()),
            Label::Unlabeled | Label::Training => {}
        }
        if matches!(label, Label::Benign | Label::Attack)
            && let Some(file) = event.origin.file
            && !self.flagged.contains_key(file)
        {
            self.flagged.insert(
                file.to_owned(),
                FlaggedFile {
                    label: Some(label),
                    lines: BTreeSet::new(),
                },
            );
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        let here: Vec<&Finding> = findings
            .iter()
            .filter(|f| (f.evidence.origin.line, f.evidence.origin.index) == self.current_at)
            .collect();
        if !here.is_empty() {
            self.pending = None;
        }
        let alert = here.iter().any(|f| !f.shadow);
        if let Some((source, label, statement)) = self.current
            && statement
            && !here.is_empty()
        {
            let c = self.statements.entry(source).or_default();
            match label {
                Label::Benign => {
                    c.benign_flagged += u64::from(alert);
                    c.benign_flagged_with_shadow += 1;
                }
                Label::Attack => {
                    c.attack_flagged += u64::from(alert);
                    c.attack_flagged_with_shadow += 1;
                }
                _ => {}
            }
        }
        for f in findings {
            let o = &f.evidence.origin;
            let label = self.labels_of_finding(f);
            if !f.shadow
                && matches!(label, Label::Benign | Label::Attack)
                && let (Some(file), Some(line)) = (o.file.as_deref(), o.line)
            {
                let e = self.flagged.entry(file.to_owned()).or_default();
                e.label = Some(label);
                if !f.shadow {
                    e.lines.insert(line);
                }
            }
            let t = self.rules.entry(f.rule_id.clone()).or_default();
            match label {
                Label::Benign => t.benign += 1,
                Label::Attack => t.attack += 1,
                Label::Unlabeled => t.unlabeled += 1,
                Label::Training => continue,
            }
            if f.shadow {
                t.shadow += 1;
            }
            if let Some(p) = f.actor.principal.as_ref().or(f.actor.user.as_ref()) {
                t.principals.insert(p.clone());
            }
            *t.shapes.entry(shape_of(f)).or_default() += 1;
            self.fired.insert(Fired {
                rule: f.rule_id.clone(),
                id: f.id.clone(),
                origin: f.evidence.origin.to_string(),
            });
        }
    }
}

impl Tally {
    /// The label of the record a finding is about.
    fn labels_of_finding(&self, f: &Finding) -> Label {
        let o = &f.evidence.origin;
        let origin = Origin {
            file: o.file.as_deref(),
            line: o.line,
            ..Origin::default()
        };
        self.label_of(&origin)
    }

    /// The records this run flagged, as a [`Baseline`].
    pub fn baseline(&self) -> Baseline {
        Baseline {
            files: self
                .flagged
                .iter()
                .filter_map(|(f, x)| x.label.map(|l| (f.clone(), (l, x.lines.clone()))))
                .collect(),
        }
    }
}

/// The records a rule set flags on a corpus, per labeled file: committed, it is what a later
/// run must not lose (attack records) nor add to (benign records).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baseline {
    /// File → (label, lines of the flagged records).
    pub files: BTreeMap<String, (Label, BTreeSet<u64>)>,
}

/// How a run differs from a [`Baseline`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Regressions {
    /// Benign records the run flags and the baseline does not (`file:line`): new noise.
    pub new_benign: Vec<String>,
    /// Attack records the baseline flags and the run does not: lost detections.
    pub lost_attack: Vec<String>,
    /// Attack records newly flagged (an improvement: update the baseline).
    pub new_attack: u64,
    /// Benign records no longer flagged (an improvement: update the baseline).
    pub fixed_benign: u64,
}

impl Regressions {
    /// True when nothing got worse.
    pub fn is_clean(&self) -> bool {
        self.new_benign.is_empty() && self.lost_attack.is_empty()
    }
}

/// `1,3-5,9` → {1, 3, 4, 5, 9}.
fn parse_lines(text: &str) -> Result<BTreeSet<u64>, String> {
    let mut out = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u64, u64) = (
            a.parse()
                .map_err(|_| format!("{part:?} is not a line or range"))?,
            b.parse()
                .map_err(|_| format!("{part:?} is not a line or range"))?,
        );
        if b < a || b - a > 10_000_000 {
            return Err(format!("{part:?} is not a range"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// {1, 3, 4, 5, 9} → `1,3-5,9`.
fn render_lines(lines: &BTreeSet<u64>) -> String {
    let mut out = String::new();
    let mut it = lines.iter().copied().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if end == start {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{end}");
        }
    }
    out
}

impl Baseline {
    /// The baseline file: a header, then `file<TAB>label<TAB>lines` per labeled file.
    pub fn render(&self, corpus: &str) -> String {
        let mut out = format!(
            "# laneguard tune baseline of {corpus}: the records with an alert finding, per labeled file\n# (`laneguard tune --corpus {corpus} --write-baseline FILE`). `tune --baseline FILE` fails when a benign record\n# not listed here is flagged or a listed attack record is not. Columns: file, label, flagged lines (a record's first line).\n"
        );
        for (file, (label, lines)) in &self.files {
            let label = match label {
                Label::Benign => "benign",
                Label::Attack => "attack",
                _ => continue,
            };
            let _ = writeln!(out, "{file}\t{label}\t{}", render_lines(lines));
        }
        out
    }

    /// Parse a baseline file; errors name the line.
    pub fn parse(text: &str) -> Result<Baseline, String> {
        let mut files = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(file), Some(label)) = (cols.next(), cols.next()) else {
                return Err(format!("line {}: expected file<TAB>label<TAB>lines", n + 1));
            };
            let label = match label {
                "benign" => Label::Benign,
                "attack" => Label::Attack,
                other => return Err(format!("line {}: unknown label {other:?}", n + 1)),
            };
            let lines = parse_lines(cols.next().unwrap_or("")).map_err(|e| format!("line {}: {e}", n + 1))?;
            files.insert(file.to_owned(), (label, lines));
        }
        Ok(Baseline { files })
    }

    /// How `run` differs from this baseline.
    pub fn compare(&self, run: &Baseline) -> Regressions {
        let mut r = Regressions::default();
        let empty = BTreeSet::new();
        let files: BTreeSet<&String> = self.files.keys().chain(run.files.keys()).collect();
        for file in files {
            let (label, before) = self
                .files
                .get(file)
                .map_or((None, &empty), |(l, x)| (Some(*l), x));
            let (label_now, now) = run.files.get(file).map_or((None, &empty), |(l, x)| (Some(*l), x));
            match label_now.or(label) {
                Some(Label::Benign) => {
                    r.new_benign
                        .extend(now.difference(before).map(|l| format!("{file}:{l}")));
                    r.fixed_benign += before.difference(now).count() as u64;
                }
                Some(Label::Attack) => {
                    r.lost_attack
                        .extend(before.difference(now).map(|l| format!("{file}:{l}")));
                    r.new_attack += now.difference(before).count() as u64;
                }
                _ => {}
            }
        }
        r
    }
}

/// The difference between two fire sets on the same corpus.
#[derive(Debug, Default, Serialize)]
pub struct FireDiff {
    /// Findings only the candidate raised.
    pub new: Vec<Fired>,
    /// Findings only the baseline raised.
    pub lost: Vec<Fired>,
    /// Findings both raised.
    pub unchanged: usize,
}

/// Compare a candidate's fire set with a baseline's.
pub fn diff(candidate: &BTreeSet<Fired>, baseline: &BTreeSet<Fired>) -> FireDiff {
    FireDiff {
        new: candidate.difference(baseline).cloned().collect(),
        lost: baseline.difference(candidate).cloned().collect(),
        unchanged: candidate.intersection(baseline).count(),
    }
}

/// The findings of one run as a replay wrote them in OCSF (`replay --ocsf-dir`, `--format
/// ocsf`), read back to compare two rule versions over the same archive
/// (`laneguard tune --compare OLD NEW`). Findings are keyed by their deterministic id (rule,
/// record, time): the same record flagged by the same rule in both runs has the same id, so
/// what a rule change added or removed is a set difference.
#[derive(Debug, Default)]
pub struct OcsfRun {
    /// Every Detection Finding read, by finding id.
    pub findings: BTreeMap<String, Fired>,
    /// Records of another class (activity records in the same files), not compared.
    pub other_classes: u64,
    /// Findings read more than once (the same run written twice into a directory).
    pub duplicates: u64,
}

/// The parts of an OCSF Detection Finding a comparison reads.
#[derive(serde::Deserialize)]
struct OcsfRecord {
    class_uid: u32,
    #[serde(default)]
    finding_info: Option<OcsfInfo>,
    #[serde(default)]
    unmapped: Option<OcsfUnmapped>,
}

#[derive(serde::Deserialize)]
struct OcsfInfo {
    uid: String,
    analytic: OcsfAnalytic,
}

#[derive(serde::Deserialize)]
struct OcsfAnalytic {
    uid: String,
}

#[derive(serde::Deserialize)]
struct OcsfUnmapped {
    #[serde(default)]
    origin: Option<crate::event::OriginBuf>,
}

impl OcsfRun {
    /// Add one line of an OCSF JSON-lines file (blank lines are ignored). The error says what is
    /// wrong with the line; the caller adds its file and line number.
    pub fn add_line(&mut self, line: &str) -> Result<(), String> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let r: OcsfRecord = serde_json::from_str(line).map_err(|e| format!("not an OCSF record: {e}"))?;
        if r.class_uid != 2004 {
            self.other_classes += 1;
            return Ok(());
        }
        let info = r.finding_info.ok_or("a Detection Finding without finding_info")?;
        let origin = r
            .unmapped
            .and_then(|u| u.origin)
            .map_or_else(String::new, |o| o.to_string());
        let fired = Fired {
            rule: info.analytic.uid,
            id: info.uid.clone(),
            origin,
        };
        if self.findings.insert(info.uid, fired).is_some() {
            self.duplicates += 1;
        }
        Ok(())
    }
}

/// How one rule's findings changed between two runs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RuleChange {
    /// Findings of the old run.
    pub old: u64,
    /// Findings of the new run.
    pub new: u64,
    /// Findings in both (same id).
    pub kept: u64,
    /// Findings only the new run raised.
    pub added: u64,
    /// Findings only the old run raised.
    pub gone: u64,
}

/// Two runs over the same archive compared, per rule and finding by finding.
#[derive(Debug, Default, Serialize)]
pub struct RunComparison {
    /// Per rule (every rule that fired in either run).
    pub rules: BTreeMap<String, RuleChange>,
    /// Findings only the new run raised, in id order.
    pub added: Vec<Fired>,
    /// Findings only the old run raised, in id order.
    pub gone: Vec<Fired>,
    /// Findings in both.
    pub kept: u64,
}

impl RunComparison {
    /// Whether the two runs raised the same findings.
    pub fn is_same(&self) -> bool {
        self.added.is_empty() && self.gone.is_empty()
    }
}

/// Compare the findings of `old` and `new` (two rule versions over the same archive).
pub fn compare_runs(old: &OcsfRun, new: &OcsfRun) -> RunComparison {
    let mut c = RunComparison::default();
    for (id, f) in &old.findings {
        let r = c.rules.entry(f.rule.clone()).or_default();
        r.old += 1;
        if new.findings.contains_key(id) {
            r.kept += 1;
            c.kept += 1;
        } else {
            r.gone += 1;
            c.gone.push(f.clone());
        }
    }
    for (id, f) in &new.findings {
        let r = c.rules.entry(f.rule.clone()).or_default();
        r.new += 1;
        if !old.findings.contains_key(id) {
            r.added += 1;
            c.added.push(f.clone());
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocsf_runs_compare_by_finding_id_per_rule() {
        let line = |rule: &str, id: &str, line: u64| {
            format!(
                r#"{{"class_uid":2004,"finding_info":{{"uid":"{id}","analytic":{{"uid":"{rule}","name":"x","type_id":1}}}},"unmapped":{{"origin":{{"file":"a.log","line":{line}}}}}}}"#
            )
        };
        let mut old = OcsfRun::default();
        let mut new = OcsfRun::default();
        for l in [
            line("r1", "a", 1),
            line("r1", "b", 2),
            line("r2", "c", 3),
            line("r1", "a", 1),
        ] {
            old.add_line(&l).unwrap_or_default();
        }
        assert_eq!((old.findings.len(), old.duplicates), (3, 1));
        for l in [line("r1", "a", 1), line("r2", "c", 3), line("r3", "d", 4)] {
            new.add_line(&l).unwrap_or_default();
        }
        new.add_line(r#"{"class_uid":6005}"#).unwrap_or_default();
        new.add_line("").unwrap_or_default();
        assert_eq!(new.other_classes, 1);
        assert!(new.add_line("{not json").is_err());
        assert!(new.add_line(r#"{"class_uid":2004}"#).is_err());
        let c = compare_runs(&old, &new);
        assert_eq!(
            c.rules["r1"],
            RuleChange {
                old: 2,
                new: 1,
                kept: 1,
                added: 0,
                gone: 1
            }
        );
        assert_eq!(
            c.rules["r3"],
            RuleChange {
                old: 0,
                new: 1,
                kept: 0,
                added: 1,
                gone: 0
            }
        );
        assert_eq!((c.kept, c.added.len(), c.gone.len()), (2, 1, 1));
        assert_eq!(c.gone[0].origin, "a.log:2");
        assert!(!c.is_same() && compare_runs(&new, &new).is_same());
    }

    #[test]
    fn labels_by_layout_and_file() {
        let l = Labels::default();
        assert_eq!(l.of("samples/mysql-audit/benign/app.log"), Label::Benign);
        assert_eq!(l.of("samples/mysql-audit/attack/sqli.log"), Label::Attack);
        assert_eq!(l.of("samples/reference/x.log"), Label::Unlabeled);
        let dir = std::env::temp_dir().join(format!("lg-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("labels.tsv"),
            "# path\tlabel\nx.log\tattack\nbenign/y.log\tattack\n",
        )
        .unwrap();
        let l = Labels::for_corpus(&dir).unwrap();
        assert_eq!(l.of(&dir.join("x.log").display().to_string()), Label::Attack);
        assert_eq!(
            l.of(&dir.join("benign/y.log").display().to_string()),
            Label::Attack
        );
        assert_eq!(
            l.of(&dir.join("benign/z.log").display().to_string()),
            Label::Benign
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn baseline_roundtrip_and_regressions() {
        let lines = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        assert_eq!(render_lines(&lines(&[1, 3, 4, 5, 9])), "1,3-5,9");
        assert_eq!(parse_lines("1,3-5,9").unwrap(), lines(&[1, 3, 4, 5, 9]));
        assert!(parse_lines("5-3").is_err());
        let mut base = Baseline::default();
        base.files
            .insert("a/attack/x.log".into(), (Label::Attack, lines(&[2, 3, 4])));
        base.files
            .insert("a/benign/y.log".into(), (Label::Benign, lines(&[7])));
        let text = base.render("a/");
        assert_eq!(Baseline::parse(&text).unwrap(), base);
        assert!(Baseline::parse("x\tnope\t1").unwrap_err().starts_with("line 1:"));
        let mut run = base.clone();
        run.files
            .insert("a/attack/x.log".into(), (Label::Attack, lines(&[2, 4, 5])));
        run.files
            .insert("a/benign/y.log".into(), (Label::Benign, lines(&[8])));
        let r = base.compare(&run);
        assert_eq!(r.lost_attack, vec!["a/attack/x.log:3"]);
        assert_eq!(r.new_benign, vec!["a/benign/y.log:8"]);
        assert_eq!((r.new_attack, r.fixed_benign), (1, 1));
        assert!(!r.is_clean());
        assert!(base.compare(&base).is_clean());
    }

    #[test]
    fn fire_set_diff() {
        let f = |r: &str, id: &str| Fired {
            rule: r.into(),
            id: id.into(),
            origin: String::new(),
        };
        let a: BTreeSet<_> = [f("a", "1"), f("a", "2"), f("b", "3")].into();
        let b: BTreeSet<_> = [f("a", "1"), f("c", "4")].into();
        let d = diff(&a, &b);
        assert_eq!(d.new.len(), 2);
        assert_eq!(d.lost, vec![f("c", "4")]);
        assert_eq!(d.unchanged, 1);
    }
}
