//! Findings: what laneguard raises (DESIGN.md §6).
//!
//! A finding is owned (it outlives the batch), carries only the normalized statement — never the
//! raw SQL text — and has a deterministic id: the same record and rule always give the same id, so
//! a batch that AWS redelivers, or an archive replayed twice, does not double-alert downstream.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::event::{Classification, DatastoreKind, Event, Kind, OriginBuf, Source, Timestamp};
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
    /// Origin of the record that raised the finding (a sequence's last event).
    pub origin: OriginBuf,
    /// A sequence's other events, first first: where to read the rest of the story.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<OriginBuf>,
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
    /// AWS account the activity belongs to (CloudTrail `recipientAccountId`, a flow log's
    /// `account-id`, a subscription's `owner`, an activity stream's ARN): what a SIEM or Security
    /// Lake joins on, and the `accountId=` partition of `replay --ocsf-dir`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub account: Option<String>,
    /// AWS region of the activity (CloudTrail `awsRegion`, a flow log's `region`, the Lambda
    /// function's region, an activity stream's ARN).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub region: Option<String>,
    /// ARN of the datastore, when a record names it or its kind, account and region are all
    /// known (`arn:aws:rds:eu-west-1:111122223333:db:orders`): SIEMs join on ARNs, not names.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub arn: Option<String>,
    /// The AWS resources the record names by ARN (CloudTrail `resources`), other than the
    /// datastore's.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub resources: Vec<FindingResource>,
    /// Threshold findings: event time of the first event of the window that crossed the
    /// threshold (the last is [`Finding::last_seen`]). Absent on single-event findings.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_seen: Option<Timestamp>,
    /// Threshold findings: event time of the last event of the window, the one that crossed
    /// the threshold (equal to `time`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_seen: Option<Timestamp>,
}

/// An AWS resource a finding's record names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingResource {
    /// The ARN.
    pub arn: String,
    /// Its type as CloudTrail logs it (`AWS::KMS::Key`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<String>,
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
        let account = event.target.account.as_deref();
        let region = event.target.region.as_deref();
        let (arn, resources) = arns(event);
        Finding {
            id: finding_id(rule_id, event.source, &origin, event.time),
            rule_id: rule_id.to_owned(),
            title: title.to_owned(),
            severity,
            time: event.time,
            source: event.source,
            dialect: (event.source.dialect() != event.dialect).then_some(event.dialect),
            zone: event.enrichment.zone.as_deref().map(str::to_owned),
            // The name the record gives, when the policy does not know it — unless it is a
            // parameter group's (an API call naming no datastore kind), which is not a datastore.
            datastore: event
                .enrichment
                .datastore
                .as_deref()
                .or(match &event.kind {
                    Kind::ApiCall(a) if a.datastore_kind.is_none() => None,
                    _ => event.target.datastore.as_deref(),
                })
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
            evidence: Evidence {
                origin,
                related: Vec::new(),
            },
            count: 1,
            classification: event.enrichment.classification,
            attack: Vec::new(),
            shadow: false,
            sigma: None,
            account: account.map(str::to_owned),
            region: region.map(str::to_owned),
            arn,
            resources,
            first_seen: None,
            last_seen: None,
        }
    }

    /// A finding with nothing but a rule and a time, for unit tests of what handles findings.
    #[cfg(test)]
    pub(crate) fn placeholder(rule_id: &str, time: Timestamp) -> Finding {
        Finding {
            id: finding_id(rule_id, Source::CloudTrail, &OriginBuf::default(), time),
            rule_id: rule_id.to_owned(),
            title: String::new(),
            severity: Severity::Medium,
            time,
            source: Source::CloudTrail,
            dialect: None,
            zone: None,
            datastore: None,
            domain: None,
            database: None,
            actor: FindingActor::default(),
            statement: None,
            api: None,
            flow: None,
            evidence: Evidence {
                origin: OriginBuf::default(),
                related: Vec::new(),
            },
            count: 1,
            classification: None,
            attack: Vec::new(),
            shadow: false,
            sigma: None,
            account: None,
            region: None,
            arn: None,
            resources: Vec::new(),
            first_seen: None,
            last_seen: None,
        }
    }

    /// Mark a threshold finding with the event times of the first and last events of its window.
    /// `first` is the window's first event time as the state store knows it (`None`: it keeps
    /// no times, and the window is reported as starting at this event).
    pub fn set_window(&mut self, first: Option<Timestamp>) {
        self.first_seen = Some(first.map_or(self.time, |f| f.min(self.time)));
        self.last_seen = Some(self.time);
    }
}

/// The datastore's ARN and the other resources an event's record names by ARN. The datastore's
/// ARN is the record's own (a CloudTrail resource whose id is the datastore's), else built from
/// what names its kind — the request parameter of a CloudTrail call, an RDS log group
/// (`/aws/rds/cluster/<id>/…`) — when the account and region are known too.
fn arns(event: &Event<'_>) -> (Option<String>, Vec<FindingResource>) {
    let account = event.target.account.as_deref();
    let region = event.target.region.as_deref();
    let id = event.target.datastore.as_deref();
    let (listed, kind): (&[crate::event::ApiResource<'_>], _) = match &event.kind {
        Kind::ApiCall(a) => (&a.resources, a.datastore_kind),
        _ => (&[], None),
    };
    let kind = kind.or_else(|| {
        let group = event.origin.log_group?;
        let rest = group.strip_prefix("/aws/rds/")?;
        if rest.starts_with("instance/") {
            Some(DatastoreKind::RdsInstance)
        } else if rest.starts_with("cluster/") {
            Some(DatastoreKind::RdsCluster)
        } else {
            None
        }
    });
    let own = id.and_then(|id| {
        listed
            .iter()
            .find(|r| r.arn.rsplit([':', '/']).next() == Some(id))
            .map(|r| r.arn.to_string())
    });
    let arn = own.or_else(|| match (kind, id, account, region) {
        (Some(kind), Some(id), Some(account), Some(region)) => Some(kind.arn(id, account, region)),
        _ => None,
    });
    let resources = listed
        .iter()
        .filter(|r| arn.as_deref() != Some(&*r.arn))
        .map(|r| FindingResource {
            arn: r.arn.to_string(),
            kind: r.kind.as_deref().map(str::to_owned),
        })
        .collect();
    (arn, resources)
}

fn flag_names(flags: Flags) -> Vec<String> {
    flags.names().map(str::to_owned).collect()
}

/// A record's identity as a number — what [`finding_id`] digests, without a rule: its
/// CloudWatch Logs event id (and index, for an activity-stream record) or its file, line and
/// index, and its time. How sequence state tells a redelivered record from a new one; hashed
/// field by field from the borrowed origin (no allocation: a step of a fusion rule matches most
/// flow records).
pub fn record_digest(source: Source, origin: &crate::event::Origin<'_>, time: Timestamp) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(source.as_str().as_bytes());
    h.update(&[0x1f]);
    match origin.event_id {
        Some(id) => {
            h.update(origin.log_group.unwrap_or("").as_bytes());
            h.update(&[0x1f]);
            h.update(id.as_bytes());
            if source == Source::Das {
                h.update(&origin.index.unwrap_or(0).to_le_bytes());
            }
        }
        None => {
            h.update(origin.file.unwrap_or("").as_bytes());
            h.update(&[0x1f]);
            h.update(&origin.line.unwrap_or(0).to_le_bytes());
            h.update(&origin.index.unwrap_or(0).to_le_bytes());
        }
    }
    h.update(&time.as_microsecond().to_le_bytes());
    h.digest()
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
    use crate::diagnostic::Diagnostic;
    use crate::envelope::{
        AwsContext, DocContext, RawRecord, RecordSink, Skip, decode_document, decode_lambda_event,
    };
    use crate::event::Origin;
    use crate::sources::{ParseOptions, Parsed, Parsers};

    /// Every record of a document, parsed and made a finding (as if a rule matched it).
    struct Findings {
        parsers: Parsers,
        out: Vec<Finding>,
    }

    impl RecordSink for Findings {
        fn record(&mut self, r: RawRecord<'_>) {
            let source = r
                .source
                .or_else(|| crate::sources::detect(r.origin.log_group, r.text, self.parsers.pg_prefix()))
                .unwrap_or(Source::CloudTrail);
            let mut warnings = Vec::new();
            match self.parsers.parse(source, &r, &mut warnings) {
                Ok(Parsed::Event(e)) => self.out.push(Finding::from_event("r", "t", Severity::Low, &e)),
                Ok(Parsed::Many(many)) => {
                    for o in many {
                        if let Ok(Parsed::Event(e)) = o.parsed {
                            self.out.push(Finding::from_event("r", "t", Severity::Low, &e));
                        }
                    }
                }
                Ok(Parsed::Skip(_)) => {}
                Err(e) => panic!("{}: {}", r.origin, e.reason),
            }
        }
        fn skipped(&mut self, _: Skip, _: &Origin<'_>) {}
        fn diagnostic(&mut self, d: Diagnostic) {
            panic!("{d}")
        }
    }

    fn findings(doc: &str, ctx: &DocContext) -> Vec<Finding> {
        let mut sink = Findings {
            parsers: Parsers::new(&ParseOptions::default()),
            out: Vec::new(),
        };
        decode_document(doc, &Origin::default(), ctx, &mut sink);
        sink.out
    }

    fn one(doc: &str, ctx: &DocContext) -> Finding {
        let mut all = findings(doc, ctx);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    #[test]
    fn cloudtrail_names_account_region_and_resource_arns() {
        let ctx = DocContext::default();
        // recipientAccountId and awsRegion; the datastore's ARN built from the request
        // parameter that named it.
        let f = one(
            r#"{"eventVersion":"1.08","eventTime":"2026-11-28T10:00:00Z","eventSource":"rds.amazonaws.com","eventName":"DeleteDBCluster","awsRegion":"eu-west-1","recipientAccountId":"111122223333","userIdentity":{"type":"IAMUser","accountId":"444455556666","arn":"arn:aws:iam::444455556666:user/a"},"requestParameters":{"dBClusterIdentifier":"orders"}}"#,
            &ctx,
        );
        assert_eq!(f.account.as_deref(), Some("111122223333"));
        assert_eq!(f.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            f.arn.as_deref(),
            Some("arn:aws:rds:eu-west-1:111122223333:cluster:orders")
        );
        assert!(f.resources.is_empty());
        // No recipientAccountId: the caller's account. The record's resources are kept by ARN;
        // the one whose id is the datastore's is the datastore's ARN (not rebuilt).
        let f = one(
            r#"{"eventVersion":"1.08","eventTime":"2026-11-28T10:00:00Z","eventSource":"dynamodb.amazonaws.com","eventName":"DeleteTable","awsRegion":"cn-north-1","userIdentity":{"type":"IAMUser","accountId":"444455556666"},"requestParameters":{"tableName":"t1"},"resources":[{"ARN":"arn:aws-cn:dynamodb:cn-north-1:444455556666:table/t1","type":"AWS::DynamoDB::Table"},{"ARN":"arn:aws-cn:kms:cn-north-1:444455556666:key/k","type":"AWS::KMS::Key"},{"accountId":"444455556666"}]}"#,
            &ctx,
        );
        assert_eq!(f.account.as_deref(), Some("444455556666"));
        assert_eq!(
            f.arn.as_deref(),
            Some("arn:aws-cn:dynamodb:cn-north-1:444455556666:table/t1")
        );
        assert_eq!(
            f.resources,
            [FindingResource {
                arn: "arn:aws-cn:kms:cn-north-1:444455556666:key/k".into(),
                kind: Some("AWS::KMS::Key".into()),
            }]
        );
        // Built ARNs follow the region's partition.
        let f = one(
            r#"{"eventTime":"2026-11-28T10:00:00Z","eventSource":"rds.amazonaws.com","eventName":"StopDBInstance","awsRegion":"us-gov-west-1","recipientAccountId":"111122223333","requestParameters":{"dBInstanceIdentifier":"db1"}}"#,
            &ctx,
        );
        assert_eq!(
            f.arn.as_deref(),
            Some("arn:aws-us-gov:rds:us-gov-west-1:111122223333:db:db1")
        );
    }

    #[test]
    fn flow_logs_name_account_and_region_when_the_format_has_them() {
        let mut sink = Findings {
            parsers: Parsers::new(&ParseOptions::default()),
            out: Vec::new(),
        };
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/reference/vpc-flow-v5-all-fields.log"
        ))
        .unwrap_or_default();
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default();
        if let Some(format) = crate::sources::FlowFormat::from_header(header) {
            sink.parsers.set_vpc_format(format);
        }
        for line in lines.filter(|l| !l.trim().is_empty()) {
            sink.record(RawRecord {
                text: line,
                origin: Origin::default(),
                source: Some(Source::VpcFlow),
                envelope_time: None,
                aws: AwsContext::default(),
            });
        }
        assert!(!sink.out.is_empty());
        for f in &sink.out {
            assert_eq!(f.account.as_deref(), Some("64111117617"));
            assert_eq!(f.region.as_deref(), Some("us-east-1"));
        }
        // The version 2 format has the account, not the region.
        let f = one_line(
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        );
        assert_eq!(
            (f.account.as_deref(), f.region.as_deref()),
            (Some("123456789010"), None)
        );
    }

    #[test]
    fn archive_keys_name_account_and_region() {
        let ctx = |p| AwsContext::of_archive_path(p);
        let both = AwsContext {
            account: Some("111122223333"),
            region: Some("eu-west-1"),
        };
        assert_eq!(
            ctx("s3://b/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2026/11/30/x.log.gz"),
            both
        );
        assert_eq!(
            ctx("/data/AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/2026/11/30/x.json.gz"),
            both
        );
        for other in [
            "s3://b/AWSLogs/111122223333/rds-audit/eu-west-1/x.log",
            "s3://b/AWSLogs/1111/vpcflowlogs/eu-west-1/x.log",
            "s3://b/AWSLogs/111122223333/vpcflowlogs/../x.log",
            "samples/vpc-flow/benign/vpc-flow-v2.log",
            "AWSLogs/111122223333",
        ] {
            assert_eq!(ctx(other), AwsContext::default(), "{other}");
        }
        // A default-format flow log (no region field) read from its archive key takes the key's
        // region; the record's own account wins over the key's.
        let mut sink = Findings {
            parsers: Parsers::new(&ParseOptions::default()),
            out: Vec::new(),
        };
        let text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n\
                    2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK\n";
        crate::input::read_stream(
            "s3://b/AWSLogs/111122223333/vpcflowlogs/eu-west-1/2014/12/14/x.log",
            text.as_bytes(),
            &crate::input::InputOptions::default(),
            &mut sink,
        );
        assert_eq!(sink.out.len(), 1);
        assert_eq!(
            (sink.out[0].account.as_deref(), sink.out[0].region.as_deref()),
            (Some("123456789010"), Some("eu-west-1"))
        );
    }

    fn one_line(line: &str) -> Finding {
        let mut sink = Findings {
            parsers: Parsers::new(&ParseOptions::default()),
            out: Vec::new(),
        };
        sink.record(RawRecord {
            text: line,
            origin: Origin::default(),
            source: Some(Source::VpcFlow),
            envelope_time: None,
            aws: AwsContext::default(),
        });
        sink.out.remove(0)
    }

    #[test]
    fn rds_audit_takes_the_subscription_owner_and_the_functions_region() {
        let event = crate::envelope::subscription::subscription_event(
            "111122223333",
            "/aws/rds/instance/orders-db/audit",
            "orders-db",
            "laneguard",
            &[crate::envelope::subscription::LogEventIn {
                timestamp_ms: 1_700_000_000_000,
                message: "1700000000000000,ip-10-0-0-1,app,10.0.0.9,7,12,QUERY,shop,'SELECT 1',0,,",
            }],
        )
        .unwrap_or_default();
        let run = |options: &ParseOptions| {
            let mut sink = Findings {
                parsers: Parsers::new(options),
                out: Vec::new(),
            };
            decode_lambda_event(
                event.as_bytes(),
                &Origin::default(),
                &DocContext::default(),
                &mut sink,
            );
            assert_eq!(sink.out.len(), 1);
            sink.out.remove(0)
        };
        // A replay knows the owner only: no region, so no ARN (it needs both).
        let f = run(&ParseOptions::default());
        assert_eq!(
            (f.account.as_deref(), f.region.as_deref()),
            (Some("111122223333"), None)
        );
        assert_eq!(f.arn, None);
        // In the function, its region completes it; the ARN names an instance (the log group).
        let f = run(&ParseOptions {
            aws: AwsContext {
                account: None,
                region: Some("eu-central-1"),
            },
            ..ParseOptions::default()
        });
        assert_eq!(f.region.as_deref(), Some("eu-central-1"));
        assert_eq!(
            f.arn.as_deref(),
            Some("arn:aws:rds:eu-central-1:111122223333:db:orders-db")
        );
        // Through a Kinesis stream: the payload's owner, the stream's region.
        let data = serde_json::from_str::<serde_json::Value>(&event).unwrap_or_default()["awslogs"]["data"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let kinesis = format!(
            r#"{{"Records":[{{"kinesis":{{"data":"{data}","sequenceNumber":"1"}},"eventID":"shardId-0:1","eventSourceARN":"arn:aws:kinesis:sa-east-1:999988887777:stream/logs"}}]}}"#
        );
        let f = one(&kinesis, &DocContext::default());
        assert_eq!(
            (f.account.as_deref(), f.region.as_deref()),
            (Some("111122223333"), Some("sa-east-1"))
        );
        // A control message's owner is not an account.
        assert_eq!(
            findings(
                r#"{"messageType":"DATA_MESSAGE","owner":"CloudwatchLogs","logGroup":"/aws/rds/cluster/c1/audit","logStream":"s","logEvents":[{"id":"1","timestamp":1700000000000,"message":"1700000000000000,ip-10-0-0-1,app,10.0.0.9,7,12,QUERY,shop,'SELECT 1',0,,"}]}"#,
                &DocContext::default()
            )[0]
            .account,
            None
        );
    }

    #[test]
    fn activity_streams_take_the_kinesis_stream_arn() {
        assert_eq!(
            AwsContext::of_arn("arn:aws:kinesis:ap-south-1:111122223333:stream/aws-rds-das-cluster-X"),
            AwsContext {
                account: Some("111122223333"),
                region: Some("ap-south-1"),
            }
        );
        assert_eq!(AwsContext::of_arn("arn:aws:s3:::bucket"), AwsContext::default());
        assert_eq!(AwsContext::of_arn("not an arn"), AwsContext::default());
        // A decrypted activity document in a Kinesis event: every activity gets the stream's
        // account and region.
        let doc = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../samples/reference/das-aurora-examples.json"
        ))
        .unwrap_or_default();
        let first_doc = {
            let mut de = serde_json::Deserializer::from_str(&doc).into_iter::<serde_json::Value>();
            de.next().and_then(Result::ok).unwrap_or_default().to_string()
        };
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, first_doc.as_bytes());
        let kinesis = format!(
            r#"{{"Records":[{{"kinesis":{{"data":"{b64}","sequenceNumber":"1","approximateArrivalTimestamp":1700000000.0}},"eventID":"shardId-000:1","eventSourceARN":"arn:aws:kinesis:ap-south-1:111122223333:stream/aws-rds-das-cluster-X"}}]}}"#
        );
        let mut sink = Findings {
            parsers: Parsers::new(&ParseOptions {
                keep_rdsadmin: true,
                ..ParseOptions::default()
            }),
            out: Vec::new(),
        };
        decode_document(&kinesis, &Origin::default(), &DocContext::default(), &mut sink);
        assert!(!sink.out.is_empty());
        for f in &sink.out {
            assert_eq!(f.account.as_deref(), Some("111122223333"));
            assert_eq!(f.region.as_deref(), Some("ap-south-1"));
        }
    }

    #[test]
    fn a_window_marks_first_and_last_seen() {
        let e = one_line(
            "2 123456789010 eni-1 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        );
        assert_eq!((e.first_seen, e.last_seen), (None, None));
        let mut f = e.clone();
        let earlier = Timestamp::from_second(e.time.as_second() - 60).unwrap_or(e.time);
        f.set_window(Some(earlier));
        assert_eq!((f.first_seen, f.last_seen), (Some(earlier), Some(e.time)));
        // A store without times: the window is the finding's moment.
        let mut f = e.clone();
        f.set_window(None);
        assert_eq!((f.first_seen, f.last_seen), (Some(e.time), Some(e.time)));
        let json = serde_json::to_string(&f).unwrap_or_default();
        assert!(
            json.contains("\"first_seen\"") && json.contains("\"last_seen\""),
            "{json}"
        );
    }

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
