//! OCSF 1.8.0 rendering of findings and events (DESIGN.md §6), for `--format ocsf` and the SIEM
//! sink.
//!
//! Why it is built this way:
//!
//! - **Typed, borrowed records.** Every OCSF record is a `#[derive(Serialize)]` struct whose
//!   strings borrow from the [`Finding`] or [`Event`] being rendered. Rendering allocates only
//!   for the few values that are not already strings (a fingerprint in hex, a return code), and a
//!   sink serializes straight to its buffer (`serde_json::to_writer(&mut buf, &record)`) with no
//!   intermediate `serde_json::Value` tree: the SIEM event stream runs on the Lambda hot path,
//!   once per log record. The types also make a misspelt attribute or a string where OCSF wants
//!   an integer a compile error instead of a schema failure in production. Callers that want a
//!   `Value` call `serde_json::to_value(&record)`.
//! - **Enums are constants here, not lookups.** Class, category, activity, type, severity and
//!   status ids are written from `match`es on laneguard's own enums; no schema is read at run time
//!   and no regex runs. The integration tests (`tests/it/ocsf.rs`) validate every record built
//!   from every reference sample against the OCSF 1.8.0 JSON Schemas vendored in
//!   `tests/fixtures/ocsf/`, so a mapping that drifts from the schema fails CI.
//! - **No literal leaves the process.** Statement events carry only the normalized statement of
//!   the SQL analysis (`query_info.query_string`); `Statement::text`, `Statement::parameter` and
//!   the engine's error message (PostgreSQL errors quote values) are never read here.
//! - **One mapping, documented once.** `docs/OCSF.md` lists every attribute written and where it
//!   comes from; the enum values chosen (e.g. `DROP TABLE` → Datastore Activity *Delete*) are
//!   decided in the `*_activity` functions below and nowhere else.
//!
//! Layout: this module holds the public API and the OCSF objects shared by every class;
//! [`finding`] renders Detection Finding (2004); [`activity`] renders Datastore Activity (6005),
//! API Activity (6003) and Network Activity (4001).

pub mod activity;
pub mod api;
pub mod datastore;
pub mod finding;
pub mod header;
pub mod lake;
pub mod network;

use std::net::IpAddr;

use serde::Serialize;
use serde::ser::Serializer;

pub use activity::{EventRecord, event_record};
pub use api::ApiActivity;
pub use datastore::DatastoreActivity;
pub use finding::{DetectionFinding, detection_finding};
pub use header::{Header, OcsfClass};
pub use network::NetworkActivity;

#[cfg(doc)]
use crate::{event::Event, finding::Finding};

/// The OCSF schema version every record declares in `metadata.version`; the vendored test
/// schemas are of this version, so changing it means re-vendoring them.
pub const OCSF_VERSION: &str = "1.8.0";

/// `metadata.product` of every record: SIEMs route and deduplicate on the producing product.
pub const PRODUCT: Product = Product {
    name: "laneguard",
    vendor_name: "laneguard",
    version: env!("CARGO_PKG_VERSION"),
};

/// OCSF `product`: who produced the record (always laneguard, at the version that ran).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Product {
    /// Product name.
    pub name: &'static str,
    /// Vendor name.
    pub vendor_name: &'static str,
    /// laneguard's crate version.
    pub version: &'static str,
}

/// OCSF `metadata`: schema version, product, and where the underlying log record came from, so
/// an analyst can go from the SIEM back to the raw record.
#[derive(Debug, Serialize)]
pub struct Metadata<'a> {
    /// OCSF schema version ([`OCSF_VERSION`]).
    pub version: &'static str,
    /// laneguard ([`PRODUCT`]).
    pub product: Product,
    /// Unique id of this record: the finding id, or the source's own event id when it has one
    /// (CloudTrail `eventID`, CloudWatch Logs event id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// laneguard log source (`cloudtrail`, `mysql-audit`, `pgaudit`, `vpc-flow`).
    pub log_provider: &'static str,
    /// CloudWatch Logs log group or replayed file the record was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_name: Option<&'a str>,
}

/// OCSF `actor`: the identity that acted and its session.
#[derive(Debug, Default, Serialize)]
pub struct Actor<'a> {
    /// The user or IAM identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<User<'a>>,
    /// The database connection or IAM session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Session<'a>>,
    /// Client application (PostgreSQL `application_name`, MySQL program name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_name: Option<&'a str>,
}

/// OCSF `user`: database user or IAM identity.
#[derive(Debug, Default, Serialize)]
pub struct User<'a> {
    /// Database user, or IAM user / role session name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// IAM principal ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// IAM identity type (`IAMUser`, `AssumedRole`, `Root`…).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'a str>,
    /// AWS account that owns the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account<'a>>,
    /// Access key id used (`AKIA…`, `ASIA…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential_uid: Option<&'a str>,
}

/// OCSF `account`, always an AWS account here (`type_id` 10).
#[derive(Debug, Serialize)]
pub struct Account<'a> {
    /// Twelve-digit account id.
    pub uid: &'a str,
    /// 10: AWS Account.
    pub type_id: u8,
    /// `AWS Account`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> Account<'a> {
    /// An AWS account.
    pub fn aws(uid: &'a str) -> Self {
        Account {
            uid,
            type_id: 10,
            kind: "AWS Account",
        }
    }
}

/// OCSF `session`: database connection id, or the IAM session behind assumed-role credentials.
#[derive(Debug, Default, Serialize)]
pub struct Session<'a> {
    /// Connection, session or backend-process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// ARN of the role or user that issued the session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<&'a str>,
    /// Whether the session was MFA-authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_mfa: Option<bool>,
}

/// OCSF `network_endpoint`: source or destination of an activity.
#[derive(Debug, Default, Serialize)]
pub struct Endpoint<'a> {
    /// IP address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Host name as logged (`localhost`, a server name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<&'a str>,
    /// AWS service acting as the endpoint (`rds.amazonaws.com`, flow-log `pkt-src-aws-service`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub svc_name: Option<&'a str>,
    /// Short name: the laneguard datastore, on the destination of datastore activity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// laneguard security zone of the address (policy `[[zones]]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<&'a str>,
    /// VPC endpoint id a CloudTrail call went through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// Network interface (`eni-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_uid: Option<&'a str>,
    /// VPC id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_uid: Option<&'a str>,
    /// Subnet id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet_uid: Option<&'a str>,
    /// EC2 instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_uid: Option<&'a str>,
    /// Original packet address when it differs from `ip` (NAT gateway, transit gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intermediate_ips: Option<[IpAddr; 1]>,
}

impl Endpoint<'_> {
    fn is_empty(&self) -> bool {
        self.ip.is_none()
            && self.port.is_none()
            && self.hostname.is_none()
            && self.svc_name.is_none()
            && self.name.is_none()
            && self.zone.is_none()
            && self.uid.is_none()
            && self.interface_uid.is_none()
            && self.vpc_uid.is_none()
            && self.subnet_uid.is_none()
            && self.instance_uid.is_none()
            && self.intermediate_ips.is_none()
    }
}

/// Put a logged non-IP host where OCSF wants it: an AWS service principal
/// (`rds.amazonaws.com`, as CloudTrail writes `sourceIPAddress` for service calls) is a
/// `svc_name`, anything else (`localhost`, `[local]`) a `hostname`.
fn set_host<'a>(ep: &mut Endpoint<'a>, host: Option<&'a str>) {
    if let Some(h) = host {
        if h.ends_with(".amazonaws.com") {
            ep.svc_name = Some(h);
        } else {
            ep.hostname = Some(h);
        }
    }
}

/// OCSF `group`, used for the laneguard domain (swim lane) of a datastore.
#[derive(Debug, Serialize)]
pub struct Group<'a> {
    /// Domain name as the policy spells it.
    pub name: &'a str,
    /// Always `laneguard_domain`, so SIEM queries can tell these groups from others.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl<'a> Group<'a> {
    /// The laneguard domain (swim lane) `name`.
    pub fn domain(name: &'a str) -> Self {
        Group {
            name,
            kind: "laneguard_domain",
        }
    }
}

/// OCSF `database`: the database acted on (relational, MySQL family or PostgreSQL).
#[derive(Debug, Serialize)]
pub struct Database<'a> {
    /// Database (MySQL schema, PostgreSQL database) name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// The laneguard datastore (RDS instance or cluster) hosting it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<&'a str>,
    /// 1: Relational.
    pub type_id: u8,
    /// Engine family: `MySQL`, `PostgreSQL`, or `Other` (RDS for Oracle / SQL Server activity
    /// streams).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The laneguard domain of the datastore or objects touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<[Group<'a>; 1]>,
    /// Highest classification of the objects touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_classification: Option<DataClassification>,
}

/// OCSF `data_classification`, from the policy's classification levels.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct DataClassification {
    /// 1 Not Confidential (public), 2 Confidential, 6 Restricted, 99 Other (internal).
    pub confidentiality_id: u8,
    /// laneguard's level name (`public`, `internal`, `confidential`, `restricted`).
    pub confidentiality: &'static str,
}

impl DataClassification {
    /// The OCSF confidentiality of a laneguard classification level.
    pub fn of(c: crate::event::Classification) -> Self {
        use crate::event::Classification as C;
        let confidentiality_id = match c {
            C::Public => 1,
            C::Internal => 99,
            C::Confidential => 2,
            C::Restricted => 6,
        };
        DataClassification {
            confidentiality_id,
            confidentiality: c.as_str(),
        }
    }
}

/// The engine family name written in `database.type`.
fn engine_name(dialect: crate::sql::Dialect) -> &'static str {
    match dialect {
        crate::sql::Dialect::Postgres => "PostgreSQL",
        crate::sql::Dialect::Mysql => "MySQL",
        crate::sql::Dialect::Generic => "Other",
    }
}

/// OCSF `api`: the AWS API call.
#[derive(Debug, Serialize)]
pub struct Api<'a> {
    /// API action (`ModifyDBSnapshotAttribute`).
    pub operation: &'a str,
    /// Service endpoint.
    pub service: Service<'a>,
    /// CloudTrail event id and request parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<ApiRequest<'a>>,
    /// Error of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ApiResponse<'a>>,
}

/// OCSF `service`.
#[derive(Debug, Serialize)]
pub struct Service<'a> {
    /// Service endpoint (`rds.amazonaws.com`).
    pub name: &'a str,
}

/// OCSF `request` of an API call (`uid` is required by OCSF, so it exists only with an event id).
#[derive(Debug, Serialize)]
pub struct ApiRequest<'a> {
    /// CloudTrail `eventID`.
    pub uid: &'a str,
    /// `requestParameters`, as logged, on one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<CompactJson<'a>>,
}

/// OCSF `response` of a failed API call.
#[derive(Debug, Serialize)]
pub struct ApiResponse<'a> {
    /// Error code (`AccessDenied`).
    pub error: &'a str,
    /// Error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<&'a str>,
}

pub use crate::event::CompactJson;

/// OCSF `cloud`: AWS, with the region and account that received the call or own the interface.
#[derive(Debug, Serialize)]
pub struct Cloud<'a> {
    /// Always `AWS`.
    pub provider: &'static str,
    /// AWS region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    /// AWS account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Account<'a>>,
}

impl<'a> Cloud<'a> {
    /// `cloud` when the log names a region or an account; `None` otherwise (a self-managed
    /// database replayed from a file has no AWS context to claim).
    fn aws(region: Option<&'a str>, account: Option<&'a str>) -> Option<Self> {
        (region.is_some() || account.is_some()).then(|| Cloud {
            provider: "AWS",
            region,
            account: account.map(Account::aws),
        })
    }
}

/// OCSF `network_connection_info` of a flow.
#[derive(Debug, Serialize)]
pub struct ConnectionInfo {
    /// 0 Unknown, 1 Inbound (`ingress`), 2 Outbound (`egress`).
    pub direction_id: u8,
    /// Caption of `direction_id`.
    pub direction: &'static str,
    /// IANA protocol number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_num: Option<u8>,
    /// Lower-case protocol name for the common protocols.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_name: Option<&'static str>,
    /// 4 or 6, from the source address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_ver_id: Option<u8>,
    /// OR of the TCP flags seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u16>,
}

impl ConnectionInfo {
    fn new(
        protocol: Option<u8>,
        direction: Option<&str>,
        src: Option<IpAddr>,
        tcp_flags: Option<u16>,
    ) -> Self {
        let (direction_id, direction) = match direction {
            Some("ingress") => (1, "Inbound"),
            Some("egress") => (2, "Outbound"),
            _ => (0, "Unknown"),
        };
        ConnectionInfo {
            direction_id,
            direction,
            protocol_num: protocol,
            protocol_name: protocol.and_then(protocol_name),
            protocol_ver_id: src.map(|ip| if ip.is_ipv4() { 4 } else { 6 }),
            tcp_flags,
        }
    }
}

fn protocol_name(n: u8) -> Option<&'static str> {
    Some(match n {
        1 => "icmp",
        6 => "tcp",
        17 => "udp",
        47 => "gre",
        50 => "esp",
        58 => "ipv6-icmp",
        132 => "sctp",
        _ => return None,
    })
}

/// OCSF severity id and caption: info 1 Informational … critical 5 Critical.
pub fn severity(s: crate::finding::Severity) -> (u8, &'static str) {
    use crate::finding::Severity as S;
    match s {
        S::Info => (1, "Informational"),
        S::Low => (2, "Low"),
        S::Medium => (3, "Medium"),
        S::High => (4, "High"),
        S::Critical => (5, "Critical"),
    }
}

/// Milliseconds since the epoch, as OCSF `timestamp_t` wants.
fn millis(t: jiff::Timestamp) -> i64 {
    t.as_millisecond()
}

/// OCSF `observable`: values a SIEM indexes for pivoting (IP, user name, resource id).
#[derive(Debug, Serialize)]
pub struct Observable<'a> {
    /// Path of the attribute inside the record.
    pub name: &'static str,
    /// 2 IP Address, 4 User Name, 10 Resource UID, 1 Hostname.
    pub type_id: u8,
    /// Caption of `type_id`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The value.
    pub value: ObservableValue<'a>,
}

/// An observable's value: a borrowed string or an IP address (both serialize as strings).
#[derive(Debug)]
pub enum ObservableValue<'a> {
    /// A string value.
    Str(&'a str),
    /// An address.
    Ip(IpAddr),
}

impl Serialize for ObservableValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ObservableValue::Str(v) => s.serialize_str(v),
            ObservableValue::Ip(ip) => s.collect_str(ip),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_json_is_one_line_and_keeps_strings() {
        let raw = serde_json::value::RawValue::from_string(
            "{\n  \"a b\": [1,\n 2],\n \"c\": \"x\\\" y\"\n}".into(),
        )
        .unwrap();
        let out = serde_json::to_string(&CompactJson(&raw)).unwrap();
        assert_eq!(out, r#"{"a b":[1,2],"c":"x\" y"}"#);
    }

    #[test]
    fn hosts_split_into_services_and_hostnames() {
        let mut ep = Endpoint::default();
        set_host(&mut ep, Some("rds.amazonaws.com"));
        assert_eq!((ep.svc_name, ep.hostname), (Some("rds.amazonaws.com"), None));
        let mut ep = Endpoint::default();
        set_host(&mut ep, Some("localhost"));
        assert_eq!((ep.svc_name, ep.hostname), (None, Some("localhost")));
    }
}
