//! The rule file format (docs/RULES.md): strict TOML — unknown keys are errors with file and
//! line — compiled once into a [`Rule`]: fields resolved, globs and regexes compiled with size
//! limits and registered in the set's shared scanners, thresholds and suppressions checked, and
//! every `[[tests]]` entry validated (the runner is [`crate::rule_tests`]).

use jiff::SignedDuration;
use serde::Deserialize;

use super::condition::{Condition, Shared};
use super::field::Field;
use super::{Mode, OnFailure, Rule, RuleError, Suppress, Threshold, allowlist};
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
    #[serde(rename = "match")]
    matcher: toml::Table,
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
    /// The records.
    pub input: TestInput,
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
    /// Check the test is well-formed (a source, at least one record).
    pub fn validate(&self) -> Result<(), String> {
        if Source::from_name(&self.input.source).is_none() {
            return Err(format!("unknown source {:?}", self.input.source));
        }
        match (&self.input.record, self.input.records.is_empty()) {
            (None, true) => Err("a test needs `record` or `records`".into()),
            (Some(_), false) => Err("a test takes `record` or `records`, not both".into()),
            _ => Ok(()),
        }
    }

    /// The test's raw records, in order.
    pub fn records(&self) -> Vec<&str> {
        match &self.input.record {
            Some(r) => vec![r.as_str()],
            None => self.input.records.iter().map(String::as_str).collect(),
        }
    }
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
            tests_deferred: false,
            sigma: raw.sigma.map(std::sync::Arc::new),
            warnings: Vec::new(),
            file: file.to_owned(),
            text: text.to_owned(),
        })
    }
}
