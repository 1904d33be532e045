//! Conditions: the `[match]` table of a rule, compiled once.
//!
//! A `[match]` table is a conjunction of `field = spec` entries plus the combinators `all`,
//! `any` (arrays of tables) and `not` (a table). A spec is a string (equality), an array (set
//! membership), a number or boolean (equality), or a table of operators (`glob`, `cidr`,
//! `prefix_lte`, `contains`, `regex`, `gt`/`gte`/`lt`/`lte`, `exists`, `all`, `in`, `eq`,
//! `starts_with`, `ends_with`, and the comparisons with another field `eq_field`, `ne_field`,
//! `contains_field`, `starts_with_field`, `ends_with_field`). For fields with several values (`sql.flags`, `sql.objects`, JSON
//! arrays) a condition holds when any value satisfies it, except `all`, which needs every listed
//! value present.
//!
//! This module is the language and its compiler; evaluation is [`super::eval`]. Keywords
//! (`contains`) and regexes are registered in [`Shared`] while a set compiles, so one automaton
//! and one regex list per field serve every rule.

use ipnet::IpNet;
use regex::{Regex, RegexBuilder};

use super::field::{Field, fixed_index};
use crate::event::Classification;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `>`
    Gt,
    /// `>=`
    Gte,
    /// `<`
    Lt,
    /// `<=`
    Lte,
}

/// A scalar written in a rule.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// Text.
    Str(String),
    /// Integer.
    Int(i64),
    /// Boolean.
    Bool(bool),
}

/// One test applied to a field's values.
#[derive(Clone, Debug)]
pub enum Test {
    /// Equals one of (a single value is a set of one).
    In(Vec<Scalar>),
    /// Every listed value is among the field's values.
    AllOf(Vec<Scalar>),
    /// Matches one of the globs (compiled into one regex). When no glob has a wildcard and all
    /// are ASCII, their lower-cased texts too: the test is then an ASCII case-insensitive
    /// equality, which the rule index can look up ([`super::index`]).
    Glob(Regex, Option<Box<[String]>>),
    /// An IP address or network inside one of the networks.
    Cidr(Vec<IpNet>),
    /// A network (or address) whose prefix length is at most this (`/0` = everything).
    PrefixLte(u8),
    /// Contains one of the keywords (ids in the shared automaton), ASCII case-insensitively.
    Contains(Vec<usize>),
    /// Matches one of the regexes (ids in the field's regex set).
    Regex(Vec<usize>),
    /// Numeric (or classification-level) comparison.
    Compare(Cmp, f64),
    /// Starts with one of.
    StartsWith(Vec<String>),
    /// Ends with one of.
    EndsWith(Vec<String>),
    /// The field has (true) or lacks (false) a value.
    Exists(bool),
    /// Some value compares with another field's values — e.g. an account in a request that is
    /// not the recipient account (`ne_field`), Sigma's `fieldref`.
    Field(Field, FieldCmp),
}

/// How [`Test::Field`] compares a value with the other field's values (exactly, case-sensitively).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldCmp {
    /// Equals one of them (`eq_field`).
    Eq,
    /// Differs from every one, and there is one (`ne_field`).
    Ne,
    /// Contains one of them (`contains_field`).
    Contains,
    /// Starts with one of them (`starts_with_field`).
    StartsWith,
    /// Ends with one of them (`ends_with_field`).
    EndsWith,
}

/// The field-comparison operators, with what each compares.
const FIELD_OPERATORS: [(&str, FieldCmp); 5] = [
    ("eq_field", FieldCmp::Eq),
    ("ne_field", FieldCmp::Ne),
    ("contains_field", FieldCmp::Contains),
    ("starts_with_field", FieldCmp::StartsWith),
    ("ends_with_field", FieldCmp::EndsWith),
];

/// A compiled condition tree.
#[derive(Clone, Debug)]
pub enum Condition {
    /// Every sub-condition holds.
    All(Vec<Condition>),
    /// At least one holds.
    Any(Vec<Condition>),
    /// The sub-condition does not hold.
    Not(Box<Condition>),
    /// Every test holds on the field.
    Leaf {
        /// The field.
        field: Field,
        /// Index of the field in the rule set's text-field table (for keyword/regex caches).
        slot: usize,
        /// The tests.
        tests: Vec<Test>,
        /// The spec as written, for explanations.
        written: String,
        /// Index of a fixed field in `field::FIELDS` (resolved once, for fast dispatch).
        fixed: Option<usize>,
    },
}

/// Registries shared by all rules of a set while they compile.
#[derive(Debug, Default)]
pub struct Shared {
    /// Keywords of every `contains` test.
    pub keywords: Vec<String>,
    /// Fields with `contains`/`regex` tests, by slot.
    pub fields: Vec<Field>,
    /// Regexes per field slot, with their patterns (compiled once, here).
    pub regexes: Vec<Vec<(String, Regex)>>,
}

impl Shared {
    fn slot(&mut self, field: &Field) -> usize {
        match self.fields.iter().position(|f| f == field) {
            Some(i) => i,
            None => {
                self.fields.push(field.clone());
                self.regexes.push(Vec::new());
                self.fields.len() - 1
            }
        }
    }
}

/// Size limit of every compiled regex (bytes of compiled program): rules are configuration,
/// but a careless pattern must not cost megabytes per field.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn glob_regex(globs: &[String]) -> Result<Regex, String> {
    crate::glob::compile_globs(globs)
        .map_err(|e| format!("bad glob: {e}"))?
        .ok_or_else(|| "`glob` needs at least one pattern".to_owned())
}

/// The lower-cased globs when every one is a plain ASCII text (no `*` or `?`): for those the
/// glob's case-insensitive whole-value match is an ASCII case-insensitive equality.
fn glob_literals(globs: &[String]) -> Option<Box<[String]>> {
    globs
        .iter()
        .all(|g| g.is_ascii() && !g.contains(['*', '?']))
        .then(|| globs.iter().map(|g| g.to_ascii_lowercase()).collect())
}

fn strings(v: &toml::Value, what: &str) -> Result<Vec<String>, String> {
    match v {
        toml::Value::String(s) => Ok(vec![s.clone()]),
        toml::Value::Array(items) => items
            .iter()
            .map(|i| match i {
                toml::Value::String(s) => Ok(s.clone()),
                other => Err(format!("{what}: expected strings, found {}", other.type_str())),
            })
            .collect(),
        other => Err(format!(
            "{what}: expected a string or an array of strings, found {}",
            other.type_str()
        )),
    }
}

fn scalar(v: &toml::Value) -> Result<Scalar, String> {
    match v {
        toml::Value::String(s) => Ok(Scalar::Str(s.clone())),
        toml::Value::Integer(n) => Ok(Scalar::Int(*n)),
        toml::Value::Boolean(b) => Ok(Scalar::Bool(*b)),
        other => Err(format!(
            "expected a string, integer or boolean, found {}",
            other.type_str()
        )),
    }
}

fn scalars(v: &toml::Value) -> Result<Vec<Scalar>, String> {
    match v {
        toml::Value::Array(items) => items.iter().map(scalar).collect(),
        other => Ok(vec![scalar(other)?]),
    }
}

fn number(field: &Field, v: &toml::Value) -> Result<f64, String> {
    match v {
        toml::Value::Integer(n) => Ok(*n as f64),
        toml::Value::Float(x) => Ok(*x),
        toml::Value::String(s) if *field == Field::Fixed("classification") => Classification::from_name(s)
            .map(|c| c as u8 as f64)
            .ok_or_else(|| format!("unknown classification {s:?}")),
        other => Err(format!("expected a number, found {}", other.type_str())),
    }
}

impl Condition {
    /// The literal strings this condition compares the fixed field `name` with (`in`/`eq`/`all`
    /// tests, under any combinator), for checks such as "does the rule name a zone the policy
    /// lacks".
    pub fn literals_of(&self, name: &str, out: &mut Vec<String>) {
        match self {
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.literals_of(name, out)),
            Condition::Not(c) => c.literals_of(name, out),
            Condition::Leaf { field, tests, .. } => {
                if Field::parse(name).as_ref() != Some(field) {
                    return;
                }
                for t in tests {
                    if let Test::In(values) | Test::AllOf(values) = t {
                        out.extend(values.iter().filter_map(|v| match v {
                            Scalar::Str(s) => Some(s.clone()),
                            _ => None,
                        }));
                    }
                }
            }
        }
    }
}

impl Condition {
    /// Compile a `[match]` table (or a table inside `all`/`any`/`not`).
    pub fn compile(table: &toml::Table, shared: &mut Shared) -> Result<Condition, String> {
        let mut parts = Vec::new();
        for (key, value) in table {
            match key.as_str() {
                "all" | "any" => {
                    let toml::Value::Array(items) = value else {
                        return Err(format!("`{key}` must be an array of tables"));
                    };
                    let mut subs = Vec::new();
                    for item in items {
                        let toml::Value::Table(t) = item else {
                            return Err(format!("`{key}` must be an array of tables"));
                        };
                        subs.push(Condition::compile(t, shared)?);
                    }
                    parts.push(if key == "all" {
                        Condition::All(subs)
                    } else {
                        Condition::Any(subs)
                    });
                }
                "not" => {
                    let toml::Value::Table(t) = value else {
                        return Err("`not` must be a table".into());
                    };
                    parts.push(Condition::Not(Box::new(Condition::compile(t, shared)?)));
                }
                path => compile_path(path, value, shared, &mut parts)?,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Condition::All(parts)
        })
    }
}

/// Operator names of a spec table; a table with any other key is a nested path (TOML dotted
/// keys: `api.request.publiclyAccessible = true` arrives as nested tables).
pub const OPERATORS: &[&str] = &[
    "eq",
    "in",
    "all",
    "glob",
    "cidr",
    "prefix_lte",
    "contains",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "starts_with",
    "ends_with",
    "exists",
    "eq_field",
    "ne_field",
    "contains_field",
    "starts_with_field",
    "ends_with_field",
];

fn compile_path(
    path: &str,
    value: &toml::Value,
    shared: &mut Shared,
    parts: &mut Vec<Condition>,
) -> Result<(), String> {
    let fixed = matches!(Field::parse(path), Some(Field::Fixed(_)));
    if let toml::Value::Table(t) = value
        && !fixed
        && !t.is_empty()
        && t.keys().any(|k| !OPERATORS.contains(&k.as_str()))
    {
        for (k, v) in t {
            compile_path(&format!("{path}.{k}"), v, shared, parts)?;
        }
        return Ok(());
    }
    let field = Field::parse(path).ok_or_else(|| format!("unknown field `{path}`"))?;
    let slot = shared.slot(&field);
    let tests = compile_spec(&field, slot, value, shared).map_err(|e| format!("{path}: {e}"))?;
    let fixed = match &field {
        Field::Fixed(name) => fixed_index(name),
        Field::Json(..) => None,
    };
    parts.push(Condition::Leaf {
        field,
        slot,
        tests,
        written: format!("{path} = {value}"),
        fixed,
    });
    Ok(())
}

fn compile_spec(
    field: &Field,
    slot: usize,
    value: &toml::Value,
    shared: &mut Shared,
) -> Result<Vec<Test>, String> {
    let toml::Value::Table(ops) = value else {
        return Ok(vec![Test::In(scalars(value)?)]);
    };
    if ops.is_empty() {
        return Err("empty operator table".into());
    }
    let mut tests = Vec::new();
    for (op, v) in ops {
        tests.push(match op.as_str() {
            "eq" | "in" => Test::In(scalars(v)?),
            "all" => Test::AllOf(scalars(v)?),
            "glob" => {
                let globs = strings(v, "glob")?;
                Test::Glob(glob_regex(&globs)?, glob_literals(&globs))
            }
            "cidr" => Test::Cidr(
                strings(v, "cidr")?
                    .iter()
                    .map(|c| c.parse::<IpNet>().map_err(|e| format!("bad CIDR {c:?}: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
            "prefix_lte" => match v {
                toml::Value::Integer(n) if (0..=128).contains(n) => Test::PrefixLte(*n as u8),
                _ => return Err("prefix_lte must be an integer 0..=128".into()),
            },
            "contains" => {
                let words = strings(v, "contains")?;
                if words.iter().any(String::is_empty) {
                    return Err("contains: empty keyword".into());
                }
                let ids = words
                    .into_iter()
                    .map(|w| {
                        let w = w.to_ascii_lowercase();
                        match shared.keywords.iter().position(|k| *k == w) {
                            Some(i) => i,
                            None => {
                                shared.keywords.push(w);
                                shared.keywords.len() - 1
                            }
                        }
                    })
                    .collect();
                Test::Contains(ids)
            }
            "regex" => {
                let pats = strings(v, "regex")?;
                let mut ids = Vec::new();
                for p in pats {
                    let list = &mut shared.regexes[slot];
                    ids.push(match list.iter().position(|(x, _)| *x == p) {
                        Some(i) => i,
                        None => {
                            let re = RegexBuilder::new(&p)
                                .size_limit(REGEX_SIZE_LIMIT)
                                .build()
                                .map_err(|e| format!("bad regex {p:?}: {e}"))?;
                            list.push((p, re));
                            list.len() - 1
                        }
                    });
                }
                Test::Regex(ids)
            }
            "gt" => Test::Compare(Cmp::Gt, number(field, v)?),
            "gte" => Test::Compare(Cmp::Gte, number(field, v)?),
            "lt" => Test::Compare(Cmp::Lt, number(field, v)?),
            "lte" => Test::Compare(Cmp::Lte, number(field, v)?),
            "starts_with" => Test::StartsWith(strings(v, "starts_with")?),
            "ends_with" => Test::EndsWith(strings(v, "ends_with")?),
            name if FIELD_OPERATORS.iter().any(|(n, _)| *n == name) => {
                let toml::Value::String(path) = v else {
                    return Err(format!("{op} takes a field path"));
                };
                let other = Field::parse(path).ok_or_else(|| format!("{op}: unknown field `{path}`"))?;
                let cmp = FIELD_OPERATORS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(FieldCmp::Eq, |(_, c)| *c);
                Test::Field(other, cmp)
            }
            "exists" => match v {
                toml::Value::Boolean(b) => Test::Exists(*b),
                _ => return Err("exists must be true or false".into()),
            },
            other => {
                return Err(format!("unknown operator `{other}` ({})", OPERATORS.join(", ")));
            }
        });
    }
    Ok(tests)
}
