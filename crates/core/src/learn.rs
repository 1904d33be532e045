//! Learning: the statement shapes each (zone, principal, database) runs in traffic known to be
//! benign, written as a reviewable allowlist rule — recording then detecting, as database
//! firewalls do (ProxySQL, MySQL Enterprise Firewall), but out of band and in git.
//!
//! [`Learner`] is a pipeline [`Output`] that records, per profile, each statement fingerprint
//! with its normalized text (never a literal), how often it was seen, and first/last seen; and one
//! example of the profile's source (address, log group) so the generated rule can carry tests.
//! [`Learner::to_rule`] renders the rule file: an `[allowlist]` rule that flags statement shapes
//! never seen for that profile (docs/TUNING.md).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::event::{Event, Kind, Source, Timestamp};
use crate::sql::Dialect;
use crate::finding::Finding;
use crate::pipeline::Output;

/// The fields that key a learned profile, as rule field paths.
pub const PROFILE_KEY: [&str; 3] = ["zone", "actor.user", "target.database"];

/// One learned statement shape.
#[derive(Clone, Debug)]
pub struct Shape {
    /// Normalized statement (literals as `?`).
    pub normalized: String,
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
    /// Fingerprint (16 hex digits) → shape.
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

/// Records statement shapes per (zone, user, database).
#[derive(Debug, Default)]
pub struct Learner {
    /// Profiles by key values.
    pub profiles: BTreeMap<[String; 3], Profile>,
    /// Statements seen.
    pub statements: u64,
    /// Statements skipped because they lack a zone or user (nothing to key them on).
    pub unkeyed: u64,
}

impl Output for Learner {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        if !matches!(event.kind, Kind::Statement(_)) {
            return;
        }
        let Some(sql) = &event.sql else {
            return;
        };
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
        let profile = self.profiles.entry(key).or_insert_with(|| Profile {
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
        let fp = format!("{:016x}", sql.analysis.fingerprint);
        let shape = profile.shapes.entry(fp).or_insert_with(|| Shape {
            normalized: sql.analysis.normalized.clone(),
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
fn record(source: Source, dialect: Dialect, host: &str, user: &str, database: &str, sql: &str) -> Option<String> {
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
    /// Render the allowlist rule file. `min_seen` drops shapes seen fewer times (one-offs are
    /// better reviewed than allowed).
    pub fn to_rule(&self, corpus: &str, min_seen: u64) -> String {
        let mut out = String::new();
        let shapes: usize = self
            .profiles
            .values()
            .map(|p| p.shapes.values().filter(|s| s.seen >= min_seen).count())
            .sum();
        let _ = writeln!(
            out,
            "# Learned by `laneguard learn --corpus {corpus}` from {} benign statements ({} without a zone or user were skipped):\n# {} profiles, {shapes} statement shapes. Review every entry: each one ALLOWS a statement shape for a\n# (zone, user, database) profile. Delete what should not be allowed; re-run `laneguard test`.",
            self.statements,
            self.unkeyed,
            self.profiles.len()
        );
        out.push_str(
            r#"id = "learned.unknown-statement-shape"
title = "Statement shape never seen for this zone, user and database"
severity = "medium"
sources = ["any-sql"]
kinds = ["statement"]
mode = "shadow"
on_failure = "same"
references = ["DETECTIONS DS-SQL-04"]
description = """
Flags a statement whose shape (fingerprint of the normalized statement) was not seen for its
(zone, database user, database) profile in the benign corpus this file was learned from, and
statements of profiles never seen at all. Injected SQL always changes the shape. Start in shadow
mode; promote to alert once `laneguard tune` shows the noise is acceptable; re-learn after
application releases.
"""

[match]
kind = "statement"

[allowlist]
key = ["zone", "actor.user", "target.database"]
unknown_profile = "alert"
"#,
        );
        let mut tests = String::new();
        for (key, profile) in &self.profiles {
            let kept: Vec<(&String, &Shape)> = profile
                .shapes
                .iter()
                .filter(|(_, s)| s.seen >= min_seen)
                .collect();
            if kept.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n[[allowlist.profiles]]\nkey = [{}, {}, {}]",
                toml_str(&key[0]),
                toml_str(&key[1]),
                toml_str(&key[2])
            );
            for (fp, s) in &kept {
                let _ = writeln!(
                    out,
                    "[[allowlist.profiles.shapes]]\nfingerprint = \"{fp}\"\nnormalized = {}\nseen = {}\nfirst = \"{}\"\nlast = \"{}\"",
                    toml_str(&s.normalized),
                    s.seen,
                    s.first,
                    s.last
                );
            }
            // A shape whose normalized text re-normalizes to itself (no collapsed lists, not cut).
            let example = kept
                .iter()
                .find(|(_, s)| !s.normalized.contains("?+") && !s.normalized.ends_with('…'));
            if tests.is_empty()
                && let Some((_, example)) = example
                && let (Some(known), Some(unknown)) = (
                    record(
                        profile.source,
                        profile.dialect,
                        &profile.example_host,
                        &key[1],
                        &key[2],
                        &example.normalized,
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
}
