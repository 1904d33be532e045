//! The rule file format (docs/RULES.md): strict TOML — unknown keys are errors with file and
//! line — compiled once into a [`Rule`]: fields resolved, globs and regexes compiled with size
//! limits and registered in the set's shared scanners, thresholds and suppressions checked, and
//! every `[[tests]]` entry validated (the runner is [`crate::rule_tests`]).

use jiff::SignedDuration;
use serde::Deserialize;

use super::condition::{Condition, Shared};
use super::field::Field;
use super::sequence::{Absence, Sequence, Step};
use super::{Mode, OnFailure, Rule, RuleError, StepOf, Suppress, Threshold, allowlist};
use crate::event::Source;
use crate::finding::{Severity, SigmaOrigin};

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
    #[serde(rename = "match", default)]
    matcher: Option<toml::Table>,
    #[serde(default)]
    sequence: Option<SequenceFile>,
    #[serde(default)]
    steps: Vec<StepFile>,
    #[serde(default)]
    threshold: Option<ThresholdFile>,
    #[serde(default)]
    suppress: Option<SuppressFile>,
    #[serde(default)]
    allowlist: Option<allowlist::AllowlistFile>,
    #[serde(default)]
    tests: Vec<TestSpec>,
    #[serde(default)]
    sigma: Option<SigmaOrigin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdFile {
    count: u64,
    window: String,
    #[serde(default)]
    group_by: Vec<String>,
    #[serde(default)]
    distinct: Option<OneOrMany>,
    #[serde(default)]
    sum: Option<String>,
}

/// `[sequence]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceFile {
    within: String,
    #[serde(default)]
    join: Vec<String>,
    #[serde(default)]
    covered_by: Vec<String>,
    #[serde(default)]
    late: Option<String>,
    #[serde(default)]
    skew: Option<String>,
}

/// One `[[steps]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    name: String,
    #[serde(default)]
    sources: Vec<String>,
    #[serde(default)]
    kinds: Vec<String>,
    #[serde(default)]
    count: Option<u32>,
    #[serde(default)]
    key: Option<Vec<String>>,
    #[serde(default)]
    absent: Option<String>,
    #[serde(rename = "match")]
    matcher: toml::Table,
}

/// How long a live function waits for late events before deciding an absence, by default:
/// CloudTrail delivers within about 15 minutes.
const DEFAULT_LATE: &str = "15m";

/// How much later than the next step's event a step's event may be, by default: clocks of
/// different sources disagree by seconds (NTP), and CloudTrail's `eventTime` is the call's.
/// Flow records are stamped with the start of their aggregation interval: rules with a flow
/// step say `skew = "10m"`.
const DEFAULT_SKEW_SECS: i64 = 60;

/// Most steps in a sequence.
const MAX_STEPS: usize = 8;

/// A field path or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuppressFile {
    key: Vec<String>,
    #[serde(rename = "for")]
    duration: String,
}

/// One `[[tests]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    /// What the test shows.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether the rule must raise a finding.
    pub expect: bool,
    /// Exact number of findings expected (thresholds), when given.
    #[serde(default)]
    pub count: Option<usize>,
    /// The records, of one source.
    #[serde(default)]
    pub input: Option<TestInput>,
    /// The records of several sources (sequence rules), fed one input after another.
    #[serde(default)]
    pub inputs: Vec<TestInput>,
}

/// The raw input of a test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestInput {
    /// Source of the records (`cloudtrail`, `mysql-audit`, `pgaudit`, `vpc-flow`).
    pub source: String,
    /// One raw record.
    #[serde(default)]
    pub record: Option<String>,
    /// Several raw records, in order (thresholds, ERROR + STATEMENT pairs).
    #[serde(default)]
    pub records: Vec<String>,
    /// CloudWatch Logs group the records came from (names the datastore).
    #[serde(default)]
    pub log_group: Option<String>,
}

impl TestSpec {
    /// A test of one input.
    pub fn single(name: Option<String>, expect: bool, input: TestInput) -> TestSpec {
        TestSpec {
            name,
            expect,
            count: None,
            input: Some(input),
            inputs: Vec::new(),
        }
    }

    /// Check the test is well-formed (`input` or `inputs`, each with a source and a record).
    pub fn validate(&self) -> Result<(), String> {
        match (&self.input, self.inputs.is_empty()) {
            (None, true) => return Err("a test needs `input` or `inputs`".into()),
            (Some(_), false) => return Err("a test takes `input` or `inputs`, not both".into()),
            _ => {}
        }
        for input in self.all_inputs() {
            input.validate()?;
        }
        Ok(())
    }

    /// The test's inputs, in order.
    pub fn all_inputs(&self) -> Vec<&TestInput> {
        self.input.iter().chain(&self.inputs).collect()
    }
}

impl TestInput {
    /// Check the input is well-formed (a known source, at least one record).
    pub fn validate(&self) -> Result<(), String> {
        if Source::from_name(&self.source).is_none() {
            return Err(format!("unknown source {:?}", self.source));
        }
        match (&self.record, self.records.is_empty()) {
            (None, true) => Err("a test input needs `record` or `records`".into()),
            (Some(_), false) => Err("a test input takes `record` or `records`, not both".into()),
            _ => Ok(()),
        }
    }

    /// The input's raw records, in order.
    pub fn records(&self) -> Vec<&str> {
        match &self.record {
            Some(r) => vec![r.as_str()],
            None => self.records.iter().map(String::as_str).collect(),
        }
    }
}

fn check_kinds(kinds: &[String]) -> Result<(), String> {
    match kinds.iter().find(|k| !KINDS.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown kind {k:?} ({})", KINDS.join(", "))),
        None => Ok(()),
    }
}

/// An error and the line it is about, when known.
type LineError = (Option<usize>, String);

/// A compiled step: name, sources, kinds, condition, and how it keys its events.
type CompiledStep = (String, Vec<Source>, Vec<String>, Condition, StepOf);

/// Compile `[sequence]` and its `[[steps]]`; an error carries the line of the step it is about.
fn compile_sequence(
    id: &str,
    seq: SequenceFile,
    steps: Vec<StepFile>,
    shared: &mut Shared,
    text: &str,
) -> Result<(std::sync::Arc<Sequence>, Vec<CompiledStep>), LineError> {
    // The line of the n-th `[[steps]]`.
    let step_line = |n: usize| {
        text.match_indices("[[steps]]")
            .nth(n)
            .map(|(o, _)| line_of(text, o))
    };
    let within = parse_duration(&seq.within).map_err(|e| (None, format!("within: {e}")))?;
    let late = parse_duration(seq.late.as_deref().unwrap_or(DEFAULT_LATE))
        .map_err(|e| (None, format!("late: {e}")))?;
    let skew = match seq.skew.as_deref() {
        None => SignedDuration::from_secs(DEFAULT_SKEW_SECS),
        Some("0s" | "0") => SignedDuration::ZERO,
        Some(s) => parse_duration(s).map_err(|e| (None, format!("skew: {e}")))?,
    };
    if skew >= within {
        return Err((None, "skew must be shorter than within".into()));
    }
    if steps.len() < 2 || steps.len() > MAX_STEPS {
        return Err((
            None,
            format!(
                "a sequence has 2 to {MAX_STEPS} `[[steps]]` (has {})",
                steps.len()
            ),
        ));
    }
    let join = fields(&seq.join, "join").map_err(|e| (None, e))?;
    let covered_by = fields(&seq.covered_by, "covered_by").map_err(|e| (None, e))?;
    let mut out = Vec::new();
    let mut spec_steps = Vec::new();
    let mut width = None;
    for (n, step) in steps.into_iter().enumerate() {
        let at = |e: String| (step_line(n), format!("steps[{n}] ({}): {e}", step.name));
        if step.name.is_empty() || step.name.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(at("a step needs a name without spaces or `/`".into()));
        }
        if spec_steps.iter().any(|s: &Step| s.name == step.name) {
            return Err(at("two steps have this name".into()));
        }
        let absent = match step.absent.as_deref() {
            None => None,
            Some("after") => Some(Absence::After),
            Some("around") => Some(Absence::Around),
            Some(other) => return Err(at(format!("absent is \"after\" or \"around\", not {other:?}"))),
        };
        if absent.is_some() && n == 0 {
            return Err(at(
                "the first step cannot be absent: absence is of what follows".into()
            ));
        }
        if spec_steps.iter().any(|s: &Step| s.absent.is_some()) {
            return Err(at("only the last step can be absent".into()));
        }
        let count = step.count.unwrap_or(1);
        if count == 0 || count > 1000 || (absent.is_some() && count != 1) {
            return Err(at("count is 1 to 1000 (1 for the absent step)".into()));
        }
        let key = match &step.key {
            Some(k) => fields(k, "key").map_err(at)?,
            None => join.clone(),
        };
        if key.is_empty() {
            return Err(at(
                "no join key: give `[sequence] join` or the step's `key`".into()
            ));
        }
        if *width.get_or_insert(key.len()) != key.len() {
            return Err(at("every step's key has the same number of fields".into()));
        }
        if step.matcher.is_empty() {
            return Err(at("`[steps.match]` is empty".into()));
        }
        check_kinds(&step.kinds).map_err(at)?;
        let srcs = sources(&step.sources).map_err(at)?;
        let condition = Condition::compile(&step.matcher, shared).map_err(at)?;
        spec_steps.push(Step {
            name: step.name.clone(),
            count,
            absent,
        });
        out.push((
            step.name,
            srcs,
            step.kinds,
            condition,
            StepOf {
                parent: 0,
                index: n,
                key,
                covered_by: covered_by.clone(),
            },
        ));
    }
    let has_absent = spec_steps.iter().any(|s| s.absent.is_some());
    if !covered_by.is_empty() && !has_absent {
        return Err((None, "covered_by is for sequences with an absent step".into()));
    }
    Ok((
        std::sync::Arc::new(Sequence {
            rule: id.to_owned(),
            within,
            late,
            skew,
            steps: spec_steps,
            covered: !covered_by.is_empty(),
        }),
        out,
    ))
}

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
            "any-sql" => out.extend(Source::ALL.into_iter().filter(|s| s.is_sql())),
            other => out.push(Source::from_name(other).ok_or_else(|| {
                format!("unknown source {other:?} (cloudtrail, mysql-audit, pgaudit, vpc-flow, das, any-sql)")
            })?),
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) const KINDS: &[&str] = &[
    "statement",
    "connect",
    "disconnect",
    "failed_connect",
    "object_access",
    "api_call",
    "flow",
];

/// A rule file's text as its TOML structure, or the error at its line.
fn parse_file(file: &str, text: &str) -> Result<RuleFile, RuleError> {
    toml::from_str(text).map_err(|e| RuleError {
        file: file.to_owned(),
        line: e.span().map(|s| line_of(text, s.start)),
        rule: None,
        reason: e.message().to_owned(),
    })
}

/// The id a rule file's text declares (`id = "…"` before its first table), read without parsing
/// the file, so an error in a file that does not parse can still name its rule.
pub(crate) fn declared_id(text: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            return None;
        }
        let Some(rest) = line.strip_prefix("id") else {
            continue;
        };
        let Some(value) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = value.trim();
        let quote = value.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = &value[1..];
        let id = &inner[..inner.find(quote)?];
        return (!id.is_empty()).then(|| id.to_owned());
    }
    None
}

/// Check every `[[tests]]` entry (an error points at the first `[[tests]]` line).
fn validate_tests(file: &str, text: &str, tests: &[TestSpec]) -> Result<(), RuleError> {
    for (i, t) in tests.iter().enumerate() {
        t.validate().map_err(|e| RuleError {
            file: file.to_owned(),
            line: text.find("[[tests]]").map(|o| line_of(text, o)),
            rule: None,
            reason: format!("tests[{i}]: {e}"),
        })?;
    }
    Ok(())
}

impl Rule {
    /// The rule's tests: [`Rule::tests`], or, when they were deferred, parsed and validated from
    /// the rule's text now.
    pub fn test_specs(&self) -> Result<std::borrow::Cow<'_, [TestSpec]>, RuleError> {
        if !self.tests_deferred {
            return Ok(std::borrow::Cow::Borrowed(&self.tests));
        }
        let raw = parse_file(&self.file, &self.text)?;
        validate_tests(&self.file, &self.text, &raw.tests)?;
        Ok(std::borrow::Cow::Owned(raw.tests))
    }

    /// Compile one rule file's text, registering keywords and regexes in `shared`.
    pub(crate) fn compile(file: &str, text: &str, shared: &mut Shared) -> Result<Rule, RuleError> {
        let err = |line: Option<usize>, reason: String| RuleError {
            file: file.to_owned(),
            line,
            rule: None,
            reason,
        };
        let raw = parse_file(file, text)?;
        // Line of a top-level key, for errors found after parsing.
        let line_at = |needle: &str| text.find(needle).map(|o| line_of(text, o));
        let match_line = line_at("[match]");
        if raw.id.trim().is_empty() || raw.id.contains(char::is_whitespace) {
            return Err(err(line_at("id"), format!("invalid rule id {:?}", raw.id)));
        }
        let sources = sources(&raw.sources).map_err(|e| err(line_at("sources"), e))?;
        check_kinds(&raw.kinds).map_err(|e| err(line_at("kinds"), e))?;
        let (condition, sequence, steps) = match (&raw.matcher, raw.sequence) {
            (Some(_), Some(_)) => {
                return Err(err(
                    line_at("[sequence]"),
                    "a rule has `[match]` or `[sequence]` with `[[steps]]`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(err(
                    None,
                    "a rule needs `[match]` (or `[sequence]` with `[[steps]]`)".into(),
                ));
            }
            (Some(m), None) => {
                if !raw.steps.is_empty() {
                    return Err(err(line_at("[[steps]]"), "`[[steps]]` needs `[sequence]`".into()));
                }
                if m.is_empty() {
                    return Err(err(
                        match_line,
                        "`[match]` is empty: a rule must say what it matches".into(),
                    ));
                }
                let condition = Condition::compile(m, shared).map_err(|e| err(match_line, e))?;
                (condition, None, Vec::new())
            }
            (None, Some(seq)) => {
                let l = line_at("[sequence]");
                if raw.threshold.is_some() || raw.allowlist.is_some() {
                    return Err(err(
                        l,
                        "a sequence takes no `[threshold]` or `[allowlist]` (a step's `count` asks for several events)".into(),
                    ));
                }
                if !raw.sources.is_empty() || !raw.kinds.is_empty() {
                    return Err(err(
                        l,
                        "a sequence's `sources` and `kinds` belong to its `[[steps]]`".into(),
                    ));
                }
                let (sequence, steps) = compile_sequence(&raw.id, seq, raw.steps, shared, text)
                    .map_err(|(line, e)| err(line.or(l), e))?;
                (Condition::All(Vec::new()), Some(sequence), steps)
            }
        };
        let threshold = match raw.threshold {
            None => None,
            Some(t) => {
                let l = line_at("[threshold]");
                if t.count < 1 {
                    return Err(err(l, "threshold count must be at least 1".into()));
                }
                if t.sum.is_some() && t.distinct.is_some() {
                    return Err(err(l, "a threshold takes `distinct` or `sum`, not both".into()));
                }
                Some(Threshold {
                    count: t.count,
                    window: parse_duration(&t.window).map_err(|e| err(l, e))?,
                    group_by: fields(&t.group_by, "group_by").map_err(|e| err(l, e))?,
                    distinct: match t.distinct {
                        None => Vec::new(),
                        Some(OneOrMany::One(d)) => fields(&[d], "distinct").map_err(|e| err(l, e))?,
                        Some(OneOrMany::Many(d)) => fields(&d, "distinct").map_err(|e| err(l, e))?,
                    },
                    sum: t
                        .sum
                        .map(|d| Field::parse(&d).ok_or_else(|| format!("sum: unknown field `{d}`")))
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
        validate_tests(file, text, &raw.tests)?;
        let plan = condition.planned();
        let mode = raw.mode;
        let on_failure = raw.on_failure;
        let steps = steps
            .into_iter()
            .map(|(name, sources, kinds, condition, step)| Rule {
                plan: condition.planned(),
                id: format!("{}/{name}", raw.id),
                title: raw.title.clone(),
                severity: raw.severity,
                description: String::new(),
                sources,
                kinds,
                attack: Vec::new(),
                references: Vec::new(),
                mode,
                escalate: false,
                on_failure,
                fp_budget: None,
                condition,
                threshold: None,
                suppress: None,
                allowlist: None,
                tests: Vec::new(),
                tests_deferred: false,
                sigma: None,
                warnings: Vec::new(),
                file: file.to_owned(),
                text: String::new(),
                sequence: None,
                steps: Vec::new(),
                step: Some(step),
            })
            .collect();
        Ok(Rule {
            sequence,
            steps,
            step: None,
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
            tests_deferred: false,
            sigma: raw.sigma.map(std::sync::Arc::new),
            warnings: Vec::new(),
            file: file.to_owned(),
            text: text.to_owned(),
        })
    }
}
