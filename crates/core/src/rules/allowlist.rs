//! Allowlist rules: `[allowlist]` turns a rule around — it fires on what the list does NOT allow.
//!
//! A learned allowlist (`laneguard learn`) keys profiles by fields (zone, database user,
//! database) and lists the statement fingerprints each profile ran in benign traffic. An event
//! whose profile is known and whose fingerprint is listed is allowed; anything else matches
//! (profiles never seen match too, unless `unknown_profile = "ignore"`). Lookups are a hash of
//! the profile key and a set of fingerprints: constant time, whatever the list's size.

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

/// `[allowlist]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowlistFile {
    key: Vec<String>,
    #[serde(default)]
    unknown_profile: UnknownProfile,
    #[serde(default)]
    profiles: Vec<ProfileFile>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    key: Vec<String>,
    #[serde(default)]
    shapes: Vec<ShapeFile>,
}

/// A learned shape: the fingerprint decides; the rest documents it for reviewers.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShapeFile {
    fingerprint: String,
    #[serde(default)]
    #[allow(dead_code)]
    normalized: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
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
        let mut profiles: HashMap<String, HashSet<u64>> = HashMap::new();
        for (i, p) in file.profiles.iter().enumerate() {
            if p.key.len() != key.len() {
                return Err(format!(
                    "allowlist profile {i}: key has {} values, the allowlist key has {} fields",
                    p.key.len(),
                    key.len()
                ));
            }
            let set = profiles.entry(p.key.join(&SEP.to_string())).or_default();
            for s in &p.shapes {
                let fp = u64::from_str_radix(&s.fingerprint, 16).map_err(|_| {
                    format!(
                        "allowlist profile {i}: fingerprint {:?} is not 16 hex digits",
                        s.fingerprint
                    )
                })?;
                set.insert(fp);
            }
        }
        Ok(Allowlist {
            key,
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
            Some(shapes) => event
                .sql
                .as_ref()
                .is_some_and(|s| shapes.contains(&s.analysis.fingerprint)),
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
