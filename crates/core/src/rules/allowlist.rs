//! Allowlist rules: `[allowlist]` turns a rule around — it fires on what the list does NOT allow.
//!
//! A learned allowlist (`laneguard learn`) keys profiles by fields (zone, database user,
//! database) and lists the statement shapes each profile ran in benign traffic — exact
//! fingerprints, or families (`by = "family"`: list arity, optional filters, pagination and plain
//! column lists folded, docs/SQL.md) — with how often each was seen. An event whose profile is
//! known and whose shape is listed is allowed; anything else matches (profiles never seen match
//! too, unless `unknown_profile = "ignore"`). The statistics count: shapes learned fewer than
//! `min_seen` times and profiles learned from fewer than `min_statements` statements are not
//! trusted (a shape seen once is not a shape seen 10,000 times). Lookups are a hash of the
//! profile key and a set of shapes: constant time, whatever the list's size.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::field::{Docs, Field, any_value};
use crate::event::Event;

/// What to do with a profile the allowlist has never seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnknownProfile {
    /// Match (a new principal or zone is worth a look).
    #[default]
    Alert,
    /// Do not match (only shapes of known profiles are judged).
    Ignore,
}

/// Which statement key an allowlist lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum By {
    /// The exact shape: xxh3 of the normalized statement (`sql.fingerprint`).
    #[default]
    Fingerprint,
    /// The family: the shape with the variation of an ORM folded (`sql.family`).
    Family,
}

/// `[allowlist]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistFile {
    key: Vec<String>,
    #[serde(default)]
    by: By,
    #[serde(default)]
    unknown_profile: UnknownProfile,
    #[serde(default)]
    min_seen: Option<u64>,
    #[serde(default)]
    min_statements: Option<u64>,
    #[serde(default)]
    profiles: Vec<ProfileFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    key: Vec<String>,
    /// Statements learned for the profile (its weight; absent: hand-written, trusted).
    #[serde(default)]
    statements: Option<u64>,
    #[serde(default)]
    shapes: Vec<ShapeFile>,
}

/// A learned shape: the fingerprint or family decides, `seen` is weighed against `min_seen`;
/// the rest documents it for reviewers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeFile {
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    family: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    normalized: Option<String>,
    #[serde(default)]
    seen: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    first: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    last: Option<String>,
}

/// A compiled allowlist.
#[derive(Clone, Debug)]
pub struct Allowlist {
    key: Vec<Field>,
    by: By,
    unknown: UnknownProfile,
    profiles: HashMap<String, HashSet<u64>>,
}

const SEP: char = '\u{1f}';

impl Allowlist {
    /// Compile `[allowlist]`.
    pub fn compile(file: AllowlistFile) -> Result<Allowlist, String> {
        if file.key.is_empty() {
            return Err("allowlist key is empty".into());
        }
        let key = file
            .key
            .iter()
            .map(|k| Field::parse(k).ok_or_else(|| format!("allowlist key: unknown field `{k}`")))
            .collect::<Result<Vec<_>, _>>()?;
        let (want, other) = match file.by {
            By::Fingerprint => ("fingerprint", "family"),
            By::Family => ("family", "fingerprint"),
        };
        let min_seen = file.min_seen.unwrap_or(1);
        let min_statements = file.min_statements.unwrap_or(1);
        let mut profiles: HashMap<String, HashSet<u64>> = HashMap::new();
        for (i, p) in file.profiles.iter().enumerate() {
            if p.key.len() != key.len() {
                return Err(format!(
                    "allowlist profile {i}: key has {} values, the allowlist key has {} fields",
                    p.key.len(),
                    key.len()
                ));
            }
            // A profile learned from too few statements is judged as never seen.
            if p.statements.is_some_and(|n| n < min_statements) {
                continue;
            }
            let set = profiles.entry(p.key.join(&SEP.to_string())).or_default();
            for (j, s) in p.shapes.iter().enumerate() {
                let (value, wrong) = match file.by {
                    By::Fingerprint => (&s.fingerprint, &s.family),
                    By::Family => (&s.family, &s.fingerprint),
                };
                if wrong.is_some() {
                    return Err(format!(
                        "allowlist profile {i}, shape {j}: `{other}` in an allowlist `by = \"{want}\"` (give `{want}`)"
                    ));
                }
                let Some(value) = value else {
                    return Err(format!("allowlist profile {i}, shape {j}: `{want}` is missing"));
                };
                let hash = u64::from_str_radix(value, 16)
                    .ok()
                    .filter(|_| value.len() == 16)
                    .ok_or_else(|| {
                        format!("allowlist profile {i}, shape {j}: {want} {value:?} is not 16 hex digits")
                    })?;
                // A shape seen too rarely is not trusted (hand-written entries carry no count).
                if s.seen.is_none_or(|n| n >= min_seen) {
                    set.insert(hash);
                }
            }
        }
        Ok(Allowlist {
            key,
            by: file.by,
            unknown: file.unknown_profile,
            profiles,
        })
    }

    /// Whether the allowlist allows this event (then the rule does not match).
    pub fn allows(&self, event: &Event<'_>, docs: &mut Docs) -> bool {
        let mut key = String::new();
        for (i, f) in self.key.iter().enumerate() {
            if i > 0 {
                key.push(SEP);
            }
            any_value(event, docs, f, &mut |v| {
                if let Some(t) = v.as_text() {
                    key.push_str(&t);
                }
                true
            });
        }
        match self.profiles.get(&key) {
            Some(shapes) => event.sql.as_ref().is_some_and(|s| {
                shapes.contains(&match self.by {
                    By::Fingerprint => s.analysis.fingerprint,
                    By::Family => s.analysis.family,
                })
            }),
            None => self.unknown == UnknownProfile::Ignore,
        }
    }

    /// Number of profiles and shapes (for reports).
    pub fn size(&self) -> (usize, usize) {
        (
            self.profiles.len(),
            self.profiles.values().map(HashSet::len).sum(),
        )
    }
}
