//! Findings as OCSF Detection Finding (class 2004, category 2 Findings), activity Create: each
//! laneguard finding is a new detection; laneguard does not track a finding's lifecycle, so it
//! never emits Update or Close.

use serde::Serialize;

use super::header::{Header, OcsfClass};
use super::{
    Actor, Api, ApiResponse, ConnectionInfo, DataClassification, Database, Endpoint, Group, Metadata,
    Observable, ObservableValue, Service, User, engine_name, millis, set_host, severity,
};
use crate::event::OriginBuf;
use crate::finding::{Finding, FindingFlow, FindingStatement, SigmaOrigin};

/// A Detection Finding record, borrowing from the [`Finding`] it renders.
#[derive(Debug, Serialize)]
pub struct DetectionFinding<'f> {
    /// Class, category, activity (1 Create), type, severity (from the rule's: info 1 … critical 5).
    #[serde(flatten)]
    pub header: Header<'f>,
    /// 1 New.
    pub status_id: u8,
    /// `New`.
    pub status: &'static str,
    /// Alertable: every finding of severity low or above, unless its rule runs in shadow mode.
    pub is_alert: bool,
    /// The rule title.
    pub message: &'f str,
    /// Event time of the finding, ms since the epoch.
    pub time: i64,
    /// Number of events behind the finding (thresholds), 1 otherwise.
    pub count: u64,
    /// Schema, product; `uid` is the finding id.
    pub metadata: Metadata<'f>,
    /// `{provider: "AWS", region, account}` when the record, its envelope or the function name
    /// either: what Security Lake and SIEMs join findings on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'f>>,
    /// Id, title, rule, ATT&CK techniques.
    pub finding_info: FindingInfo<'f>,
    /// What the finding saw: actor, endpoints, database, API call, flow, normalized statement.
    pub evidences: [Evidence<'f>; 1],
    /// The datastore acted on, with its domain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<Resource<'f>>,
    /// IP, user name and datastore, for SIEM pivoting.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observables: Vec<Observable<'f>>,
    /// Where the raw record is.
    pub unmapped: FindingUnmapped<'f>,
}

/// OCSF `finding_info`.
#[derive(Debug, Serialize)]
pub struct FindingInfo<'f> {
    /// Finding id (deterministic: same record and rule, same id).
    pub uid: &'f str,
    /// Rule title.
    pub title: &'f str,
    /// The rule id: the finding's type, for grouping in the SIEM.
    pub types: [&'f str; 1],
    /// The rule that fired.
    pub analytic: Analytic<'f>,
    /// ATT&CK techniques of the rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attacks: Vec<Attack<'f>>,
    /// The Sigma rule an imported rule came from (its id, title and credit).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_analytics: Vec<Analytic<'f>>,
    /// Sigma metadata of an imported rule: `sigma.author`, `sigma.credit`, `sigma.level`,
    /// `sigma.status`, `sigma.tags`, `sigma.references`, `sigma.falsepositives`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<KeyValue<'f>>,
    /// The log source the finding was raised from.
    pub data_sources: [&'static str; 1],
    /// Threshold findings: the event time of the first event of the window that crossed the
    /// threshold; otherwise `time` (a single-event finding is about one moment).
    pub first_seen_time: i64,
    /// Threshold findings: the event time of the window's last event (`time`); otherwise `time`.
    pub last_seen_time: i64,
    /// A sequence's other events, first first: each record's place (`file:line`, or log
    /// group/stream#event id) as its uid, for the SIEM to fetch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_events: Vec<RelatedEvent>,
    /// How many related events there are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_events_count: Option<usize>,
}

/// OCSF `related_event`: one of a sequence's earlier events.
#[derive(Debug, Serialize)]
pub struct RelatedEvent {
    /// Where the record is, as `evidence.related` names it.
    pub uid: String,
}

/// OCSF `analytic`: the laneguard rule.
#[derive(Debug, Serialize)]
pub struct Analytic<'f> {
    /// Rule id.
    pub uid: &'f str,
    /// Rule title.
    pub name: &'f str,
    /// 1 Rule.
    pub type_id: u8,
    /// `Rule`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `Sigma` for the Sigma rule behind an imported rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
    /// The attribution of a Sigma rule (author; SigmaHQ and its licence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desc: Option<&'f str>,
}

/// OCSF `key_value_object`: one name with a value or a list of values.
#[derive(Debug, Serialize)]
pub struct KeyValue<'f> {
    /// Name (`sigma.author`).
    pub name: &'static str,
    /// A single value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'f str>,
    /// Several values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<&'f [String]>,
}

/// OCSF `attack`: one MITRE ATT&CK technique (`T1537`) or sub-technique (`T1562.008`).
#[derive(Debug, Serialize)]
pub struct Attack<'f> {
    /// The technique (for a sub-technique, its parent).
    pub technique: Technique<'f>,
    /// The sub-technique, when the id names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_technique: Option<Technique<'f>>,
}

/// OCSF `technique` / `sub_technique`.
#[derive(Debug, Serialize)]
pub struct Technique<'f> {
    /// ATT&CK id.
    pub uid: &'f str,
    /// Its page on attack.mitre.org (only for well-formed ids).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_url: Option<String>,
}

/// OCSF `evidences` item.
#[derive(Debug, Serialize)]
pub struct Evidence<'f> {
    /// Who acted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Actor<'f>>,
    /// Source address, host and zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint<'f>>,
    /// Flow destination, or the datastore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'f>>,
    /// The database (SQL findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Database<'f>>,
    /// The API call (CloudTrail findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<Api<'f>>,
    /// Protocol of the flow (flow findings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_info: Option<ConnectionInfo>,
    /// Normalized statement and flow counters: what OCSF evidence has no typed place for.
    #[serde(skip_serializing_if = "EvidenceData::is_empty")]
    pub data: EvidenceData<'f>,
}

/// `evidences[].data`.
#[derive(Debug, Serialize)]
pub struct EvidenceData<'f> {
    /// The statement: class, command, objects, flags, fingerprint, normalized text (never raw).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<&'f FindingStatement>,
    /// The flow: action, bytes, ports, protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<&'f FindingFlow>,
}

impl EvidenceData<'_> {
    fn is_empty(&self) -> bool {
        self.statement.is_none() && self.flow.is_none()
    }
}

/// OCSF `resource_details`: the laneguard datastore, and the AWS resources a CloudTrail record
/// names.
#[derive(Debug, Serialize)]
pub struct Resource<'f> {
    /// The resource's ARN when known (SIEMs join on it), else the datastore's name.
    pub uid: &'f str,
    /// The datastore (instance or cluster id, or policy name); absent for a resource known only
    /// by its ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'f str>,
    /// `laneguard_datastore`, or the type CloudTrail logs (`AWS::KMS::Key`).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'f str>,
    /// 1 Target.
    pub role_id: u8,
    /// `Target`.
    pub role: &'static str,
    /// The datastore's laneguard domain (swim lane).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group<'f>>,
    /// Highest classification of the data touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<DataClassification>,
    /// The AWS partition (`aws`, `aws-cn`, `aws-us-gov`…), from the region; `aws` when unknown.
    pub cloud_partition: &'static str,
    /// The AWS region, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'f str>,
}

/// `unmapped` of a finding.
#[derive(Debug, Serialize)]
pub struct FindingUnmapped<'f> {
    /// Where the raw record is.
    pub origin: &'f OriginBuf,
    /// Where a sequence's other records are (laneguard's `evidence.related`, field by field).
    #[serde(skip_serializing_if = "<[OriginBuf]>::is_empty")]
    pub related: &'f [OriginBuf],
    /// Raised by a rule in shadow mode (counted, never paged; `is_alert` is false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shadow: bool,
}

/// Render a finding as an OCSF Detection Finding (the one mapping `--format ocsf` and the SIEM
/// sink share). The rule's ATT&CK ids ([`Finding::attack`], `T1537`, `T1562.008`) become
/// `finding_info.attacks`; ids not of the `T####[.###]` form pass through as technique uids
/// without a link.
pub fn detection_finding(f: &Finding) -> DetectionFinding<'_> {
    let (severity_id, severity) = severity(f.severity);
    let time = millis(f.time);
    let is_sql = f.source.is_sql();

    let a = &f.actor;
    let user = (a.user.is_some() || a.principal.is_some()).then(|| User {
        name: a.user.as_deref(),
        uid: a.principal.as_deref(),
        ..User::default()
    });
    let actor = user.map(|u| Actor {
        user: Some(u),
        ..Actor::default()
    });
    let mut src = Endpoint {
        ip: a.ip,
        port: f.flow.as_ref().and_then(|fl| fl.src_port),
        zone: f.zone.as_deref(),
        ..Endpoint::default()
    };
    set_host(&mut src, a.host.as_deref());

    let dst = match &f.flow {
        Some(fl) => Endpoint {
            ip: fl.dst_ip,
            port: fl.dst_port,
            name: f.datastore.as_deref(),
            ..Endpoint::default()
        },
        None => Endpoint {
            name: f.datastore.as_deref(),
            ..Endpoint::default()
        },
    };

    let database = is_sql.then(|| Database {
        name: f.database.as_deref(),
        uid: f.datastore.as_deref(),
        type_id: 1,
        kind: engine_name(f.dialect.unwrap_or(f.source.dialect())),
        groups: f.domain.as_deref().map(|d| [Group::domain(d)]),
        data_classification: f.classification.map(DataClassification::of),
    });

    let api = f.api.as_ref().map(|call| Api {
        operation: &call.action,
        service: Service { name: &call.service },
        request: None,
        response: call.error_code.as_deref().map(|error| ApiResponse {
            error,
            error_message: None,
        }),
    });

    let connection_info = f
        .flow
        .as_ref()
        .map(|fl| ConnectionInfo::new(fl.protocol, None, a.ip, None));

    let cloud_partition = f.region.as_deref().map_or("aws", crate::event::partition);
    let mut resources: Vec<Resource<'_>> = f
        .datastore
        .as_deref()
        .map(|ds| Resource {
            uid: f.arn.as_deref().unwrap_or(ds),
            name: Some(ds),
            kind: Some("laneguard_datastore"),
            role_id: 1,
            role: "Target",
            group: f.domain.as_deref().map(Group::domain),
            data_classification: f.classification.map(DataClassification::of),
            cloud_partition,
            region: f.region.as_deref(),
        })
        .into_iter()
        .collect();
    resources.extend(f.resources.iter().map(|r| Resource {
        uid: &r.arn,
        name: None,
        kind: r.kind.as_deref(),
        role_id: 1,
        role: "Target",
        group: None,
        data_classification: None,
        cloud_partition,
        region: f.region.as_deref(),
    }));

    let mut observables = Vec::with_capacity(3);
    if let Some(ip) = a.ip {
        observables.push(Observable {
            name: "evidences[0].src_endpoint.ip",
            type_id: 2,
            kind: "IP Address",
            value: ObservableValue::Ip(ip),
        });
    }
    if let Some(user) = a.user.as_deref() {
        observables.push(Observable {
            name: "evidences[0].actor.user.name",
            type_id: 4,
            kind: "User Name",
            value: ObservableValue::Str(user),
        });
    }
    if let Some(first) = resources.first()
        && f.datastore.is_some()
    {
        observables.push(Observable {
            name: "resources[0].uid",
            type_id: 10,
            kind: "Resource UID",
            value: ObservableValue::Str(first.uid),
        });
    }

    DetectionFinding {
        header: Header::new(
            OcsfClass::DetectionFinding,
            (1, "Create"),
            "Detection Finding: Create",
            (severity_id, severity),
        ),
        status_id: 1,
        status: "New",
        is_alert: severity_id >= 2 && !f.shadow,
        message: &f.title,
        time,
        count: f.count,
        cloud: super::Cloud::aws(f.region.as_deref(), f.account.as_deref()),
        metadata: Metadata {
            version: super::OCSF_VERSION,
            product: super::PRODUCT,
            uid: Some(&f.id),
            log_provider: f.source.as_str(),
            log_name: f
                .evidence
                .origin
                .log_group
                .as_deref()
                .or(f.evidence.origin.file.as_deref()),
        },
        finding_info: FindingInfo {
            uid: &f.id,
            title: &f.title,
            types: [&f.rule_id],
            analytic: Analytic {
                uid: &f.rule_id,
                name: &f.title,
                type_id: 1,
                kind: "Rule",
                category: None,
                desc: None,
            },
            attacks: f.attack.iter().map(|t| attack(t)).collect(),
            related_analytics: f.sigma.as_deref().map(sigma_analytic).into_iter().collect(),
            tags: f.sigma.as_deref().map(sigma_tags).unwrap_or_default(),
            data_sources: [f.source.as_str()],
            first_seen_time: f.first_seen.map_or(time, millis),
            last_seen_time: f.last_seen.map_or(time, millis),
            related_events: f
                .evidence
                .related
                .iter()
                .map(|o| RelatedEvent { uid: o.to_string() })
                .collect(),
            related_events_count: (!f.evidence.related.is_empty()).then_some(f.evidence.related.len()),
        },
        evidences: [Evidence {
            actor,
            src_endpoint: (!src.is_empty()).then_some(src),
            dst_endpoint: (!dst.is_empty()).then_some(dst),
            database,
            api,
            connection_info,
            data: EvidenceData {
                statement: f.statement.as_ref(),
                flow: f.flow.as_ref(),
            },
        }],
        resources,
        observables,
        unmapped: FindingUnmapped {
            origin: &f.evidence.origin,
            related: &f.evidence.related,
            shadow: f.shadow,
        },
    }
}

/// The Sigma rule behind an imported rule, as an OCSF analytic: its id and title, with its
/// attribution as the description.
fn sigma_analytic(s: &SigmaOrigin) -> Analytic<'_> {
    Analytic {
        uid: s.id.as_deref().unwrap_or(&s.title),
        name: &s.title,
        type_id: 1,
        kind: "Rule",
        category: Some("Sigma"),
        desc: Some(&s.credit),
    }
}

/// The Sigma metadata a SIEM shows beside the finding (empty values left out).
fn sigma_tags(s: &SigmaOrigin) -> Vec<KeyValue<'_>> {
    fn one<'s>(name: &'static str, v: Option<&'s str>) -> Option<KeyValue<'s>> {
        v.map(|value| KeyValue {
            name,
            value: Some(value),
            values: None,
        })
    }
    fn many<'s>(name: &'static str, v: &'s [String]) -> Option<KeyValue<'s>> {
        (!v.is_empty()).then_some(KeyValue {
            name,
            value: None,
            values: Some(v),
        })
    }
    [
        one("sigma.author", s.author.as_deref()),
        one("sigma.credit", Some(&s.credit)),
        one("sigma.level", s.level.as_deref()),
        one("sigma.status", s.status.as_deref()),
        many("sigma.tags", &s.tags),
        many("sigma.references", &s.references),
        many("sigma.falsepositives", &s.falsepositives),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// An ATT&CK id as an OCSF attack: `T1562.008` is sub-technique `T1562.008` of technique
/// `T1562`.
fn attack(id: &str) -> Attack<'_> {
    let well_formed = |s: &str| {
        let (tech, sub) = match s.split_once('.') {
            Some((t, sub)) => (t, Some(sub)),
            None => (s, None),
        };
        tech.len() == 5
            && tech.starts_with('T')
            && tech[1..].bytes().all(|b| b.is_ascii_digit())
            && sub.is_none_or(|x| x.len() == 3 && x.bytes().all(|b| b.is_ascii_digit()))
    };
    if !well_formed(id) {
        return Attack {
            technique: Technique {
                uid: id,
                src_url: None,
            },
            sub_technique: None,
        };
    }
    match id.split_once('.') {
        Some((tech, sub)) => Attack {
            technique: Technique {
                uid: tech,
                src_url: Some(format!("https://attack.mitre.org/techniques/{tech}/")),
            },
            sub_technique: Some(Technique {
                uid: id,
                src_url: Some(format!("https://attack.mitre.org/techniques/{tech}/{sub}/")),
            }),
        },
        None => Attack {
            technique: Technique {
                uid: id,
                src_url: Some(format!("https://attack.mitre.org/techniques/{id}/")),
            },
            sub_technique: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_ids_split_into_technique_and_sub_technique() {
        let a = attack("T1562.008");
        assert_eq!(a.technique.uid, "T1562");
        assert_eq!(a.sub_technique.as_ref().map(|s| s.uid), Some("T1562.008"));
        assert_eq!(
            a.sub_technique.and_then(|s| s.src_url).as_deref(),
            Some("https://attack.mitre.org/techniques/T1562/008/")
        );
        let a = attack("T1537");
        assert_eq!((a.technique.uid, a.sub_technique.is_none()), ("T1537", true));
        let a = attack("exfil");
        assert_eq!((a.technique.uid, a.technique.src_url), ("exfil", None));
    }
}
