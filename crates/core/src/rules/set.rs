//! The compiled rule set and how it detects: rules indexed by source and event kind, verdicts
//! that depend only on a statement's shape computed once per shape, thresholds and suppression
//! through a [`StateStore`], and findings with the rule's severity for the event.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::condition::Shared;
use super::eval::{EvalCtx, Hits, Scanners};
use super::field::{self, Field, Val, any_value};
use super::file::KINDS;
use super::index::Bucket;
use super::sequence::{Observation, SequenceCounters};
use super::state::{InMemoryState, StateStore};
use super::{Mode, OnFailure, Rule, RuleError, failed};
use crate::detector::{Decision, DeferredThreshold, Detector, ThresholdStep};
use crate::event::{Event, Kind, Source};
use crate::finding::Finding;
use crate::sigma::settings::SigmaSettings;
use crate::sql::Analysis;

include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));

/// Rule files as `(name, text)` pairs, to compile together.
pub type RuleFiles = Vec<(String, String)>;

/// A compiled rule set and its detection state.
pub struct RuleSet {
    /// The rules, then the steps of the sequence rules (`rules[..top]` are the rules as written).
    rules: Vec<Rule>,
    top: usize,
    /// The newest event time seen: the watermark live functions decide absences against.
    newest: Option<jiff::Timestamp>,
    scanners: Scanners,
    by_source: Index,
    /// Reused buffers of the index look-up (no allocation per event).
    scratch: Vec<u32>,
    fold: String,
    /// Reused keyword and regex results of the event being evaluated.
    hits: Hits,
    state: Box<dyn StateStore + Send>,
    /// Statement verdicts that depend only on the statement's analysis (see [`sql_field`]).
    gates: SqlGates,
    /// Who decides thresholds and suppression.
    mode: StateMode,
    deferred: Vec<DeferredThreshold>,
    /// Sequence step matches left for a shared store (see [`RuleSet::defer_thresholds`]).
    deferred_sequences: Vec<Observation>,
    decisions: Vec<Decision>,
    /// Whether any rule is a sequence (the newest event time is kept, absences settled).
    sequences: bool,
    /// Sequence step matches without a join key value, in this set.
    no_key: u64,
}

/// Salt of the coverage keys of absence rules (not the join keys of the same fields).
const COVERAGE: u64 = 0xc0fe_7a6e;
/// Salt of a sequence rule's suppression keys.
const SEQUENCE_MUTE: u64 = 0x5e9_5eed;

/// Who decides the stateful part of a match (thresholds, suppression).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StateMode {
    /// This rule set, with its own state store.
    Local,
    /// Thresholds: a store shared by several containers ([`RuleSet::defer_thresholds`]);
    /// suppression of other rules stays local.
    Shared,
    /// Everything stateful: an ordered merge of several workers' results
    /// ([`RuleSet::order_decisions`]).
    Ordered,
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
type GateKey = (usize, u64, usize);
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
                | "sql.family"
                | "sql.catalogs"
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

/// Rules to evaluate per (source, event kind), each bucket filed by its equality keys
/// ([`super::index`]): the source and kind prefilters are applied once when the set is built, and
/// an event meets only the rules its key values can match.
type Index = [[Bucket; KINDS.len()]; Source::ALL.len()];

/// Rules per source and kind, filed by key; `off` rules are never evaluated.
fn index_by_source(rules: &[Rule]) -> Index {
    let mut members: [[Vec<usize>; KINDS.len()]; Source::ALL.len()] = Default::default();
    for (i, r) in rules.iter().enumerate() {
        // A sequence rule has no condition of its own: its steps are filed instead.
        if r.mode == Mode::Off || r.sequence.is_some() {
            continue;
        }
        for s in Source::ALL {
            if r.sources.is_empty() || r.sources.contains(&s) {
                for (k, kind) in KINDS.iter().enumerate() {
                    if r.kinds.is_empty() || r.kinds.iter().any(|x| x == kind) {
                        members[source_index(s)][k].push(i);
                    }
                }
            }
        }
    }
    members.map(|kinds| kinds.map(|m| Bucket::build(m, rules)))
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
    s.index()
}

impl RuleSet {
    /// Compile rules from `(file, text)` pairs: TOML rules, and Sigma rules (`*.yml`, `*.yaml`)
    /// imported with the default settings. Files that fail are returned as errors; the others
    /// load. Duplicate ids are errors too (the later file is rejected).
    pub fn from_sources<'t>(
        files: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> (RuleSet, Vec<RuleError>) {
        RuleSet::from_sources_with(files, &SigmaSettings::default())
    }

    /// [`RuleSet::from_sources`] with the Sigma settings of the policy (`[sigma]`: modes,
    /// require success, placeholders).
    pub fn from_sources_with<'t>(
        files: impl IntoIterator<Item = (&'t str, &'t str)>,
        sigma: &SigmaSettings,
    ) -> (RuleSet, Vec<RuleError>) {
        RuleSet::compile_all(files, |file, text, shared| {
            if !crate::sigma::is_sigma_file(file) {
                return Rule::compile(file, text, shared);
            }
            let converted = crate::sigma::convert(file, text, sigma)?;
            let mut rule = Rule::compile(file, &converted.toml, shared)?;
            rule.warnings = converted.warnings;
            Ok(rule)
        })
    }

    fn compile_all<'t>(
        files: impl IntoIterator<Item = (&'t str, &'t str)>,
        compile: impl Fn(&str, &str, &mut Shared) -> Result<Rule, RuleError>,
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
            match compile(file, text, &mut scratch) {
                Ok(rule) if rules.iter().any(|r| r.id == rule.id) => errors.push(RuleError {
                    file: file.to_owned(),
                    line: None,
                    rule: Some(rule.id.clone()),
                    reason: format!("duplicate rule id {:?}", rule.id),
                }),
                Ok(rule) => {
                    shared = scratch;
                    rules.push(rule);
                }
                Err(mut e) => {
                    if e.rule.is_none() && !crate::sigma::is_sigma_file(file) {
                        e.rule = super::file::declared_id(text);
                    }
                    errors.push(e);
                }
            }
        }
        let scanners = match Scanners::build(&shared) {
            Ok(s) => s,
            Err(reason) => {
                errors.push(RuleError {
                    file: "<rule set>".into(),
                    line: None,
                    rule: None,
                    reason,
                });
                rules.clear();
                Scanners::build(&Shared::default()).unwrap_or_else(|_| Scanners {
                    keywords: None,
                    keyword_count: 0,
                    regexes: Vec::new(),
                    fields: Vec::new(),
                    fixed: Vec::new(),
                    regex_base: Vec::new(),
                    regex_total: 0,
                })
            }
        };
        let (rules, top) = file_steps(rules);
        let sequences = rules[..top]
            .iter()
            .any(|r| r.sequence.is_some() && r.mode != Mode::Off);
        (
            RuleSet {
                by_source: index_by_source(&rules),
                top,
                newest: None,
                scratch: Vec::new(),
                fold: String::new(),
                hits: Hits::default(),
                rules,
                scanners,
                state: Box::new(InMemoryState::default()),
                gates: SqlGates::default(),
                mode: StateMode::Local,
                deferred: Vec::new(),
                deferred_sequences: Vec::new(),
                decisions: Vec::new(),
                sequences,
                no_key: 0,
            },
            errors,
        )
    }

    /// `rule` alone, as its own set, with `off` run as `alert`: its tests must hold whatever its
    /// mode ([`crate::rule_tests`]).
    pub fn isolated(rule: &Rule) -> RuleSet {
        // `text` is always a laneguard rule (a Sigma rule's is the TOML it was compiled into).
        let (mut set, _) = RuleSet::compile_all([(rule.file.as_str(), rule.text.as_str())], Rule::compile);
        for r in &mut set.rules {
            if r.mode == Mode::Off {
                r.mode = Mode::Alert;
            }
        }
        set.by_source = index_by_source(&set.rules);
        set
    }

    /// The default rule pack embedded in the binary.
    ///
    /// (Sequence rules' steps are filed behind the rules as written: see [`file_steps`].)
    pub fn embedded() -> (RuleSet, Vec<RuleError>) {
        // The rule part of each file only; the tests stay in the rule's text for `laneguard test`.
        let parts = EMBEDDED_RULES
            .iter()
            .zip(EMBEDDED_TESTS_AT)
            .map(|(&(file, text), &at)| (file, text.get(..at).unwrap_or(text)));
        RuleSet::compile_all(parts, |file, part, shared| {
            let mut rule = Rule::compile(file, part, shared)?;
            if let Some(&(_, full)) = EMBEDDED_RULES.iter().find(|(f, _)| *f == file)
                && full.len() > part.len()
            {
                full.clone_into(&mut rule.text);
                rule.tests_deferred = true;
            }
            Ok(rule)
        })
    }

    /// The default pack's files, `(name, text)`, to compile with others.
    pub fn embedded_files() -> RuleFiles {
        EMBEDDED_RULES
            .iter()
            .map(|(f, t)| ((*f).to_owned(), (*t).to_owned()))
            .collect()
    }

    /// Load every `*.toml` of a directory (but `policy.toml`) and every Sigma rule (`*.yml`,
    /// `*.yaml`, default settings), in sorted order.
    pub fn load_dir(dir: &Path) -> Result<(RuleSet, Vec<RuleError>), std::io::Error> {
        RuleSet::load_dir_with(dir, &SigmaSettings::default())
    }

    /// [`RuleSet::load_dir`] with the Sigma settings of the policy.
    pub fn load_dir_with(
        dir: &Path,
        sigma: &SigmaSettings,
    ) -> Result<(RuleSet, Vec<RuleError>), std::io::Error> {
        let (files, mut errors) = RuleSet::read_dir(dir)?;
        let (set, mut more) =
            RuleSet::from_sources_with(files.iter().map(|(f, t)| (f.as_str(), t.as_str())), sigma);
        errors.append(&mut more);
        Ok((set, errors))
    }

    /// Read the rule files of a directory (`*.toml` but `policy.toml`, Sigma `*.yml`/`*.yaml`), in
    /// sorted order; files that cannot be read are errors.
    pub fn read_dir(dir: &Path) -> Result<(RuleFiles, Vec<RuleError>), std::io::Error> {
        let mut files: Vec<(String, String)> = Vec::new();
        let mut errors = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (p.extension().is_some_and(|x| x == "toml") && name != "policy.toml")
                    || crate::sigma::is_sigma_file(&name)
            })
            .collect();
        paths.sort();
        for p in paths {
            match RuleSet::read_file(&p) {
                Ok(text) => files.push((p.display().to_string(), text)),
                Err(e) => errors.push(e),
            }
        }
        Ok((files, errors))
    }

    /// Read one rule file (a Sigma file over the limit is refused without reading it whole).
    pub fn read_file(p: &Path) -> Result<String, RuleError> {
        let file = p.display().to_string();
        if crate::sigma::is_sigma_file(&file) {
            crate::sigma::read(p).map_err(RuleError::from)
        } else {
            std::fs::read_to_string(p).map_err(|e| RuleError {
                file,
                line: None,
                rule: None,
                reason: e.to_string(),
            })
        }
    }

    /// The same compiled rules with fresh detection state and caches: one more engine for
    /// another thread, without compiling the rules again.
    pub fn fork(&self) -> RuleSet {
        RuleSet {
            rules: self.rules.clone(),
            top: self.top,
            newest: None,
            scanners: self.scanners.clone(),
            by_source: self.by_source.clone(),
            scratch: Vec::new(),
            fold: String::new(),
            hits: Hits::default(),
            state: Box::new(InMemoryState::default()),
            gates: SqlGates::default(),
            mode: self.mode,
            deferred: Vec::new(),
            deferred_sequences: Vec::new(),
            decisions: Vec::new(),
            sequences: self.sequences,
            no_key: 0,
        }
    }

    /// Replace the detection state store.
    pub fn set_state(&mut self, state: Box<dyn StateStore + Send>) {
        self.state = state;
    }

    /// Leave threshold decisions to a state store shared by several containers: every
    /// observation of a threshold rule becomes a [`DeferredThreshold`] (taken with
    /// [`Detector::take_deferred`]) instead of a finding decided here. Suppression of threshold
    /// rules moves with it; other rules are unaffected. Sequence step matches go to the shared
    /// store too ([`Detector::take_sequences`]): the CloudTrail function's half of a sequence
    /// must meet the audit function's half.
    pub fn defer_thresholds(&mut self) {
        self.mode = StateMode::Shared;
    }

    /// Leave every stateful decision — threshold windows and suppression — to whoever merges
    /// this rule set's results in stream order: each match of a threshold or suppressed rule
    /// becomes a finding (count 1) with a [`Decision`] (taken with [`Detector::take_decisions`])
    /// that says whether it stands. With one merger applying the decisions of several workers in
    /// order to one [`StateStore`], the findings are those of a single thread.
    pub fn order_decisions(&mut self) {
        self.mode = StateMode::Ordered;
    }

    /// The rules, as written (a sequence rule's steps are inside it, not listed).
    pub fn rules(&self) -> &[Rule] {
        &self.rules[..self.top]
    }

    /// Whether any rule of the set is a sequence (replay and the functions then settle
    /// absences at the end of their input).
    pub fn has_sequences(&self) -> bool {
        self.rules()
            .iter()
            .any(|r| r.sequence.is_some() && r.mode != Mode::Off)
    }

    /// The compiled scanners (for explanations in tests).
    pub fn scanners(&self) -> &Scanners {
        &self.scanners
    }
}

/// Move every sequence rule's steps behind the rules as written, each knowing its rule's index:
/// the index and the gates treat them as rules; [`RuleSet::rules`] lists only the rules.
fn file_steps(mut rules: Vec<Rule>) -> (Vec<Rule>, usize) {
    let top = rules.len();
    for parent in 0..top {
        let steps = std::mem::take(&mut rules[parent].steps);
        for mut step in steps {
            if let Some(of) = &mut step.step {
                of.parent = parent;
            }
            rules.push(step);
        }
    }
    (rules, top)
}

/// The state keys of a sequence step's event: one per combination of the key fields' values
/// (a GRANT to two accounts starts a sequence for each), at most [`MAX_KEYS_PER_EVENT`];
/// none when no key field has a value (the step is skipped and counted).
fn step_keys(event: &Event<'_>, docs: &mut field::Docs, fields: &[Field], rule: &str) -> Vec<u64> {
    // The usual case — every key field has at most one value — hashed as it is read, without
    // an allocation (a fusion rule's step matches most flow records); the same bytes as below.
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(rule.as_bytes());
    h.update(&[0x1e]);
    let (mut any, mut single) = (false, true);
    for f in fields {
        let mut n = 0;
        // (`any_value` stops at the first `true`: read a second value only to know there is one.)
        any_value(event, docs, f, &mut |v| {
            n += 1;
            if n > 1 {
                return true;
            }
            hash_value(&mut h, v);
            false
        });
        h.update(&[0x1f]);
        any |= n > 0;
        if n > 1 {
            single = false;
            break;
        }
    }
    if single {
        return if any { vec![h.digest()] } else { Vec::new() };
    }
    let mut combos: Vec<Vec<String>> = vec![Vec::new()];
    let mut any = false;
    for f in fields {
        let mut values: Vec<String> = Vec::new();
        any_value(event, docs, f, &mut |v| {
            if let Some(t) = v.as_text()
                && !values.iter().any(|x| *x == *t)
            {
                values.push(t.into_owned());
            }
            values.len() >= MAX_KEYS_PER_EVENT
        });
        if values.is_empty() {
            values.push(String::new());
        } else {
            any = true;
        }
        combos = combos
            .iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(v.clone());
                    c
                })
            })
            .take(MAX_KEYS_PER_EVENT)
            .collect();
    }
    if !any {
        return Vec::new();
    }
    combos
        .iter()
        .map(|values| {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            h.update(rule.as_bytes());
            h.update(&[0x1e]);
            for v in values {
                h.update(v.as_bytes());
                h.update(&[0x1f]);
            }
            h.digest()
        })
        .collect()
}

/// Most state keys one step event files (combinations of multi-valued key fields).
const MAX_KEYS_PER_EVENT: usize = 16;

/// The dotted-decimal text of `a` (what `Display` writes), in `buf`.
fn ipv4_text(a: std::net::Ipv4Addr, buf: &mut [u8; 15]) -> &[u8] {
    let mut n = 0;
    for (i, octet) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf[n] = b'.';
            n += 1;
        }
        if octet >= 100 {
            buf[n] = b'0' + octet / 100;
            n += 1;
        }
        if octet >= 10 {
            buf[n] = b'0' + octet / 10 % 10;
            n += 1;
        }
        buf[n] = b'0' + octet % 10;
        n += 1;
    }
    &buf[..n]
}

/// The state key of a rule and the values of `fields`: stable across containers and rule-set
/// changes (it hashes the rule id, not its position), so a shared store keys the same burst the
/// same way everywhere.
fn key_of(event: &Event<'_>, docs: &mut field::Docs, fields: &[Field], rule: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(rule.as_bytes());
    h.update(&[0x1e]);
    for f in fields {
        any_value(event, docs, f, &mut |v| {
            hash_value(&mut h, v);
            true
        });
        h.update(&[0x1f]);
    }
    h.digest()
}

/// Add a value's text to a state key: an IPv4 address's bytes without `Display` (flow
/// thresholds key every record by address) — the same bytes as the text, so shared stores keep
/// their keys.
fn hash_value(h: &mut xxhash_rust::xxh3::Xxh3, v: &Val<'_>) {
    match v {
        Val::Ip(std::net::IpAddr::V4(a)) => {
            let mut buf = [0u8; 15];
            h.update(ipv4_text(*a, &mut buf));
        }
        _ => {
            if let Some(t) = v.as_text() {
                h.update(t.as_bytes());
            }
        }
    }
}

/// The first whole-number value of `field` (0 when absent or not a number).
fn first_int(event: &Event<'_>, docs: &mut field::Docs, field: &Field) -> u64 {
    let mut out = 0;
    any_value(event, docs, field, &mut |v: &Val<'_>| {
        if let Val::Int(n) = v {
            out = u64::try_from(*n).unwrap_or(0);
        }
        true
    });
    out
}

impl Detector for RuleSet {
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        if self.sequences {
            self.newest = Some(self.newest.map_or(event.time, |n| n.max(event.time)));
        }
        let mut ctx = EvalCtx::new(event, &self.scanners, &mut self.hits);
        debug_assert_eq!(
            KINDS.get(kind_index(&event.kind)).copied(),
            Some(event.kind.name())
        );
        let source = source_index(event.source);
        let bucket = &self.by_source[source][kind_index(&event.kind)];
        let candidates = &bucket.rules;
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
        for &n in bucket.candidates(event, &mut self.scratch, &mut self.fold) {
            let n = n as usize;
            let i = candidates[n];
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
            if let Some(of) = &rule.step {
                let parent = &self.rules[of.parent];
                let Some(seq) = &parent.sequence else { continue };
                let keys = step_keys(event, &mut ctx.docs, &of.key, &parent.id);
                if keys.is_empty() {
                    self.no_key += 1;
                    continue;
                }
                let id = crate::finding::record_digest(event.source, &event.origin, event.time);
                // An absence rule's later events of a window only count: no observation to
                // build for them (most flow records of a fusion rule).
                let keys = match (self.mode, self.state.sequences()) {
                    (StateMode::Local, Some(st)) => {
                        let mut keys = keys;
                        keys.retain(|&key| !st.fold(key, seq, of.index, event.time, id));
                        keys
                    }
                    _ => keys,
                };
                if keys.is_empty() {
                    continue;
                }
                let coverage = (!of.covered_by.is_empty())
                    .then(|| key_of(event, &mut ctx.docs, &of.covered_by, &parent.id) ^ COVERAGE);
                let completes = of.index + 1 == seq.positives();
                // An absent-step event is only a time under its key (an audit log's every
                // statement is one for a fusion rule): no origin to keep.
                let origin = if seq.absent_step() == Some(of.index) {
                    crate::event::OriginBuf::default()
                } else {
                    event.origin.to_owned_origin()
                };
                for key in keys {
                    let obs = Observation {
                        sequence: Arc::clone(seq),
                        step: of.index,
                        key,
                        coverage,
                        time: event.time,
                        id,
                        origin: origin.clone(),
                        finding: completes.then(|| Box::new(parent.finding(event, 1))),
                    };
                    if self.mode == StateMode::Shared {
                        // The shared store meets this half with the other functions' halves.
                        self.deferred_sequences.push(obs);
                        continue;
                    }
                    if self.mode == StateMode::Ordered {
                        // The merger decides, against its state, whether the step completes a
                        // sequence; its finding, if any, follows the event's others.
                        self.decisions.push(Decision {
                            finding: usize::MAX,
                            time: event.time,
                            threshold: None,
                            suppress: parent
                                .suppress
                                .as_ref()
                                .map(|s| (key ^ SEQUENCE_MUTE, s.duration)),
                            sequence: Some(Box::new(obs)),
                        });
                        continue;
                    }
                    let Some(f) = self.state.sequences().and_then(|s| s.observe(obs)) else {
                        continue;
                    };
                    if let Some(s) = &parent.suppress
                        && self.state.suppressed(key ^ SEQUENCE_MUTE, f.time, s.duration)
                    {
                        continue;
                    }
                    findings.push(f);
                }
                continue;
            }
            let step = rule.threshold.as_ref().map(|t| {
                let key = key_of(event, &mut ctx.docs, &t.group_by, &rule.id);
                // What this observation adds: 1 (or a distinct value) for a count, the field's
                // value for a sum.
                let (sum, distinct) = match &t.sum {
                    Some(field) => (Some(first_int(event, &mut ctx.docs, field)), None),
                    None => (
                        None,
                        (!t.distinct.is_empty()).then(|| key_of(event, &mut ctx.docs, &t.distinct, "")),
                    ),
                };
                ThresholdStep {
                    key,
                    window: t.window,
                    needed: t.count,
                    sum,
                    distinct,
                }
            });
            let suppress_key = |ctx: &mut EvalCtx<'_, '_, '_>| {
                rule.suppress.as_ref().map(|s| {
                    (
                        key_of(event, &mut ctx.docs, &s.key, &rule.id) ^ 0x5eed,
                        s.duration,
                    )
                })
            };
            match self.mode {
                StateMode::Ordered => {
                    if step.is_some() || rule.suppress.is_some() {
                        self.decisions.push(Decision {
                            finding: findings.len(),
                            time: event.time,
                            threshold: step,
                            suppress: suppress_key(&mut ctx),
                            sequence: None,
                        });
                    }
                    findings.push(rule.finding(event, 1));
                }
                StateMode::Shared if step.is_some() => {
                    let Some(step) = step else { continue };
                    let count = step.count(&mut *self.state, event.time);
                    // This container's window, the finding's if the shared store cannot be
                    // reached (the store replaces it with the shared window's).
                    let mut finding = rule.finding(event, count);
                    finding.set_window(self.state.first_seen(step.key, event.time));
                    self.deferred.push(DeferredThreshold {
                        key: step.key,
                        time: event.time,
                        window: step.window,
                        threshold: step.needed,
                        distinct: step.distinct,
                        amount: step.sum.unwrap_or(1),
                        local_count: count,
                        suppress: suppress_key(&mut ctx),
                        finding,
                    });
                }
                StateMode::Local | StateMode::Shared => {
                    let crossed = match &step {
                        Some(step) => match step.observe(&mut *self.state, event.time) {
                            Some(crossed) => Some(crossed),
                            None => continue,
                        },
                        None => None,
                    };
                    if let Some((key, duration)) = suppress_key(&mut ctx)
                        && self.state.suppressed(key, event.time, duration)
                    {
                        continue;
                    }
                    let mut finding = rule.finding(event, 1);
                    if let Some(crossed) = crossed {
                        crossed.mark(&mut finding);
                    }
                    findings.push(finding);
                }
            }
        }
    }

    fn finish(&mut self, end_of_input: bool, findings: &mut Vec<Finding>) {
        // An ordered merge settles in its own state (the workers' hold nothing).
        if !self.sequences || self.mode == StateMode::Ordered {
            return;
        }
        let watermark = match (end_of_input, self.newest) {
            (true, _) => None,
            (false, Some(t)) => Some(t),
            (false, None) => return,
        };
        if let Some(s) = self.state.sequences() {
            s.settle(watermark, findings);
        }
    }

    fn take_deferred(&mut self, out: &mut Vec<DeferredThreshold>) {
        out.append(&mut self.deferred);
    }

    fn sequence_counters(&mut self) -> SequenceCounters {
        // `no_key` is counted here (also in ordered mode, where the state is the merger's).
        let mut c = self.state.sequences().map(|s| s.counters).unwrap_or_default();
        c.no_key = self.no_key;
        c
    }

    fn take_sequences(&mut self, out: &mut Vec<Observation>) {
        out.append(&mut self.deferred_sequences);
    }

    fn take_decisions(&mut self, out: &mut Vec<Decision>) {
        out.append(&mut self.decisions);
    }

    fn order_decisions(&mut self) {
        RuleSet::order_decisions(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Threshold keys hash an address's text: the fast rendering must be `Display`'s, byte for
    /// byte, or keys in a shared store would change.
    #[test]
    fn ipv4_text_is_display() {
        let mut buf = [0u8; 15];
        for a in [
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [10, 0, 99, 100],
            [192, 168, 9, 10],
            [1, 20, 200, 109],
        ] {
            let ip = std::net::Ipv4Addr::from(a);
            assert_eq!(ipv4_text(ip, &mut buf), ip.to_string().as_bytes());
        }
        for n in (0..=u32::MAX).step_by(9_999_991) {
            let ip = std::net::Ipv4Addr::from(n);
            assert_eq!(ipv4_text(ip, &mut buf), ip.to_string().as_bytes());
        }
    }

    /// The embedded pack compiled without its tests is the pack compiled whole: same rules,
    /// same conditions, thresholds and modes; the deferred tests are the tests of the whole file.
    #[test]
    fn embedded_rules_without_their_tests_are_the_same_rules() {
        let (split, split_errors) = RuleSet::embedded();
        let (whole, whole_errors) = RuleSet::from_sources(EMBEDDED_RULES.iter().copied());
        assert_eq!(split_errors, whole_errors);
        assert_eq!(split.rules().len(), whole.rules().len());
        let deferred = split.rules().iter().filter(|r| r.tests_deferred).count();
        assert!(
            deferred * 10 >= split.rules().len() * 9,
            "only {deferred} rules deferred their tests"
        );
        for (s, w) in split.rules().iter().zip(whole.rules()) {
            assert_eq!(s.text, w.text, "{}", s.file);
            let tests = s.test_specs().unwrap();
            assert_eq!(format!("{:?}", &*tests), format!("{:?}", w.tests), "{}", s.file);
            let mut s = s.clone();
            s.tests = w.tests.clone();
            s.tests_deferred = false;
            assert_eq!(format!("{s:?}"), format!("{w:?}"), "{}", w.file);
        }
    }
}
