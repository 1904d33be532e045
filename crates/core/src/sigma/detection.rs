//! A Sigma `detection` section compiled into laneguard conditions ([`Expr`]): search
//! identifiers (maps: AND; lists of maps: OR; value lists: OR, or AND with `all`; keywords), the
//! modifiers applied left to right to each value as pySigma does, and each value turned into the
//! laneguard operator with the same meaning (SIGMA-SPEC §2–§5, §12).
//!
//! Semantics chosen where Sigma leaves them to the backend (docs/RULES.md, "Sigma"): a dotted
//! name is a path into the record, arrays searched element-wise; `null` is "absent or null";
//! an object matched as text is its compact JSON; keywords search every scalar of the record;
//! plain matching is case-insensitive, `re` and `fieldref` are case-sensitive.

use ipnet::IpNet;
use regex::RegexBuilder;

use super::fields;
use super::settings::SigmaSettings;
use super::value::{SigmaStr, Tok, base64, base64_offsets, utf16, windash};
use super::yaml::{Node, Scalar};
use crate::rules::condition::REGEX_SIZE_LIMIT;

/// A laneguard condition, before it is written as a `[match]` table.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// Every part holds.
    All(Vec<Expr>),
    /// Some part holds.
    Any(Vec<Expr>),
    /// The part does not hold.
    Not(Box<Expr>),
    /// A laneguard field path and its spec (a scalar or an inline table of operators).
    Leaf(String, toml::Value),
}

impl Expr {
    /// Whether some leaf reads one of `paths`.
    pub fn reads(&self, paths: &[&str]) -> bool {
        match self {
            Expr::All(p) | Expr::Any(p) => p.iter().any(|e| e.reads(paths)),
            Expr::Not(e) => e.reads(paths),
            Expr::Leaf(f, _) => paths.contains(&f.as_str()),
        }
    }
}

/// A problem with a line of the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

fn problem(line: usize, reason: impl Into<String>) -> Problem {
    Problem {
        line,
        reason: reason.into(),
    }
}

/// A problem that does not stop a rule, with its line when it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// 1-based line.
    pub line: Option<usize>,
    /// What is wrong.
    pub text: String,
}

impl Warning {
    /// A warning about line `line`.
    pub fn at(line: usize, text: impl Into<String>) -> Warning {
        Warning {
            line: Some(line),
            text: text.into(),
        }
    }
}

/// Longest `re` pattern accepted (characters): rules are configuration, not data.
pub const MAX_REGEX_LEN: usize = 4096;

/// The field path keywords (field-less values) search: every scalar of the record.
pub const KEYWORD_FIELD: &str = "record.**";

/// What compiling a detection needs: the settings (placeholders) and where warnings go.
pub struct Ctx<'s> {
    /// The import settings.
    pub settings: &'s SigmaSettings,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

/// A numeric value.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn toml(self) -> toml::Value {
        match self {
            Num::Int(n) => toml::Value::Integer(n),
            Num::Float(x) => toml::Value::Float(x),
        }
    }
}

/// One value on its way through the modifiers.
#[derive(Clone, Debug, PartialEq)]
enum V {
    /// A string as written, not parsed yet (`re`, `cidr` and `fieldref` read it raw).
    Text(String),
    /// A Sigma string, case-insensitive unless `cased`.
    Str(SigmaStr, bool),
    /// Bytes of a `utf16*` encoding, waiting for `base64`.
    Bytes(Vec<u8>),
    Num(Num),
    Bool(bool),
    Null,
    /// A regex and its flags (`i`, `m`, `s`).
    Re(String, String),
    Cidr(IpNet),
    Exists(bool),
    /// Another field (Sigma name) and the laneguard operator comparing with it.
    FieldRef(String, &'static str),
    /// A numeric comparison (`gt`…).
    Cmp(&'static str, Num),
}

impl V {
    fn kind(&self) -> &'static str {
        match self {
            V::Text(_) | V::Str(..) => "a string",
            V::Bytes(_) => "encoded bytes",
            V::Num(_) | V::Cmp(..) => "a number",
            V::Bool(_) => "a boolean",
            V::Null => "null",
            V::Re(..) => "a regex",
            V::Cidr(_) => "a CIDR",
            V::Exists(_) => "an `exists` value",
            V::FieldRef(..) => "a field reference",
        }
    }

    /// A string value as a Sigma string.
    fn parsed(self) -> V {
        match self {
            V::Text(t) => V::Str(SigmaStr::parse(&t), false),
            other => other,
        }
    }
}

/// A search identifier's definition compiled.
pub fn search(node: &Node, ctx: &mut Ctx<'_>) -> Result<Expr, Problem> {
    match node {
        Node::Map(entries, line) => {
            if entries.is_empty() {
                return Err(problem(*line, "empty selection"));
            }
            entries
                .iter()
                .map(|(k, l, v)| item(k, *l, v, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(all)
        }
        Node::Seq(items, line) => {
            if items.is_empty() {
                return Err(problem(*line, "empty selection list"));
            }
            if items.iter().all(|i| matches!(i, Node::Map(..))) {
                items
                    .iter()
                    .map(|i| search(i, ctx))
                    .collect::<Result<Vec<_>, _>>()
                    .map(any)
            } else if items.iter().all(|i| matches!(i, Node::Scalar(..))) {
                item("", *line, node, ctx)
            } else {
                Err(problem(
                    *line,
                    "a selection list must hold only maps (OR of maps) or only values (keywords), not a mix or nested lists",
                ))
            }
        }
        Node::Scalar(Scalar::Null, line) => Err(problem(*line, "a selection cannot be null")),
        Node::Scalar(_, line) => item("", *line, node, ctx),
    }
}

fn all(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        Expr::All(parts)
    }
}

fn any(mut parts: Vec<Expr>) -> Expr {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        Expr::Any(parts)
    }
}

/// The modifiers of Sigma 2.1 laneguard refuses, with why.
const TIME_MODIFIERS: [&str; 6] = ["minute", "hour", "day", "week", "month", "year"];

/// One `field|modifiers: values` entry (an empty field: keywords).
fn item(key: &str, line: usize, value: &Node, ctx: &mut Ctx<'_>) -> Result<Expr, Problem> {
    let mut split = key.split('|');
    let name = split.next().unwrap_or("").trim();
    let mods: Vec<&str> = split.collect();
    let keyword = name.is_empty();
    let path = if keyword {
        KEYWORD_FIELD.to_owned()
    } else {
        if !fields::is_record_field(name) {
            ctx.warnings.push(Warning::at(
                line,
                format!("`{name}` is not a field of CloudTrail records: the test of it never holds"),
            ));
        }
        fields::map(name).map_err(|e| problem(line, e))?
    };
    let scalars: Vec<(&Scalar, usize)> = match value {
        Node::Scalar(s, l) => vec![(s, *l)],
        Node::Seq(items, l) => {
            if items.is_empty() {
                return Err(problem(*l, format!("`{key}`: empty value list")));
            }
            items
                .iter()
                .map(|i| match i {
                    Node::Scalar(s, l) => Ok((s, *l)),
                    other => Err(problem(
                        other.line(),
                        format!("`{key}`: a value list holds {}", other.kind()),
                    )),
                })
                .collect::<Result<_, _>>()?
        }
        Node::Map(_, l) => return Err(problem(*l, format!("`{key}`: a field's value cannot be a map"))),
    };
    if scalars.len() > 1 && scalars.iter().any(|(s, _)| **s == Scalar::Null) {
        return Err(problem(
            line,
            format!("`{key}`: null cannot be part of a value list (write it as its own selection)"),
        ));
    }
    if !keyword && !mods.iter().any(|m| m.trim() == "fieldref") {
        for (s, l) in &scalars {
            if let Scalar::Str(t) = s
                && fields::looks_like_field_path(t)
            {
                ctx.warnings.push(Warning::at(
                    *l,
                    format!("`{key}` compares with the text {t:?}, which reads like a field name: add `|fieldref` to compare with that field"),
                ));
            }
        }
    }
    let mut link_all = false;
    let mut negate = false;
    let mut groups: Vec<(Vec<V>, usize)> = Vec::new();
    for (s, l) in &scalars {
        let start = match s {
            Scalar::Str(t) => V::Text(t.clone()),
            Scalar::Int(n) => V::Num(Num::Int(*n)),
            Scalar::Float(x) => V::Num(Num::Float(*x)),
            Scalar::Bool(b) => V::Bool(*b),
            Scalar::Null => V::Null,
        };
        groups.push((vec![start], *l));
    }
    for (i, m) in mods.iter().enumerate() {
        let m = m.trim();
        match m {
            "all" => {
                link_all = true;
                continue;
            }
            "neq" => {
                negate = true;
                continue;
            }
            t if TIME_MODIFIERS.contains(&t) => {
                return Err(problem(
                    line,
                    format!(
                        "modifier `{t}` (Sigma 2.1 date parts) is not supported: laneguard compares whole values"
                    ),
                ));
            }
            _ => {}
        }
        for (alts, l) in &mut groups {
            let mut next = Vec::with_capacity(alts.len());
            for v in alts.drain(..) {
                modify(v, m, i, key, *l, &mut next)?;
            }
            *alts = next;
        }
    }
    let mut values = Vec::with_capacity(groups.len());
    for (alts, l) in groups {
        let mut out = Vec::with_capacity(alts.len());
        for v in alts {
            let v = match v.parsed() {
                V::Bytes(_) => {
                    return Err(problem(
                        l,
                        format!("`{key}`: a utf16 encoding must be followed by `base64` or `base64offset`"),
                    ));
                }
                V::Str(s, cased) if keyword => V::Str(s.wrapped(true, true), cased),
                V::Exists(_) | V::FieldRef(..) | V::Null if keyword => {
                    return Err(problem(
                        l,
                        "keywords take strings: `exists`, `fieldref` and null need a field",
                    ));
                }
                other => other,
            };
            out.push((v, l));
        }
        values.push(out);
    }
    let exprs = values
        .into_iter()
        .map(|alts| alternatives(&path, name, alts, ctx))
        .collect::<Result<Vec<_>, _>>()?;
    let expr = if link_all {
        all(exprs)
    } else {
        merge_or(&path, exprs)
    };
    Ok(if negate { Expr::Not(Box::new(expr)) } else { expr })
}

/// Apply modifier `m` (the `index`-th of the item) to one value.
fn modify(v: V, m: &str, index: usize, key: &str, line: usize, out: &mut Vec<V>) -> Result<(), Problem> {
    let bad = |v: &V| {
        problem(
            line,
            format!("`{key}`: modifier `{m}` does not apply to {}", v.kind()),
        )
    };
    let first = |what: &str| {
        if index == 0 {
            Ok(())
        } else {
            Err(problem(
                line,
                format!("`{key}`: `{what}` must be the first modifier"),
            ))
        }
    };
    match m {
        "contains" | "startswith" | "endswith" => {
            let (start, end) = (m != "startswith", m != "endswith");
            match v.parsed() {
                V::Str(s, c) => out.push(V::Str(s.wrapped(start, end), c)),
                // Sigma `re` searches (unanchored): the wildcards these add change nothing.
                r @ V::Re(..) => out.push(r),
                V::FieldRef(f, "eq_field") => out.push(V::FieldRef(
                    f,
                    match m {
                        "contains" => "contains_field",
                        "startswith" => "starts_with_field",
                        _ => "ends_with_field",
                    },
                )),
                other => return Err(bad(&other)),
            }
        }
        "re" => {
            first("re")?;
            match v {
                V::Text(t) => out.push(V::Re(t, String::new())),
                other => return Err(bad(&other)),
            }
        }
        "i" | "ignorecase" | "m" | "multiline" | "s" | "dotall" => match v {
            V::Re(p, mut flags) => {
                let f = m.chars().next().unwrap_or('i');
                if !flags.contains(f) {
                    flags.push(f);
                }
                out.push(V::Re(p, flags));
            }
            other => {
                return Err(problem(
                    line,
                    format!("`{key}`: `{m}` applies to `re` only, not {}", other.kind()),
                ));
            }
        },
        "cidr" => {
            first("cidr")?;
            let V::Text(t) = &v else { return Err(bad(&v)) };
            let t = t.trim();
            let net: IpNet = t
                .parse()
                .or_else(|_| t.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| problem(line, format!("`{key}`: {t:?} is not a CIDR")))?;
            if net.trunc() != net {
                return Err(problem(
                    line,
                    format!(
                        "`{key}`: CIDR {t:?} has host bits set (did you mean {}?)",
                        net.trunc()
                    ),
                ));
            }
            out.push(V::Cidr(net));
        }
        "exists" => {
            first("exists")?;
            match v {
                V::Bool(b) => out.push(V::Exists(b)),
                other => {
                    return Err(problem(
                        line,
                        format!("`{key}`: `exists` takes true or false, not {}", other.kind()),
                    ));
                }
            }
        }
        "fieldref" => match v {
            V::Text(t) if !t.contains(['*', '?']) => out.push(V::FieldRef(t.trim().to_owned(), "eq_field")),
            other => {
                return Err(problem(
                    line,
                    format!(
                        "`{key}`: `fieldref` takes a field name without wildcards, not {}",
                        other.kind()
                    ),
                ));
            }
        },
        "expand" => match v.parsed() {
            V::Str(s, c) => out.push(V::Str(s.with_placeholders(), c)),
            other => return Err(bad(&other)),
        },
        "cased" => match v.parsed() {
            V::Str(s, _) => out.push(V::Str(s, true)),
            other => return Err(bad(&other)),
        },
        "base64" | "base64offset" => {
            let bytes = match v.parsed() {
                V::Bytes(b) => b,
                V::Str(s, _) => s
                    .plain()
                    .ok_or_else(|| {
                        problem(
                            line,
                            format!("`{key}`: `{m}` of a value with wildcards or placeholders"),
                        )
                    })?
                    .into_bytes(),
                other => return Err(bad(&other)),
            };
            if m == "base64" {
                out.push(V::Str(SigmaStr::literal(&base64(&bytes)), false));
            } else {
                out.extend(
                    base64_offsets(&bytes)
                        .iter()
                        .map(|e| V::Str(SigmaStr::literal(e), false)),
                );
            }
        }
        "utf16le" | "utf16be" | "utf16" | "wide" => match v.parsed() {
            V::Str(s, _) => {
                let text = s
                    .plain()
                    .ok_or_else(|| problem(line, format!("`{key}`: `{m}` of a value with wildcards")))?;
                out.push(V::Bytes(utf16(&text, m)));
            }
            other => return Err(bad(&other)),
        },
        "windash" => match v.parsed() {
            V::Str(s, c) => {
                let variants = windash(&s).map_err(|n| {
                    problem(
                        line,
                        format!(
                            "`{key}`: `windash` would make {n} variants (at most {})",
                            super::value::MAX_WINDASH_VARIANTS
                        ),
                    )
                })?;
                out.extend(variants.into_iter().map(|s| V::Str(s, c)));
            }
            other => return Err(bad(&other)),
        },
        "lt" | "lte" | "gt" | "gte" => {
            let op = match m {
                "lt" => "lt",
                "lte" => "lte",
                "gt" => "gt",
                _ => "gte",
            };
            match v {
                V::Num(n) => out.push(V::Cmp(op, n)),
                other => {
                    return Err(problem(
                        line,
                        format!("`{key}`: `{m}` takes a number, not {}", other.kind()),
                    ));
                }
            }
        }
        "" => return Err(problem(line, format!("`{key}`: empty modifier"))),
        unknown => return Err(problem(line, format!("`{key}`: unknown modifier `{unknown}`"))),
    }
    Ok(())
}

/// One value's alternatives (OR), as laneguard tests on `path`.
fn alternatives(path: &str, name: &str, alts: Vec<(V, usize)>, ctx: &Ctx<'_>) -> Result<Expr, Problem> {
    let mut parts = Vec::with_capacity(alts.len());
    for (v, line) in alts {
        parts.extend(value(path, name, v, line, ctx)?);
    }
    Ok(merge_or(path, parts))
}

fn leaf(path: &str, op: &str, v: toml::Value) -> Expr {
    let mut t = toml::Table::new();
    t.insert(op.to_owned(), v);
    Expr::Leaf(path.to_owned(), toml::Value::Table(t))
}

/// The laneguard tests of one final value.
fn value(path: &str, name: &str, v: V, line: usize, ctx: &Ctx<'_>) -> Result<Vec<Expr>, Problem> {
    let s = |x: String| toml::Value::String(x);
    Ok(match v {
        V::Str(st, cased) if st.placeholders().next().is_some() => expand(path, name, &st, cased, line, ctx)?,
        V::Str(st, true) => vec![leaf(path, "regex", s(st.regex(true)))],
        V::Str(st, false) => vec![string(path, &st)],
        V::Text(t) => vec![string(path, &SigmaStr::parse(&t))],
        V::Num(n) => vec![number(path, n)],
        V::Bool(b) => vec![leaf(path, "eq", toml::Value::Boolean(b))],
        V::Null => vec![leaf(path, "exists", toml::Value::Boolean(false))],
        V::Exists(b) => vec![leaf(path, "exists", toml::Value::Boolean(b))],
        V::Re(p, flags) => {
            let pattern = if flags.is_empty() {
                p
            } else {
                format!("(?{flags}){p}")
            };
            check_regex(&pattern, line)?;
            vec![leaf(path, "regex", s(pattern))]
        }
        V::Cidr(net) => vec![leaf(path, "cidr", s(net.to_string()))],
        V::FieldRef(other, op) => vec![leaf(
            path,
            op,
            s(fields::map(&other).map_err(|e| problem(line, e))?),
        )],
        V::Cmp(op, n) => vec![leaf(path, op, n.toml())],
        V::Bytes(_) => return Err(problem(line, "utf16 bytes left without base64")),
    })
}

/// A Sigma string as the cheapest laneguard operator with its meaning.
fn string(path: &str, st: &SigmaStr) -> Expr {
    let s = toml::Value::String;
    if let Some(t) = st.contains_text() {
        leaf(path, "contains", s(t))
    } else if let Some(g) = st.glob() {
        leaf(path, "glob", s(g))
    } else {
        leaf(path, "regex", s(st.regex(false)))
    }
}

fn number(path: &str, n: Num) -> Expr {
    match n {
        Num::Int(i) => leaf(path, "eq", toml::Value::Integer(i)),
        // `eq` takes integers: a fractional number is the range [x, x].
        Num::Float(x) => {
            let mut t = toml::Table::new();
            t.insert("gte".into(), toml::Value::Float(x));
            t.insert("lte".into(), toml::Value::Float(x));
            Expr::Leaf(path.to_owned(), toml::Value::Table(t))
        }
    }
}

/// Check a `re` pattern compiles within laneguard's limits, with the rule's line on failure.
fn check_regex(pattern: &str, line: usize) -> Result<(), Problem> {
    if pattern.chars().count() > MAX_REGEX_LEN {
        return Err(problem(
            line,
            format!("regex longer than {MAX_REGEX_LEN} characters"),
        ));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map(|_| ())
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => problem(
                line,
                format!(
                    "regex {pattern:?} compiles to more than {limit} bytes (repetitions too large): refused"
                ),
            ),
            other => problem(line, format!("bad regex {pattern:?}: {other}")),
        })
}

/// A value with `%placeholders%` (`expand`), resolved with the settings.
fn expand(
    path: &str,
    name: &str,
    st: &SigmaStr,
    cased: bool,
    line: usize,
    ctx: &Ctx<'_>,
) -> Result<Vec<Expr>, Problem> {
    let mut out = Vec::new();
    let whole = match st.0.as_slice() {
        [Tok::Placeholder(p)] => Some(p.as_str()),
        _ => None,
    };
    let mut alts = vec![st.clone()];
    for p in st.placeholders().collect::<Vec<_>>() {
        let def = ctx.settings.placeholder(p).ok_or_else(|| {
            problem(
                line,
                format!("placeholder %{p}% is not defined: add it under [sigma.placeholders] in the policy"),
            )
        })?;
        if !def.zones.is_empty() || !def.roles.is_empty() {
            if whole != Some(p) {
                return Err(problem(
                    line,
                    format!("placeholder %{p}% stands for zones: it must be the whole value"),
                ));
            }
            if name == fields::SOURCE_ADDRESS {
                let list =
                    |v: &[String]| toml::Value::Array(v.iter().cloned().map(toml::Value::String).collect());
                if !def.zones.is_empty() {
                    out.push(leaf("zone", "in", list(&def.zones)));
                }
                if !def.roles.is_empty() {
                    out.push(leaf("zone.role", "in", list(&def.roles)));
                }
            } else if !def.cidrs.is_empty() {
                let cidrs = def.cidrs.iter().cloned().map(toml::Value::String).collect();
                out.push(leaf(path, "cidr", toml::Value::Array(cidrs)));
            } else if def.values.is_empty() {
                return Err(problem(
                    line,
                    format!(
                        "placeholder %{p}% names zones without CIDRs, and `{name}` is not the source address"
                    ),
                ));
            }
        }
        alts = alts
            .iter()
            .flat_map(|a| {
                def.values
                    .iter()
                    .map(move |v| a.substitute(p, &SigmaStr::parse(v)))
            })
            .collect();
    }
    for a in alts {
        out.push(if cased {
            leaf(path, "regex", toml::Value::String(a.regex(true)))
        } else {
            string(path, &a)
        });
    }
    Ok(out)
}

/// OR of tests: tests of `path` with the same single operator merged into one list.
fn merge_or(path: &str, parts: Vec<Expr>) -> Expr {
    let mut merged: Vec<Expr> = Vec::with_capacity(parts.len());
    for p in parts.into_iter().flat_map(|p| match p {
        Expr::Any(inner) => inner,
        other => vec![other],
    }) {
        let Expr::Leaf(f, toml::Value::Table(t)) = &p else {
            merged.push(p);
            continue;
        };
        let mergeable = |op: &str| matches!(op, "glob" | "contains" | "regex" | "cidr" | "in" | "eq");
        let slot = (f == path && t.len() == 1)
            .then(|| t.iter().next())
            .flatten()
            .filter(|(op, _)| mergeable(op))
            .and_then(|(op, _)| {
                merged.iter().position(|m| {
                    matches!(m, Expr::Leaf(mf, toml::Value::Table(mt))
                        if mf == f && mt.len() == 1 && mt.contains_key(op.as_str()))
                })
            });
        match slot {
            Some(i) => {
                if let (Expr::Leaf(_, toml::Value::Table(mt)), Some((op, v))) =
                    (&mut merged[i], t.iter().next())
                    && let Some(old) = mt.get_mut(op.as_str())
                {
                    let mut list = match std::mem::replace(old, toml::Value::Boolean(false)) {
                        toml::Value::Array(a) => a,
                        single => vec![single],
                    };
                    match v {
                        toml::Value::Array(a) => list.extend(a.iter().cloned()),
                        single => list.push(single.clone()),
                    }
                    list.dedup();
                    *old = toml::Value::Array(list);
                }
            }
            None => merged.push(p),
        }
    }
    any(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigma::yaml;

    fn compile(text: &str) -> Result<Expr, Problem> {
        let settings = SigmaSettings::default();
        let mut ctx = Ctx {
            settings: &settings,
            warnings: Vec::new(),
        };
        let doc = yaml::parse(text).unwrap().remove(0);
        let (sel, _) = doc.get("sel").unwrap();
        search(sel, &mut ctx)
    }

    fn spec(text: &str) -> String {
        match compile(text).unwrap() {
            Expr::Leaf(f, v) => format!("{f} = {v}"),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn values_become_the_cheapest_operator() {
        assert_eq!(spec("sel:\n  eventName: X\n"), r#"api.action = { glob = "X" }"#);
        assert_eq!(
            spec("sel:\n  eventName|contains: ab\n"),
            r#"api.action = { contains = "ab" }"#
        );
        assert_eq!(
            spec("sel:\n  eventName|startswith: ab\n"),
            r#"api.action = { glob = "ab*" }"#
        );
        assert_eq!(
            spec("sel:\n  eventName|endswith: ab\n"),
            r#"api.action = { glob = "*ab" }"#
        );
        assert_eq!(
            spec("sel:\n  eventName: [a, 'b*']\n"),
            r#"api.action = { glob = ["a", "b*"] }"#
        );
        assert_eq!(
            spec("sel:\n  eventName: 'a\\*b'\n"),
            r#"api.action = { regex = '(?is)^a\*b$' }"#
        );
        assert_eq!(
            spec("sel:\n  errorCode: null\n"),
            r#"api.error_code = { exists = false }"#
        );
        assert_eq!(
            spec("sel:\n  readOnly: true\n"),
            r#"record.readOnly = { eq = true }"#
        );
        assert_eq!(
            spec("sel:\n  requestParameters.fromPort: 22\n"),
            r#"api.request.fromPort = { eq = 22 }"#
        );
        assert_eq!(
            spec("sel:\n  requestParameters.x|gte: 1.5\n"),
            r#"api.request.x = { gte = 1.5 }"#
        );
        assert_eq!(
            spec("sel:\n  - foo\n  - bar\n"),
            r#"record.** = { contains = ["foo", "bar"] }"#
        );
    }

    #[test]
    fn refusals_carry_the_line() {
        let e = compile("sel:\n  eventName|nope: x\n").unwrap_err();
        assert_eq!(
            (e.line, e.reason.as_str()),
            (2, "`eventName|nope`: unknown modifier `nope`")
        );
        let cases = [
            ("sel:\n  eventName:\n    - a\n    - null\n", "null cannot be part"),
            ("sel:\n  eventName|contains|re: a\n", "first modifier"),
            ("sel:\n  eventName|gt: '5'\n", "takes a number"),
            ("sel:\n  eventName|re: '((a{100}){100}){100}'\n", "refused"),
            ("sel:\n  eventName|re: '(?<=a)b'\n", "bad regex"),
            ("sel:\n  sourceIPAddress|expand: '%Admins%'\n", "not defined"),
            ("sel:\n  eventName|base64: 'a*'\n", "wildcards"),
            ("sel:\n  eventName|wide: 'a'\n", "followed by"),
            ("sel:\n  eventTime|hour: 3\n", "not supported"),
            ("sel:\n  - a\n  - k: v\n", "not a mix"),
            ("sel:\n  eventName|i: a\n", "applies to `re` only"),
            ("sel:\n  eventName|exists: 'yes'\n", "takes true or false"),
            ("sel:\n  sourceIPAddress|cidr: 10.0.0.1/8\n", "host bits"),
            ("sel:\n  eventName|fieldref: 'a*'\n", "without wildcards"),
            ("sel: {}\n", "empty selection"),
            ("sel:\n  eventName: []\n", "empty value list"),
        ];
        for (text, want) in cases {
            let e = compile(text).unwrap_err();
            assert!(e.reason.contains(want), "{text}: {e:?}");
            assert!(e.line >= 1, "{text}");
        }
    }
}
