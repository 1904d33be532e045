//! Learning: the statement shapes each (zone, principal, database) runs in traffic known to be
//! benign, written as a reviewable allowlist rule — recording then detecting, as database
//! firewalls do (ProxySQL, MySQL Enterprise Firewall), but out of band and in git.
//!
//! [`Learner`] is a pipeline [`Output`] that records, per profile, each statement family (or
//! exact fingerprint) with its normalized text (never a literal), how often it was seen, and
//! first/last seen, and how many statements the profile ran; and one example of the profile's
//! source (address, log group) so the generated rule can carry tests. [`Learner::to_rule`]
//! renders the rule file: an `[allowlist]` rule that flags statement shapes never seen for that
//! profile (docs/TUNING.md). [`Learner::to_applications`] renders what the application zones'
//! drivers and ORMs read of the catalogs as `[[applications]]` entries for the policy.
//!
//! With a [`Split`], only the first part of each file is learned, so the rest can measure how
//! the learned rule generalizes.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::event::{Event, Kind, Source, Timestamp, ZoneRole};
use crate::finding::Finding;
use crate::pipeline::Output;
use crate::rules::allowlist::By;
use crate::sql::Dialect;
use crate::tune::Split;

/// The fields that key a learned profile, as rule field paths.
pub const PROFILE_KEY: [&str; 3] = ["zone", "actor.user", "target.database"];

/// One learned statement shape.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Normalized statement (literals as `?`), or the family's text (`…` where it folds).
    pub normalized: String,
    /// The normalized text of one statement of the shape (for the generated tests).
    pub example: String,
    /// Times seen.
    pub seen: u64,
    /// First seen.
    pub first: Timestamp,
    /// Last seen.
    pub last: Timestamp,
}

/// One profile: its shapes and an example of where its traffic comes from.
#[derive(Clone, Debug)]
pub struct Profile {
    /// Statements learned for the profile.
    pub statements: u64,
    /// Fingerprint or family (16 hex digits) → shape.
    pub shapes: BTreeMap<String, Shape>,
    /// Source of the example.
    pub source: Source,
    /// SQL dialect of the example (the engine, for a source serving several).
    pub dialect: Dialect,
    /// An address of the profile's traffic (for the generated tests).
    pub example_host: String,
    /// The log group of the example, if any.
    pub example_log_group: Option<String>,
}

/// Catalog reads of one application profile (zone, user) that the policy does not expect yet.
#[derive(Clone, Debug, Default)]
pub struct AppCandidate {
    /// Databases the profile's sessions used.
    pub databases: BTreeSet<String>,
    /// Fingerprint (16 hex digits) → (normalized statement, times seen).
    pub statements: BTreeMap<String, (String, u64)>,
}

/// Records statement shapes per (zone, user, database).
#[derive(Debug, Default)]
pub struct Learner {
    /// What a shape is: the exact fingerprint or the family.
    pub by: By,
    /// Learn only the first part of each file (see [`Split`]).
    pub split: Option<Split>,
    /// Profiles by key values.
    pub profiles: BTreeMap<[String; 3], Profile>,
    /// Statements seen.
    pub statements: u64,
    /// Statements skipped because they lack a zone or user (nothing to key them on).
    pub unkeyed: u64,
    /// Catalog reads of application zones not yet expected, by (zone, user).
    pub applications: BTreeMap<[String; 2], AppCandidate>,
}

impl Learner {
    /// A learner of `by` shapes.
    pub fn new(by: By, split: Option<Split>) -> Self {
        Learner {
            by,
            split,
            ..Learner::default()
        }
    }
}

impl Output for Learner {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        if !matches!(event.kind, Kind::Statement(_)) {
            return;
        }
        let Some(sql) = &event.sql else {
            return;
        };
        if let Some(split) = &self.split
            && !split.in_training(&event.origin)
        {
            return;
        }
        self.statements += 1;
        let (Some(zone), Some(user)) = (event.enrichment.zone.as_deref(), event.actor.user.as_deref()) else {
            self.unkeyed += 1;
            return;
        };
        let key = [
            zone.to_owned(),
            user.to_owned(),
            event.target.database.as_deref().unwrap_or("").to_owned(),
        ];
        if event.enrichment.zone_role == Some(ZoneRole::Application)
            && event.enrichment.expected.is_none()
            && !sql.analysis.catalogs.is_empty()
        {
            let app = self
                .applications
                .entry([key[0].clone(), key[1].clone()])
                .or_default();
            if !key[2].is_empty() {
                app.databases.insert(key[2].to_ascii_lowercase());
            }
            let entry = app
                .statements
                .entry(format!("{:016x}", sql.analysis.fingerprint))
                .or_insert_with(|| (sql.analysis.normalized.clone(), 0));
            entry.1 += 1;
        }
        let profile = self.profiles.entry(key).or_insert_with(|| Profile {
            statements: 0,
            shapes: BTreeMap::new(),
            source: event.source,
            dialect: event.dialect,
            example_host: event
                .actor
                .ip
                .map(|ip| ip.to_string())
                .or_else(|| event.actor.host.as_deref().map(str::to_owned))
                .unwrap_or_default(),
            example_log_group: event.origin.log_group.map(str::to_owned),
        });
        profile.statements += 1;
        let (hash, text) = match self.by {
            By::Fingerprint => (sql.analysis.fingerprint, &sql.analysis.normalized),
            By::Family => (sql.analysis.family, &sql.analysis.family_normalized),
        };
        let shape = profile
            .shapes
            .entry(format!("{hash:016x}"))
            .or_insert_with(|| Shape {
                normalized: text.clone(),
                example: sql.analysis.normalized.clone(),
                seen: 0,
                first: event.time,
                last: event.time,
            });
        shape.seen += 1;
        shape.first = shape.first.min(event.time);
        shape.last = shape.last.max(event.time);
    }

    fn findings(&mut self, _findings: &[Finding]) {}
}

fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A raw record in `source`'s format running `sql` for a profile (for generated tests). The
/// statement is the normalized text, so the record carries no literal.
fn record(
    source: Source,
    dialect: Dialect,
    host: &str,
    user: &str,
    database: &str,
    sql: &str,
) -> Option<String> {
    match source {
        Source::Das => {
            let server = match dialect {
                Dialect::Mysql => "MySQL",
                Dialect::Postgres => "PostgreSQL",
                Dialect::Generic => "Other",
            };
            Some(
                serde_json::json!({
                    "type": "record",
                    "command": "QUERY",
                    "commandText": sql,
                    "dbUserName": user,
                    "databaseName": database,
                    "remoteHost": host,
                    "serverType": server,
                    "logTime": "2026-11-28 00:00:00.000000+00",
                })
                .to_string(),
            )
        }
        Source::MysqlAudit => Some(format!(
            "20261128 00:00:00,learned,{user},{host},1,1,QUERY,{database},'{}',0",
            sql.replace('\\', "\\\\")
                .replace('\'', "\\'")
                .replace('\n', "\\n")
        )),
        Source::Pgaudit => {
            let remote = if host.parse::<std::net::IpAddr>().is_ok() {
                format!("{host}(50000)")
            } else {
                host.to_owned()
            };
            let quoted = if sql.contains([',', '"', '\n']) {
                format!("\"{}\"", sql.replace('"', "\"\""))
            } else {
                sql.to_owned()
            };
            Some(format!(
                "2026-11-28 00:00:00 UTC:{remote}:{user}@{database}:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,{quoted},<none>"
            ))
        }
        _ => None,
    }
}

impl Learner {
    /// Render the allowlist rule file. `min_seen` is written into the rule: shapes learned fewer
    /// times stay listed for review but are not allowed (one-offs are better reviewed than
    /// allowed).
    pub fn to_rule(&self, corpus: &str, min_seen: u64) -> String {
        let mut out = String::new();
        let shapes: usize = self.profiles.values().map(|p| p.shapes.len()).sum();
        let trusted: usize = self
            .profiles
            .values()
            .map(|p| p.shapes.values().filter(|s| s.seen >= min_seen).count())
            .sum();
        let (by, key_name, what) = match self.by {
            By::Family => (
                "family",
                "family",
                "family (the normalized statement with list arity, optional filters, pagination and plain column lists folded)",
            ),
            By::Fingerprint => (
                "fingerprint",
                "fingerprint",
                "fingerprint (of the normalized statement)",
            ),
        };
        let _ = writeln!(
            out,
            "# Learned by `laneguard learn --corpus {corpus}` from {} benign statements ({} without a zone or user were skipped):\n# {} profiles, {shapes} statement shapes by {by} ({trusted} seen at least {min_seen} times). Review every entry: each one\n# ALLOWS a statement shape for a (zone, user, database) profile. Delete what should not be allowed; re-run `laneguard test`.",
            self.statements,
            self.unkeyed,
            self.profiles.len()
        );
        let _ = write!(
            out,
            r#"id = "learned.unknown-statement-shape"
title = "Statement shape never seen for this zone, user and database"
severity = "medium"
sources = ["any-sql"]
kinds = ["statement"]
mode = "shadow"
on_failure = "same"
references = ["DETECTIONS DS-SQL-04"]
description = """
Flags a statement whose shape — its {what} — was not seen for its (zone, database user,
database) profile in the benign corpus this file was learned from, or was seen fewer than
`min_seen` times there, and statements of profiles never seen at all. Injected SQL always
changes the shape. Start in shadow mode; promote to alert once `laneguard tune` shows the noise
is acceptable; re-learn after application releases.
"""

[match]
kind = "statement"

[allowlist]
key = ["zone", "actor.user", "target.database"]
by = "{by}"
unknown_profile = "alert"
min_seen = {min_seen}
"#
        );
        let mut tests = String::new();
        for (key, profile) in &self.profiles {
            if profile.shapes.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n[[allowlist.profiles]]\nkey = [{}, {}, {}]\nstatements = {}",
                toml_str(&key[0]),
                toml_str(&key[1]),
                toml_str(&key[2]),
                profile.statements
            );
            for (hash, s) in &profile.shapes {
                let _ = writeln!(
                    out,
                    "[[allowlist.profiles.shapes]]\n{key_name} = \"{hash}\"\nnormalized = {}\nseen = {}\nfirst = \"{}\"\nlast = \"{}\"",
                    toml_str(&s.normalized),
                    s.seen,
                    s.first,
                    s.last
                );
            }
            // A trusted shape whose example re-normalizes to itself (no collapsed lists, not cut).
            let example = profile
                .shapes
                .values()
                .find(|s| s.seen >= min_seen && !s.example.contains("?+") && !s.example.ends_with('…'));
            if tests.is_empty()
                && let Some(example) = example
                && let (Some(known), Some(unknown)) = (
                    record(
                        profile.source,
                        profile.dialect,
                        &profile.example_host,
                        &key[1],
                        &key[2],
                        &example.example,
                    ),
                    record(
                        profile.source,
                        profile.dialect,
                        &profile.example_host,
                        &key[1],
                        &key[2],
                        "DROP TABLE laneguard_learned_probe",
                    ),
                )
            {
                let lg = profile
                    .example_log_group
                    .as_deref()
                    .map_or(String::new(), |g| format!(", log_group = {}", toml_str(g)));
                let _ = write!(
                    tests,
                    "\n[[tests]]\nname = \"a learned shape of profile {} passes\"\nexpect = false\ninput = {{ source = \"{}\", record = {}{lg} }}\n\n[[tests]]\nname = \"an unseen shape of the same profile is flagged\"\nexpect = true\ninput = {{ source = \"{}\", record = {}{lg} }}\n",
                    key.join("/"),
                    profile.source,
                    toml_str(&known),
                    profile.source,
                    toml_str(&unknown)
                );
            }
        }
        out.push_str(&tests);
        out
    }

    /// Render, for the policy, one `[[applications]]` entry per (zone, user) of an application
    /// zone whose benign traffic read catalogs the policy does not expect yet: its databases and
    /// those statements' fingerprints (each with its normalized text as a comment). Empty when
    /// every catalog read was already expected.
    pub fn to_applications(&self, corpus: &str) -> String {
        let mut out = String::new();
        if self.applications.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "# Learned by `laneguard learn --applications --corpus {corpus}`: catalog reads of application zones that the\n# policy does not expect yet. Paste into the policy (docs/POLICY.md, `[[applications]]`), rename, and review every\n# statement: each one is EXPECTED of that application from its zone, so `sql.catalog-enumeration` ignores it there."
        );
        for ([zone, user], app) in &self.applications {
            let _ = writeln!(
                out,
                "\n[[applications]]\nname = {}\nzones = [{}]\nusers = [{}]",
                toml_str(&format!("{zone}/{user}")),
                toml_str(zone),
                toml_str(user)
            );
            if !app.databases.is_empty() {
                let dbs: Vec<String> = app.databases.iter().map(|d| toml_str(d)).collect();
                let _ = writeln!(out, "databases = [{}]", dbs.join(", "));
            }
            out.push_str("expected_fingerprints = [\n");
            for (fp, (normalized, seen)) in &app.statements {
                let shown: String = normalized
                    .chars()
                    .take(160)
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                let _ = writeln!(out, "  \"{fp}\",  # {seen}× {shown}");
            }
            out.push_str("]\n");
        }
        out
    }
}
