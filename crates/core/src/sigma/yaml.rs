//! The YAML of Sigma rules, read into a small tree that keeps the line of every node, so that an
//! error found long after parsing ("unknown modifier", "condition names a missing selection")
//! still says `file:line`.
//!
//! Why `saphyr-parser` and not a serde YAML crate: `serde_yaml` is archived; its forks
//! (`serde_yml`, `serde_norway`) bring `unsafe-libyaml` and give positions only for syntax
//! errors, not for the nodes a valid document holds. `saphyr-parser` (the maintained successor of
//! `yaml-rust2`, YAML 1.2, pure safe Rust, two dependencies: `arraydeque` and `thiserror`) yields
//! an event stream with a span per event; the ~200 lines below turn it into nodes, refusing what
//! a detection rule never needs and an attacker could use against the loader: aliases (the
//! "billion laughs" expansion), tags, deep nesting, and more nodes than any rule has.
//!
//! Plain scalars resolve by the YAML 1.2 core schema (`null`/`~`/empty, `true`/`false`, integers,
//! floats; everything else — `yes`, `NO`, dates — is a string). Quoted and block scalars are
//! strings. Duplicate keys are errors, as in pySigma.

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting accepted (a Sigma rule nests four or five levels).
pub const MAX_DEPTH: usize = 64;
/// Most nodes accepted in one file (a large Sigma rule has a few hundred).
pub const MAX_NODES: usize = 100_000;

/// A scalar, typed by the YAML 1.2 core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Text (every quoted or block scalar, and plain scalars of no other type).
    Str(String),
}

impl Scalar {
    /// The scalar as text (keys, names): numbers and booleans as written by YAML.
    pub fn text(&self) -> String {
        match self {
            Scalar::Null => "null".into(),
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(n) => n.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

/// A YAML node with the (1-based) line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A scalar.
    Scalar(Scalar, usize),
    /// A sequence.
    Seq(Vec<Node>, usize),
    /// A mapping: `(key, line of the key, value)` in document order.
    Map(Vec<(String, usize, Node)>, usize),
}

impl Node {
    /// The line the node starts on.
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar(_, l) | Node::Seq(_, l) | Node::Map(_, l) => *l,
        }
    }

    /// The value of `key` in a mapping, with the key's line.
    pub fn get(&self, key: &str) -> Option<(&Node, usize)> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _, _)| k == key).map(|(_, l, v)| (v, *l)),
            _ => None,
        }
    }

    /// What kind of node this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(Scalar::Null, _) => "null",
            Node::Scalar(_, _) => "a value",
            Node::Seq(..) => "a list",
            Node::Map(..) => "a map",
        }
    }
}

/// A document that is not YAML, or YAML a Sigma rule does not use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A node being built.
enum Open {
    Seq(Vec<Node>, usize),
    Map(Vec<(String, usize, Node)>, usize, Option<(String, usize)>),
}

/// Parse every document of `text`.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut nodes = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| YamlError {
            line: e.marker().line(),
            reason: format!("invalid YAML: {}", e.info()),
        })?;
        let line = span.start.line();
        let err = |reason: String| YamlError { line, reason };
        let done = match event {
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {
                continue;
            }
            Event::Alias(_) => return Err(err("YAML aliases (`*name`) are not accepted in rules".into())),
            Event::Scalar(_, _, _, Some(_))
            | Event::SequenceStart(_, Some(_))
            | Event::MappingStart(_, Some(_)) => {
                return Err(err("YAML tags (`!tag`) are not accepted in rules".into()));
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nested deeper than {MAX_DEPTH} levels")));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Open::Seq(Vec::new(), line)
                } else {
                    Open::Map(Vec::new(), line, None)
                });
                continue;
            }
            Event::Scalar(value, style, _, None) => Node::Scalar(resolve(&value, style), line),
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq(items, l)) => Node::Seq(items, l),
                _ => return Err(err("unbalanced YAML sequence".into())),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map(entries, l, None)) => Node::Map(entries, l),
                _ => return Err(err("unbalanced YAML mapping".into())),
            },
        };
        nodes += 1;
        if nodes > MAX_NODES {
            return Err(err(format!("more than {MAX_NODES} YAML nodes")));
        }
        match stack.last_mut() {
            None => docs.push(done),
            Some(Open::Seq(items, _)) => items.push(done),
            Some(Open::Map(entries, _, pending)) => match pending.take() {
                None => {
                    let Node::Scalar(key, key_line) = done else {
                        return Err(err("a mapping key must be a plain value".into()));
                    };
                    let key = key.text();
                    if entries.iter().any(|(k, _, _)| *k == key) {
                        return Err(YamlError {
                            line: key_line,
                            reason: format!("duplicate key `{key}`"),
                        });
                    }
                    *pending = Some((key, key_line));
                }
                Some((key, key_line)) => entries.push((key, key_line, done)),
            },
        }
    }
    if !stack.is_empty() {
        return Err(YamlError {
            line: text.lines().count().max(1),
            reason: "unterminated YAML document".into(),
        });
    }
    Ok(docs)
}

/// The YAML 1.2 core schema for plain scalars; every other style is a string.
fn resolve(value: &str, style: ScalarStyle) -> Scalar {
    if style != ScalarStyle::Plain {
        return Scalar::Str(value.to_owned());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = value.parse::<i64>() {
            return Scalar::Int(n);
        }
    }
    if let Some(oct) = value.strip_prefix("0o")
        && let Ok(n) = i64::from_str_radix(oct, 8)
    {
        return Scalar::Int(n);
    }
    if let Some(hex) = value.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return Scalar::Int(n);
    }
    let float_like = digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if float_like && let Ok(x) = value.parse::<f64>() {
        return Scalar::Float(x);
    }
    Scalar::Str(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let mut docs = parse(text).unwrap();
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn scalars_by_the_core_schema() {
        let n = one(
            "a: 12\nb: '12'\nc: true\nd: yes\ne: null\nf: ~\ng:\nh: 1.5\ni: 2024-07-11\nj: NO\nk: \"x\\ty\"\n",
        );
        let get = |k: &str| match n.get(k) {
            Some((Node::Scalar(s, _), _)) => s.clone(),
            other => panic!("{k}: {other:?}"),
        };
        assert_eq!(get("a"), Scalar::Int(12));
        assert_eq!(get("b"), Scalar::Str("12".into()));
        assert_eq!(get("c"), Scalar::Bool(true));
        assert_eq!(get("d"), Scalar::Str("yes".into()), "YAML 1.2: yes is text");
        assert_eq!(get("e"), Scalar::Null);
        assert_eq!(get("f"), Scalar::Null);
        assert_eq!(get("g"), Scalar::Null);
        assert_eq!(get("h"), Scalar::Float(1.5));
        assert_eq!(get("i"), Scalar::Str("2024-07-11".into()));
        assert_eq!(get("j"), Scalar::Str("NO".into()));
        assert_eq!(get("k"), Scalar::Str("x\ty".into()));
    }

    #[test]
    fn lines_of_nodes_and_keys() {
        let n = one("title: x\ndetection:\n    sel:\n        - a\n        - b\n    condition: sel\n");
        let (det, l) = n.get("detection").unwrap();
        assert_eq!(l, 2);
        let (sel, l) = det.get("sel").unwrap();
        assert_eq!((l, sel.line()), (3, 4));
        assert_eq!(det.get("condition").unwrap().1, 6);
    }

    #[test]
    fn refuses_what_rules_do_not_need() {
        let e = |t: &str| parse(t).unwrap_err();
        assert!(e("a: &x [1]\nb: *x\n").reason.contains("aliases"));
        assert!(e("a: !custom 1\n").reason.contains("tags"));
        let dup = e("a: 1\nb: 2\na: 3\n");
        assert_eq!((dup.line, dup.reason.as_str()), (3, "duplicate key `a`"));
        assert!(e("a: [1, 2\n").reason.starts_with("invalid YAML"));
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(e(&deep).reason.contains("nested deeper"));
        assert!(e("? [a]\n: 1\n").reason.contains("plain value"));
    }

    #[test]
    fn several_documents() {
        assert_eq!(parse("a: 1\n---\nb: 2\n").unwrap().len(), 2);
        assert!(parse("").unwrap().is_empty());
    }
}
