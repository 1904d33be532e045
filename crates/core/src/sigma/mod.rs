//! Sigma rules, imported unchanged: a SigmaHQ-style YAML rule for AWS CloudTrail is compiled into
//! the laneguard rule it means — TOML text fed to the same compiler as every rule — so a loaded
//! `.yml` and the output of `laneguard sigma convert` behave the same by construction.
//!
//! - [`yaml`] reads the YAML (with lines for every node), [`detection`] the search identifiers
//!   and their modifiers, [`condition`] the condition grammar, [`value`] Sigma strings and
//!   encodings, [`fields`] the CloudTrail field mapping, [`emit`] the TOML, [`settings`] what the
//!   policy's `[sigma]` decides (status → mode, require success, placeholders), [`testgen`] the
//!   review tests `convert` adds.
//! - A rule that cannot be run exactly is refused with its reason and `file:line` (and its Sigma
//!   id): another log source, correlations and the deprecated aggregations, `status:
//!   unsupported`, unknown modifiers, undefined selections, catastrophic regexes, huge files.
//! - What the import keeps: the Sigma id, title, level, status, tags (ATT&CK ids become the
//!   rule's `attack`), references, false positives, author and the credit the Detection Rule
//!   License asks for — in the rule's `[sigma]` table and in every finding it raises.

pub mod condition;
pub mod detection;
pub mod emit;
pub mod fields;
pub mod settings;
pub mod testgen;
pub mod value;
pub mod yaml;

use std::fmt;
use std::io::Read as _;
use std::path::Path;

pub use self::detection::Warning;
use self::detection::{Ctx, Expr};
use self::settings::SigmaSettings;
use self::yaml::{Node, Scalar};
use crate::finding::{Severity, SigmaOrigin};
use crate::rules::Mode;

/// Largest Sigma file accepted (bytes). SigmaHQ's largest rules are a few tens of kilobytes.
pub const MAX_RULE_BYTES: usize = 1 << 20;

/// Where imported rules come from, when a rule names no licence of its own.
pub const SIGMAHQ: &str = "SigmaHQ (https://github.com/SigmaHQ/sigma), Detection Rule License 1.1";

/// The laneguard fields a rule's "did AWS refuse the call" test reads.
const ERROR_FIELDS: [&str; 2] = ["api.error_code", "api.error_message"];

/// Whether a file name is a Sigma rule (`*.yml`, `*.yaml`).
pub fn is_sigma_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yml") || lower.ends_with(".yaml")
}

/// The laneguard id of a Sigma file: `sigma.<file stem, lower case>` (whitespace as `_`).
pub fn rule_id(file: &str) -> String {
    let name = file.rsplit(['/', '\\']).next().unwrap_or(file);
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_whitespace() {
                '_'
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    format!("sigma.{stem}")
}

/// A Sigma rule that cannot be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigmaError {
    /// File.
    pub file: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The rule's Sigma id, when it could be read.
    pub id: Option<String>,
    /// Why.
    pub reason: String,
}

impl fmt::Display for SigmaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(id) = &self.id {
            write!(f, " (Sigma rule {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SigmaError {}

impl From<SigmaError> for crate::rules::RuleError {
    /// A refused Sigma rule among the rule errors: `file:line: reason (Sigma rule <id>)`.
    fn from(e: SigmaError) -> Self {
        crate::rules::RuleError {
            reason: match &e.id {
                Some(id) => format!("{} (Sigma rule {id})", e.reason),
                None => e.reason,
            },
            file: e.file,
            line: e.line,
            rule: None,
        }
    }
}

/// A Sigma rule compiled into a laneguard rule.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The laneguard id (`sigma.<stem>`).
    pub id: String,
    /// The laneguard rule file (TOML), without tests.
    pub toml: String,
    /// What the import keeps of the Sigma rule.
    pub origin: SigmaOrigin,
    /// The mode it runs in.
    pub mode: Mode,
    /// Its severity.
    pub severity: Severity,
    /// Problems that do not stop it.
    pub warnings: Vec<Warning>,
    /// The compiled condition (for the review tests of `convert`).
    pub condition: Expr,
}

fn str_of(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(Scalar::Null, _) => None,
        Node::Scalar(s, _) => Some(s.text()),
        _ => None,
    }
}

/// A string or a list of strings (`references`, `falsepositives`, `tags`).
fn list_of(node: Option<(&Node, usize)>) -> Vec<String> {
    match node {
        Some((Node::Seq(items, _), _)) => items.iter().filter_map(str_of).collect(),
        Some((n, _)) => str_of(n).into_iter().collect(),
        None => Vec::new(),
    }
}

/// The Sigma id written in a file that did not parse (for the error message).
fn id_in_text(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("id:"))
        .map(|v| v.trim().trim_matches(['\'', '"']).to_owned())
        .filter(|v| !v.is_empty())
}

/// ATT&CK technique ids of Sigma tags (`attack.t1562.008` → `T1562.008`).
pub fn attack_ids(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = tags
        .iter()
        .filter_map(|t| t.to_ascii_lowercase().strip_prefix("attack.t").map(str::to_owned))
        .filter(|rest| {
            let (tech, sub) = rest
                .split_once('.')
                .map_or((rest.as_str(), None), |(a, b)| (a, Some(b)));
            tech.len() == 4
                && tech.bytes().all(|b| b.is_ascii_digit())
                && sub.is_none_or(|s| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|rest| format!("T{rest}"))
        .collect();
    out.dedup();
    out
}

/// The severity of a Sigma level (`None`: not a Sigma level).
pub fn severity(level: &str) -> Option<Severity> {
    match level.to_ascii_lowercase().as_str() {
        "informational" => Some(Severity::Info),
        "low" => Some(Severity::Low),
        "medium" => Some(Severity::Medium),
        "high" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

/// The error of a file over [`MAX_RULE_BYTES`], naming the rule's id when `head` (the start of
/// the file) shows it.
fn too_large(file: &str, len: u64, head: &str) -> SigmaError {
    SigmaError {
        file: file.to_owned(),
        line: None,
        id: id_in_text(head),
        reason: format!("{len} bytes: Sigma rule files over {MAX_RULE_BYTES} bytes are refused"),
    }
}

/// Read a Sigma rule file; one over [`MAX_RULE_BYTES`] is refused without reading it whole (its
/// first 64 KiB name the rule in the error). The import's only file I/O, done when
/// configuration loads.
pub fn read(path: &Path) -> Result<String, SigmaError> {
    let file = path.display().to_string();
    let fail = |e: std::io::Error| SigmaError {
        file: file.clone(),
        line: None,
        id: None,
        reason: e.to_string(),
    };
    let len = std::fs::metadata(path).map_err(fail)?.len();
    if len > MAX_RULE_BYTES as u64 {
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(64 << 10).read_to_end(&mut head))
            .map_err(fail)?;
        return Err(too_large(&file, len, &String::from_utf8_lossy(&head)));
    }
    std::fs::read_to_string(path).map_err(fail)
}

/// Compile a Sigma rule file into its laneguard rule.
pub fn convert(file: &str, text: &str, settings: &SigmaSettings) -> Result<Converted, SigmaError> {
    let fail = |line: Option<usize>, id: Option<String>, reason: String| SigmaError {
        file: file.to_owned(),
        line,
        id,
        reason,
    };
    if text.len() > MAX_RULE_BYTES {
        return Err(too_large(file, text.len() as u64, text));
    }
    let docs = yaml::parse(text).map_err(|e| fail(Some(e.line), id_in_text(text), e.reason))?;
    let doc = match docs.as_slice() {
        [] => return Err(fail(None, None, "empty file: no Sigma rule".into())),
        [one] => one,
        [first, ..] => {
            let id = first.get("id").and_then(|(n, _)| str_of(n));
            let correlation = docs.iter().find_map(|d| d.get("correlation"));
            return Err(fail(
                correlation.map(|(_, l)| l).or(Some(first.line())),
                id,
                if correlation.is_some() {
                    correlation_reason(correlation)
                } else {
                    "several YAML documents (a correlation or filter bundle): laneguard imports one detection rule per file".into()
                },
            ));
        }
    };
    let Node::Map(..) = doc else {
        return Err(fail(Some(doc.line()), None, "a Sigma rule is a YAML map".into()));
    };
    let get = |k: &str| doc.get(k);
    let sigma_id = get("id").and_then(|(n, _)| str_of(n));
    let fail_at = |line: usize, reason: String| fail(Some(line), sigma_id.clone(), reason);
    if let Some(c) = get("correlation") {
        return Err(fail_at(c.1, correlation_reason(Some(c))));
    }
    if let (Some((_, l)), None) = (get("filter"), get("detection")) {
        return Err(fail_at(
            l,
            "a Sigma meta-filter document, not a detection rule: not supported".into(),
        ));
    }
    let title = get("title")
        .and_then(|(n, _)| str_of(n))
        .ok_or_else(|| fail_at(doc.line(), "a Sigma rule needs a `title`".into()))?;
    if title.chars().count() > 256 {
        return Err(fail_at(
            get("title").map_or(1, |x| x.1),
            "`title` longer than 256 characters".into(),
        ));
    }
    let id = rule_id(file);
    if let Some((t, l)) = get("taxonomy")
        && str_of(t).is_some_and(|t| !t.eq_ignore_ascii_case("sigma"))
    {
        return Err(fail_at(
            l,
            format!(
                "taxonomy {:?}: laneguard maps the field names of the `sigma` taxonomy only",
                str_of(t).unwrap_or_default()
            ),
        ));
    }
    let status = get("status").and_then(|(n, _)| str_of(n));
    let mut mode = settings.modes.of(status.as_deref()).ok_or_else(|| {
        fail_at(
            get("status").map_or(1, |x| x.1),
            match status.as_deref() {
                Some(s) if s.eq_ignore_ascii_case("unsupported") => {
                    "status `unsupported`: Sigma marks the rule as not usable as it is (old correlation format or custom fields)".into()
                }
                other => format!("unknown status {other:?} (stable, test, experimental, deprecated)"),
            },
        )
    })?;
    logsource(get("logsource"), doc.line()).map_err(|(l, r)| fail_at(l, r))?;
    let (detection, det_line) =
        get("detection").ok_or_else(|| fail_at(doc.line(), "a Sigma rule needs a `detection`".into()))?;
    let Node::Map(entries, _) = detection else {
        return Err(fail_at(det_line, "`detection` must be a map".into()));
    };
    let mut ctx = Ctx {
        settings,
        warnings: Vec::new(),
    };
    let mut searches: Vec<(String, Expr)> = Vec::new();
    let mut condition_node = None;
    for (name, line, node) in entries {
        match name.as_str() {
            "condition" => condition_node = Some((node, *line)),
            "timeframe" => ctx.warnings.push(Warning::at(
                *line,
                "`timeframe` belongs to the deprecated aggregation; ignored",
            )),
            _ => {
                let expr = detection::search(node, &mut ctx)
                    .map_err(|p| fail_at(p.line, format!("selection `{name}`: {}", p.reason)))?;
                searches.push((name.clone(), expr));
            }
        }
    }
    let (cond_node, cond_line) =
        condition_node.ok_or_else(|| fail_at(det_line, "`detection` has no `condition`".into()))?;
    let texts: Vec<(String, usize)> = match cond_node {
        Node::Scalar(Scalar::Str(s), l) => vec![(s.clone(), *l)],
        Node::Seq(items, _) => items
            .iter()
            .map(|i| match i {
                Node::Scalar(Scalar::Str(s), l) => Ok((s.clone(), *l)),
                other => Err(fail_at(other.line(), "a condition is a string".into())),
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(fail_at(
                other.line().max(cond_line),
                "a condition is a string or a list of strings".into(),
            ));
        }
    };
    let mut used = vec![false; searches.len()];
    let mut conditions = Vec::new();
    for (t, l) in &texts {
        let (e, u) = condition::compile(t, &searches).map_err(|r| fail_at(*l, r))?;
        used.iter_mut().zip(u).for_each(|(a, b)| *a |= b);
        conditions.push(e);
    }
    for ((name, _), u) in searches.iter().zip(&used) {
        if !u {
            ctx.warnings.push(Warning::at(
                cond_line,
                format!("selection `{name}` is not used by the condition"),
            ));
        }
    }
    let mut condition = if conditions.len() == 1 {
        conditions.remove(0)
    } else {
        Expr::Any(conditions)
    };
    let rule_settings = settings.rule(&id, sigma_id.as_deref());
    if let Some(m) = rule_settings.mode {
        mode = m;
    }
    let require_success = rule_settings.require_success.unwrap_or(settings.require_success);
    if !condition.reads(&ERROR_FIELDS) {
        if require_success {
            let mut absent = toml::Table::new();
            absent.insert("exists".into(), toml::Value::Boolean(false));
            let success = Expr::Leaf("api.error_code".into(), toml::Value::Table(absent));
            condition = Expr::All(vec![condition, success]);
        } else {
            ctx.warnings.push(Warning::at(
                cond_line,
                "matches calls that AWS refused (no errorCode condition); `require_success` adds one",
            ));
        }
    }
    let level = get("level").and_then(|(n, _)| str_of(n));
    let severity = match &level {
        Some(l) => severity(l).ok_or_else(|| {
            fail_at(
                get("level").map_or(1, |x| x.1),
                format!("unknown level {l:?} (informational, low, medium, high, critical)"),
            )
        })?,
        None => {
            ctx.warnings.push(Warning {
                line: None,
                text: "no `level`: severity medium".into(),
            });
            Severity::Medium
        }
    };
    if mode == Mode::Off
        && status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("deprecated"))
    {
        ctx.warnings.push(Warning::at(
            get("status").map_or(1, |x| x.1),
            "status `deprecated`: loaded in mode off",
        ));
    }
    let tags = list_of(get("tags"));
    let author = get("author").and_then(|(n, _)| str_of(n));
    let license = get("license").and_then(|(n, _)| str_of(n));
    let by = author.as_deref().unwrap_or("an unnamed author");
    let credit = match &license {
        None => format!("Sigma rule by {by}; {SIGMAHQ}"),
        Some(l) => format!("Sigma rule by {by}; licence {l}"),
    };
    let origin = SigmaOrigin {
        id: sigma_id.clone(),
        title: title.clone(),
        status,
        level,
        author,
        tags: tags.clone(),
        references: list_of(get("references")),
        falsepositives: list_of(get("falsepositives")),
        license,
        credit,
        file: Some(file.rsplit(['/', '\\']).next().unwrap_or(file).to_owned()),
    };
    let description = get("description")
        .and_then(|(n, _)| str_of(n))
        .unwrap_or_default();
    let toml = rule_text(
        &id,
        &origin,
        &description,
        severity,
        mode,
        &attack_ids(&tags),
        &condition,
    );
    // The text must compile as a laneguard rule; if it does not, say so for this file.
    crate::rules::Rule::compile(file, &toml, &mut crate::rules::condition::Shared::default()).map_err(
        |e| {
            fail(
                None,
                sigma_id.clone(),
                format!("does not compile as a laneguard rule: {}", e.reason),
            )
        },
    )?;
    Ok(Converted {
        id,
        toml,
        origin,
        mode,
        severity,
        warnings: ctx.warnings,
        condition,
    })
}

fn correlation_reason(c: Option<(&Node, usize)>) -> String {
    let kind = c.and_then(|(n, _)| n.get("type")).and_then(|(t, _)| str_of(t));
    format!(
        "a Sigma correlation rule (type {}): laneguard imports single-event detection rules, and its thresholds (a sliding event-time window that restarts after each finding) are not an exact equivalent of Sigma's per-timespan counts",
        kind.as_deref().unwrap_or("?")
    )
}

/// Check the `logsource` is AWS CloudTrail.
fn logsource(node: Option<(&Node, usize)>, doc_line: usize) -> Result<(), (usize, String)> {
    let (node, line) = node.ok_or((doc_line, "a Sigma rule needs a `logsource`".to_owned()))?;
    let field = |k: &str| {
        node.get(k)
            .and_then(|(n, _)| str_of(n))
            .map(|s| s.to_ascii_lowercase())
    };
    let (product, service, category) = (field("product"), field("service"), field("category"));
    if product.as_deref() == Some("aws") && service.as_deref() == Some("cloudtrail") && category.is_none() {
        return Ok(());
    }
    let shown: Vec<String> = [("category", category), ("product", product), ("service", service)]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}: {v}")))
        .collect();
    Err((
        line,
        format!(
            "logsource {{{}}} is not AWS CloudTrail: laneguard imports Sigma rules for `product: aws, service: cloudtrail` (it reads CloudTrail, RDS audit logs and VPC flow logs, for which Sigma defines no other log source)",
            shown.join(", ")
        ),
    ))
}

/// The laneguard rule file of a compiled Sigma rule.
fn rule_text(
    id: &str,
    origin: &SigmaOrigin,
    description: &str,
    severity: Severity,
    mode: Mode,
    attack: &[String],
    condition: &Expr,
) -> String {
    use toml::Value as V;
    let s = |x: &str| V::String(x.to_owned());
    let mut out = String::new();
    out.push_str(&format!(
        "# Imported from the Sigma rule {} ({}).\n# {}\n",
        origin.file.as_deref().unwrap_or("?"),
        origin.id.as_deref().unwrap_or("no id"),
        origin.credit
    ));
    let mode_name = match mode {
        Mode::Alert => "alert",
        Mode::Shadow => "shadow",
        Mode::Off => "off",
    };
    let mut top = vec![
        ("id", s(id)),
        ("title", s(&origin.title)),
        ("severity", s(severity.as_str())),
        ("sources", emit::strings(&["cloudtrail".to_owned()])),
        ("kinds", emit::strings(&["api_call".to_owned()])),
        ("mode", s(mode_name)),
        // The Sigma rule decides what a failed call means (its errorCode tests), at its level.
        ("on_failure", s("same")),
    ];
    if !attack.is_empty() {
        top.push(("attack", emit::strings(attack)));
    }
    if !description.trim().is_empty() {
        top.push(("description", s(description.trim_end())));
    }
    emit::entries(&mut out, &top);
    out.push_str("\n[sigma]\n");
    let mut meta = Vec::new();
    if let Some(v) = &origin.id {
        meta.push(("id", s(v)));
    }
    meta.push(("title", s(&origin.title)));
    for (k, v) in [
        ("status", &origin.status),
        ("level", &origin.level),
        ("author", &origin.author),
        ("license", &origin.license),
        ("file", &origin.file),
    ] {
        if let Some(v) = v {
            meta.push((k, s(v)));
        }
    }
    for (k, v) in [
        ("tags", &origin.tags),
        ("references", &origin.references),
        ("falsepositives", &origin.falsepositives),
    ] {
        if !v.is_empty() {
            meta.push((k, emit::strings(v)));
        }
    }
    meta.push(("credit", s(&origin.credit)));
    emit::entries(&mut out, &meta);
    out.push('\n');
    emit::section(&mut out, "match", false, &emit::table(condition));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_levels_tags() {
        assert_eq!(rule_id("dir/AWS_Root Usage.yml"), "sigma.aws_root_usage");
        assert_eq!(rule_id("x.yaml"), "sigma.x");
        assert!(is_sigma_file("a/B.YML") && is_sigma_file("c.yaml") && !is_sigma_file("d.toml"));
        assert_eq!(severity("informational"), Some(Severity::Info));
        assert_eq!(severity("High"), Some(Severity::High));
        assert_eq!(severity("urgent"), None);
        let tags: Vec<String> = [
            "attack.t1562.008",
            "attack.T1098",
            "attack.persistence",
            "attack.t12",
            "cve.2021-1",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(attack_ids(&tags), ["T1562.008", "T1098"]);
    }
}
