//! Findings: what laneguard raises (DESIGN.md §6).
//!
//! A finding is owned (it outlives the batch), carries only the normalized statement — never the
//! raw SQL text — and has a deterministic id: the same record and rule always give the same id, so
//! a batch that AWS redelivers, or an archive replayed twice, does not double-alert downstream.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::{Classification, Event, Kind, OriginBuf, Source, Timestamp};
use crate::sql::{Dialect, Flags, StatementClass};

/// Severity, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording, not worth reading now.
    Info,
    /// Worth reading.
    Low,
    /// Worth investigating.
    Medium,
    /// Investigate now.
    High,
    /// Page someone.
    Critical,
}

impl Severity {
    /// The name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who acted, as a finding shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingActor {
    /// Database user or IAM user/session name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// Source IP address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<IpAddr>,
    /// Non-IP source host (`localhost`, an AWS service).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// IAM principal ARN.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub principal: Option<String>,
}

/// The statement behind a finding: normalized, never raw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingStatement {
    /// Statement class.
    pub class: StatementClass,
    /// Command.
    pub command: String,
    /// Objects touched, qualified.
    pub objects: Vec<String>,
    /// Risk flags.
    pub flags: Vec<String>,
    /// Fingerprint (16 hex digits).
    pub fingerprint: String,
    /// Normalized statement (literals replaced by `?`).
    pub normalized: String,
}

/// The API call behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingApi {
    /// Service endpoint.
    pub service: String,
    /// Action.
    pub action: String,
    /// Error code of a failed call.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_code: Option<String>,
}

/// The flow behind a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingFlow {
    /// Destination address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dst_ip: Option<IpAddr>,
    /// Destination port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dst_port: Option<u16>,
    /// Source port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub src_port: Option<u16>,
    /// IANA protocol number.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub protocol: Option<u8>,
    /// `ACCEPT` or `REJECT`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub action: Option<String>,
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes: Option<u64>,
}

/// Where an imported Sigma rule comes from, kept with the rule (the `[sigma]` table of a rule
/// file) and with every finding it raises: the Detection Rule License under which SigmaHQ
/// publishes its rules asks that views of matches name the rule's author, and an analyst triaging
/// the finding needs the upstream id, level, references and known false positives.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigmaOrigin {
    /// Sigma rule id (normally a UUID), as written.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// Sigma title.
    pub title: String,
    /// Sigma `status` (`stable`, `test`, `experimental`, `deprecated`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<String>,
    /// Sigma `level` (`informational` … `critical`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub level: Option<String>,
    /// The rule's author(s), as written: must be shown with its matches (DRL 1.1).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub author: Option<String>,
    /// Every tag, as written (`attack.t1098`, `attack.persistence`, …).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub tags: Vec<String>,
    /// The rule's references.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub references: Vec<String>,
    /// Known false positives, as the author listed them.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub falsepositives: Vec<String>,
    /// The rule's own `license` (SPDX), when it names one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub license: Option<String>,
    /// The attribution shown with every match: author, and SigmaHQ with the DRL for a rule that
    /// names no licence of its own.
    pub credit: String,
    /// The Sigma file the rule was imported from (its name).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
}

/// Where the evidence is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Origin of the record that raised the finding.
    pub origin: OriginBuf,
}

/// A detection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Deterministic id: same record and rule, same id.
    pub id: String,
    /// Rule (or policy check) id.
    pub rule_id: String,
    /// Rule title.
    pub title: String,
    /// Severity.
    pub severity: Severity,
    /// Event time.
    pub time: Timestamp,
    /// Log source.
    pub source: Source,
    /// The database engine, for a source that serves several (Database Activity Streams:
    /// `mysql`, `postgres`, `generic` for RDS for Oracle / SQL Server); the other sources imply it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dialect: Option<Dialect>,
    /// Security zone of the actor.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub zone: Option<String>,
    /// Datastore.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub datastore: Option<String>,
    /// Business domain (swim lane) of the datastore.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub domain: Option<String>,
    /// Database (MySQL schema, PostgreSQL database) of the session.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub database: Option<String>,
    /// Who acted.
    pub actor: FindingActor,
    /// The statement, for SQL events.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub statement: Option<FindingStatement>,
    /// The API call, for CloudTrail events.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub api: Option<FindingApi>,
    /// The flow, for flow-log events.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub flow: Option<FindingFlow>,
    /// Where the evidence is.
    pub evidence: Evidence,
    /// Number of events behind the finding (thresholds), 1 otherwise.
    pub count: u64,
    /// Highest classification of the data touched.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub classification: Option<Classification>,
    /// MITRE ATT&CK technique ids of the rule.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub attack: Vec<String>,
    /// Raised by a rule in shadow mode: counted and reported, never paged.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub shadow: bool,
    /// The Sigma rule behind the finding, for rules imported from Sigma (author, upstream id).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sigma: Option<Arc<SigmaOrigin>>,
}

impl Finding {
    /// A finding of `rule_id` for `event`, with everything the event says filled in.
    pub fn from_event(rule_id: &str, title: &str, severity: Severity, event: &Event<'_>) -> Finding {
        let statement = event.sql.as_ref().map(|sql| FindingStatement {
            class: sql.analysis.class,
            command: sql.analysis.command.clone(),
            objects: sql.objects.clone(),
            flags: flag_names(sql.flags),
            fingerprint: format!("{:016x}", sql.analysis.fingerprint),
            normalized: sql.analysis.normalized.clone(),
        });
        let api = match &event.kind {
            Kind::ApiCall(a) => Some(FindingApi {
                service: a.service.to_string(),
                action: a.action.to_string(),
                error_code: a.error_code.as_deref().map(str::to_owned),
            }),
            _ => None,
        };
        let flow = match &event.kind {
            Kind::Flow(f) => Some(FindingFlow {
                dst_ip: event.target.ip,
                dst_port: event.target.port,
                src_port: event.actor.port,
                protocol: f.protocol,
                action: f.action.as_deref().map(str::to_owned),
                bytes: f.bytes,
            }),
            _ => None,
        };
        let origin = event.origin.to_owned_origin();
        Finding {
            id: finding_id(rule_id, event.source, &origin, event.time),
            rule_id: rule_id.to_owned(),
            title: title.to_owned(),
            severity,
            time: event.time,
            source: event.source,
            dialect: (event.source.dialect() != event.dialect).then_some(event.dialect),
            zone: event.enrichment.zone.as_deref().map(str::to_owned),
            datastore: event
                .enrichment
                .datastore
                .as_deref()
                .or(event.target.datastore.as_deref())
                .map(str::to_owned),
            domain: event.enrichment.domain.as_deref().map(str::to_owned),
            database: event.target.database.as_deref().map(str::to_owned),
            actor: FindingActor {
                user: event.actor.user.as_deref().map(str::to_owned),
                ip: event.actor.ip,
                host: event.actor.host.as_deref().map(str::to_owned),
                principal: event.actor.principal.as_deref().map(str::to_owned),
            },
            statement,
            api,
            flow,
            evidence: Evidence { origin },
            count: 1,
            classification: event.enrichment.classification,
            attack: Vec::new(),
            shadow: false,
            sigma: None,
        }
    }
}

fn flag_names(flags: Flags) -> Vec<String> {
    flags.names().map(str::to_owned).collect()
}

/// The deterministic id of a finding: a 128-bit digest of the rule, the source, the record's
/// identity and its time, as 32 hex digits.
///
/// A record's identity is its CloudWatch Logs event id when it has one (unique per log event,
/// and kept across redelivery), else its file, line and index. A Database Activity Streams
/// record holds many activity events under one Kinesis event id: their index in the record is
/// part of their identity. The digest is xxh3-128: stable
/// across versions and platforms, not a security boundary.
pub fn finding_id(rule_id: &str, source: Source, origin: &OriginBuf, time: Timestamp) -> String {
    let mut key = String::with_capacity(128);
    key.push_str(rule_id);
    key.push('\u{1f}');
    key.push_str(source.as_str());
    key.push('\u{1f}');
    match &origin.event_id {
        Some(id) => {
            key.push_str(origin.log_group.as_deref().unwrap_or(""));
            key.push('\u{1f}');
            key.push_str(id);
            if source == Source::Das {
                key.push('\u{1f}');
                key.push_str(&origin.index.unwrap_or(0).to_string());
            }
        }
        None => {
            key.push_str(origin.file.as_deref().unwrap_or(""));
            key.push('\u{1f}');
            key.push_str(&origin.line.unwrap_or(0).to_string());
            key.push('\u{1f}');
            key.push_str(&origin.index.unwrap_or(0).to_string());
        }
    }
    key.push('\u{1f}');
    key.push_str(&time.as_microsecond().to_string());
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let o = OriginBuf {
            log_group: Some("/aws/rds/instance/db/audit".into()),
            event_id: Some("3195310660696698337880902507980421114328961542429822156".into()),
            ..OriginBuf::default()
        };
        let t = Timestamp::from_second(1_700_000_000).unwrap();
        let a = finding_id("r", Source::MysqlAudit, &o, t);
        assert_eq!(a, finding_id("r", Source::MysqlAudit, &o, t));
        assert_eq!(a.len(), 32);
        assert_ne!(a, finding_id("r2", Source::MysqlAudit, &o, t));
        // Redelivered in another batch position: same event id, same finding id.
        let mut o2 = o.clone();
        o2.index = Some(7);
        assert_eq!(a, finding_id("r", Source::MysqlAudit, &o2, t));
        let file = |line| OriginBuf {
            file: Some("a.log".into()),
            line: Some(line),
            ..OriginBuf::default()
        };
        assert_ne!(
            finding_id("r", Source::MysqlAudit, &file(1), t),
            finding_id("r", Source::MysqlAudit, &file(2), t)
        );
    }
}
