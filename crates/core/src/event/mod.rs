//! The one event model every source parses into (DESIGN.md §3).
//!
//! Events borrow from the batch buffer they were parsed from (`Cow<'a, str>`): a field is copied
//! only when the log format forces an unescape. An event lives for one trip through the
//! pipeline; whatever must outlive the batch (findings, diagnostics) is owned.
//!
//! Serialization is hand-written where it must not leak: the raw SQL text and bind parameters of
//! a statement are written only when the operator opted in ([`EventJson::raw`]); otherwise an
//! event shows the normalized statement (literals replaced by `?`) of its SQL analysis.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

mod json;

pub use json::{CompactJson, EventJson};

use crate::sql::{Analysis, Dialect, Flags, StatementClass};

pub use jiff::Timestamp;

/// The log source of an event; decides the parser and the SQL dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// AWS CloudTrail records (control plane).
    #[serde(rename = "cloudtrail")]
    CloudTrail,
    /// MariaDB server_audit, RDS MySQL audit plugin, Aurora MySQL advanced auditing.
    #[serde(rename = "mysql-audit")]
    MysqlAudit,
    /// PostgreSQL log lines (RDS prefix) with pgaudit `AUDIT:` entries.
    #[serde(rename = "pgaudit")]
    Pgaudit,
    /// VPC flow logs, default and custom formats.
    #[serde(rename = "vpc-flow")]
    VpcFlow,
    /// Aurora and RDS Database Activity Streams: decrypted activity records (Aurora PostgreSQL,
    /// Aurora MySQL, RDS instance streams); the engine of each event is its [`Event::dialect`].
    #[serde(rename = "das")]
    Das,
}

impl Source {
    /// All sources, in a stable order (for summaries and documentation).
    pub const ALL: [Source; 5] = [
        Source::CloudTrail,
        Source::MysqlAudit,
        Source::Pgaudit,
        Source::VpcFlow,
        Source::Das,
    ];

    /// The name used on the command line, in rule files and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CloudTrail => "cloudtrail",
            Source::MysqlAudit => "mysql-audit",
            Source::Pgaudit => "pgaudit",
            Source::VpcFlow => "vpc-flow",
            Source::Das => "das",
        }
    }

    /// Position in [`Source::ALL`] (per-source tables index by it).
    pub fn index(self) -> usize {
        match self {
            Source::CloudTrail => 0,
            Source::MysqlAudit => 1,
            Source::Pgaudit => 2,
            Source::VpcFlow => 3,
            Source::Das => 4,
        }
    }

    /// The SQL dialect of the source's statements. Database Activity Streams serve both
    /// engines: their events carry the dialect of the record's `serverType` instead (the
    /// default here, `Generic`, is what an unknown server type gets).
    pub fn dialect(self) -> Dialect {
        match self {
            Source::MysqlAudit => Dialect::Mysql,
            Source::Pgaudit => Dialect::Postgres,
            Source::CloudTrail | Source::VpcFlow | Source::Das => Dialect::Generic,
        }
    }

    /// True for the sources whose events are database activity (statements, logins).
    pub fn is_sql(self) -> bool {
        matches!(self, Source::MysqlAudit | Source::Pgaudit | Source::Das)
    }

    /// Parse a source name as written on the command line or in a rule.
    pub fn from_name(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record came from: always enough to find the raw record again.
///
/// For replayed files: the file and the 1-based line of the record's first line (and, inside a
/// JSON document holding many records, the record's index). For CloudWatch Logs: log group,
/// log stream and event id. A CloudWatch event read from a file carries both.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Origin<'a> {
    /// File the record was read from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<&'a str>,
    /// 1-based line of the record's first line in `file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// CloudWatch Logs log group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group: Option<&'a str>,
    /// CloudWatch Logs log stream.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_stream: Option<&'a str>,
    /// CloudWatch Logs event id (a 56-digit decimal string), or a Kinesis/Firehose record id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<&'a str>,
    /// 0-based index of the record inside its container (a `Records` array, a log-event list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

impl Origin<'_> {
    /// An owned copy, for diagnostics and findings that outlive the batch.
    pub fn to_owned_origin(&self) -> OriginBuf {
        OriginBuf {
            file: self.file.map(Into::into),
            line: self.line,
            log_group: self.log_group.map(Into::into),
            log_stream: self.log_stream.map(Into::into),
            event_id: self.event_id.map(Into::into),
            index: self.index,
        }
    }
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.to_owned_origin().fmt(f)
    }
}

/// Owned [`Origin`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
pub struct OriginBuf {
    /// File the record was read from.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<Box<str>>,
    /// 1-based line of the record's first line in `file`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    /// CloudWatch Logs log group.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_group: Option<Box<str>>,
    /// CloudWatch Logs log stream.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_stream: Option<Box<str>>,
    /// CloudWatch Logs event id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub event_id: Option<Box<str>>,
    /// Index of the record inside its container.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub index: Option<u32>,
}

impl fmt::Display for OriginBuf {
    /// `file:line` and/or `log group/log stream#event id`, as an operator would search for it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
            sep = " ";
        }
        if let Some(group) = &self.log_group {
            write!(f, "{sep}{group}")?;
            if let Some(stream) = &self.log_stream {
                write!(f, "/{stream}")?;
            }
            sep = " ";
        }
        if let Some(id) = &self.event_id {
            write!(f, "{sep}event {id}")?;
            sep = " ";
        }
        if let Some(index) = self.index {
            write!(f, "{sep}record #{index}")?;
            sep = " ";
        }
        if sep.is_empty() {
            f.write_str("<unknown origin>")?;
        }
        Ok(())
    }
}

/// Who acted: a database user or an IAM principal, and from where.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Actor<'a> {
    /// Database user, or the IAM user/role session name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Cow<'a, str>>,
    /// IAM principal ARN (CloudTrail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Cow<'a, str>>,
    /// IAM identity type (`IAMUser`, `AssumedRole`, `Root`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_type: Option<Cow<'a, str>>,
    /// ARN of the role or user that issued the session (assumed roles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_issuer: Option<Cow<'a, str>>,
    /// Account that owns the principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Cow<'a, str>>,
    /// Access key id used (`AKIA…` long-term, `ASIA…` temporary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Cow<'a, str>>,
    /// `mfaAuthenticated`, as the string CloudTrail writes (`"true"`/`"false"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<Cow<'a, str>>,
    /// Source IP address, when the log gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Source host as logged when it is not an IP (`localhost`, `[local]`, an AWS service name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<Cow<'a, str>>,
    /// Source port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Connection, session or backend-process id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<Cow<'a, str>>,
    /// Client user agent or application name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Cow<'a, str>>,
}

/// What was acted on: a datastore, database and network endpoint.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Target<'a> {
    /// Datastore (instance or cluster id), from the log group or the log line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore: Option<Cow<'a, str>>,
    /// Server host name as logged (`serverhost` of the MySQL audit plugin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<Cow<'a, str>>,
    /// Database (MySQL schema, PostgreSQL database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<Cow<'a, str>>,
    /// Destination IP address (flow logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// Destination port (flow logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// AWS account that received the call or owns the interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<Cow<'a, str>>,
    /// AWS region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<Cow<'a, str>>,
}

/// A SQL statement as the audit engine logged it.
#[derive(Clone, Debug, Default)]
pub struct Statement<'a> {
    /// The statement text as sent (unescaped). Not serialized unless the operator opts in.
    pub text: Option<Cow<'a, str>>,
    /// The audit engine's own class (pgaudit `READ`/`WRITE`/`DDL`…, MySQL operation `QUERY`).
    pub engine_class: Option<Cow<'a, str>>,
    /// The audit engine's command tag (pgaudit `CREATE TABLE`), when it gives one.
    pub engine_command: Option<Cow<'a, str>>,
    /// pgaudit audit type: `SESSION` or `OBJECT`.
    pub audit_type: Option<Cow<'a, str>>,
    /// Object type named by the audit engine (pgaudit `TABLE`, `VIEW`…).
    pub object_type: Option<Cow<'a, str>>,
    /// Object named by the audit engine (pgaudit `public.account`).
    pub object_name: Option<Cow<'a, str>>,
    /// Statement id (MySQL query id, pgaudit statement id).
    pub statement_id: Option<u64>,
    /// pgaudit sub-statement id.
    pub substatement_id: Option<u64>,
    /// Bind parameters as logged (pgaudit). Not serialized unless the operator opts in.
    pub parameter: Option<Cow<'a, str>>,
    /// Rows affected or returned (pgaudit `log_rows`).
    pub rows: Option<u64>,
    /// Engine return code (MySQL error number; 0 = success).
    pub return_code: Option<i64>,
    /// The engine's result code as the log wrote it, when it is not only a MySQL error number:
    /// Database Activity Streams `exitCode` (Aurora MySQL error number, Aurora PostgreSQL
    /// SQLSTATE such as `42601`).
    pub exit_code: Option<Cow<'a, str>>,
    /// Error message when the engine refused the statement (PostgreSQL `ERROR:` line, Database
    /// Activity Streams `errorMessage`). May quote literals: written only with `--show-literals`.
    pub error: Option<Cow<'a, str>>,
    /// False when the engine reports a failure.
    pub succeeded: bool,
    /// The audit engine cut the text (MySQL `server_audit_query_log_limit`).
    pub truncated: bool,
}

/// A login, logout or failed login.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Session<'a> {
    /// Engine return code (MySQL error number; 0 = success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_code: Option<i64>,
    /// Reason or detail as logged (PostgreSQL `FATAL` text, MySQL `PROXY_CONNECT` target, TLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Cow<'a, str>>,
    /// Connection type (RDS MySQL `TCP/IP`, `SOCKET`, `SSL`…), or the engine operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<Cow<'a, str>>,
    /// Engine operation as logged (`CONNECT`, `CHANGEUSER`, `PROXY_CONNECT`, `connection authorized`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Cow<'a, str>>,
}

/// Table-level access reported by the audit engine itself (MariaDB/Aurora `TABLE` events).
#[derive(Clone, Debug, Default, Serialize)]
pub struct ObjectAccess<'a> {
    /// `READ`, `WRITE`, `CREATE`, `ALTER`, `DROP` or `RENAME`.
    pub operation: Cow<'a, str>,
    /// The object, qualified with its database when the log names one (`shop.users`).
    pub object: Cow<'a, str>,
    /// Query id shared with the `QUERY` record of the same statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<u64>,
}

/// An AWS API call recorded by CloudTrail.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApiCall<'a> {
    /// Service endpoint (`rds.amazonaws.com`).
    pub service: Cow<'a, str>,
    /// API action (`ModifyDBSnapshotAttribute`).
    pub action: Cow<'a, str>,
    /// Error code when the call failed (`AccessDenied`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<Cow<'a, str>>,
    /// Error message when the call failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<Cow<'a, str>>,
    /// `readOnly` as recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// `eventType` (`AwsApiCall`, `AwsConsoleSignIn`, `AwsVpceEvent`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<Cow<'a, str>>,
    /// `eventCategory` (`Management`, `Data`, `NetworkActivity`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_category: Option<Cow<'a, str>>,
    /// `eventID`: CloudTrail's unique id of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<Cow<'a, str>>,
    /// Request parameters, kept as the JSON they were (rules read paths lazily).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "json::compact_json"
    )]
    pub request: Option<&'a serde_json::value::RawValue>,
    /// Response elements, kept as JSON.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "json::compact_json"
    )]
    pub response: Option<&'a serde_json::value::RawValue>,
    /// Additional event data (e.g. `MFAUsed` of a console login), kept as JSON.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "json::compact_json"
    )]
    pub additional: Option<&'a serde_json::value::RawValue>,
    /// VPC endpoint the call went through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint: Option<Cow<'a, str>>,
    /// The whole record as read, for rule paths into any field of it (`record.…`: imported Sigma
    /// rules name CloudTrail fields the event model does not keep). Never serialized.
    #[serde(skip)]
    pub raw: &'a str,
    /// The AWS resources the record names (`resources[]`: ARN and type), at most
    /// [`MAX_API_RESOURCES`]: findings carry them so a SIEM joins on ARNs, not short names.
    /// Not in `--events` output.
    #[serde(skip)]
    pub resources: Vec<ApiResource<'a>>,
    /// Which request parameter named the datastore (`dBInstanceIdentifier`…): the ARN of a
    /// datastore the record's `resources` do not list is built from it.
    #[serde(skip)]
    pub datastore_kind: Option<DatastoreKind>,
}

/// Most CloudTrail `resources` an event keeps (a batch call can list hundreds).
pub const MAX_API_RESOURCES: usize = 16;

/// One item of a CloudTrail record's `resources`.
#[derive(Clone, Debug)]
pub struct ApiResource<'a> {
    /// The ARN.
    pub arn: Cow<'a, str>,
    /// CloudFormation-style type (`AWS::KMS::Key`), when logged.
    pub kind: Option<Cow<'a, str>>,
}

/// The kind of AWS datastore an id names: what its ARN is built from when no log gives the
/// ARN itself (`arn:aws:rds:<region>:<account>:db:<id>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatastoreKind {
    /// An RDS DB instance (`/aws/rds/instance/<id>/…`, `dBInstanceIdentifier`).
    RdsInstance,
    /// An RDS / Aurora DB cluster (`/aws/rds/cluster/<id>/…`, `dBClusterIdentifier`).
    RdsCluster,
    /// A Redshift cluster (`clusterIdentifier`).
    RedshiftCluster,
    /// A DynamoDB table (`tableName`).
    DynamodbTable,
}

impl DatastoreKind {
    /// The ARN of datastore `id` of this kind in `account` and `region` (the partition follows
    /// the region: `cn-…` is `aws-cn`, `us-gov-…` is `aws-us-gov`).
    pub fn arn(self, id: &str, account: &str, region: &str) -> String {
        let p = partition(region);
        match self {
            DatastoreKind::RdsInstance => format!("arn:{p}:rds:{region}:{account}:db:{id}"),
            DatastoreKind::RdsCluster => format!("arn:{p}:rds:{region}:{account}:cluster:{id}"),
            DatastoreKind::RedshiftCluster => format!("arn:{p}:redshift:{region}:{account}:cluster:{id}"),
            DatastoreKind::DynamodbTable => format!("arn:{p}:dynamodb:{region}:{account}:table/{id}"),
        }
    }
}

/// The AWS partition of a region: OCSF's `cloud_partition` and an ARN's second field.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// A VPC flow log record.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Flow<'a> {
    /// Network interface (`eni-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Cow<'a, str>>,
    /// IANA protocol number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    /// Packets in the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// Bytes in the interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `ACCEPT` or `REJECT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Cow<'a, str>>,
    /// `OK`, `NODATA` or `SKIPDATA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_status: Option<Cow<'a, str>>,
    /// `ingress` or `egress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<Cow<'a, str>>,
    /// OR of the TCP flags seen (SYN 2, FIN 1, RST 4, SYN-ACK 18).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u16>,
    /// Start of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<Timestamp>,
    /// End of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<Timestamp>,
    /// VPC id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<Cow<'a, str>>,
    /// Subnet id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Cow<'a, str>>,
    /// Instance id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<Cow<'a, str>>,
    /// Original packet source address (through NAT, TGW).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_src: Option<IpAddr>,
    /// Original packet destination address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_dst: Option<IpAddr>,
    /// AWS service of the packet source (`S3`, `AMAZON`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_src_service: Option<Cow<'a, str>>,
    /// AWS service of the packet destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_dst_service: Option<Cow<'a, str>>,
    /// Path egress traffic took (1 same VPC … 8 internet gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_path: Option<u8>,
    /// Why the traffic was rejected (`BPA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject_reason: Option<Cow<'a, str>>,
    /// Flow-log format version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
}

/// What happened.
#[derive(Clone, Debug)]
pub enum Kind<'a> {
    /// A SQL statement.
    Statement(Statement<'a>),
    /// A successful login.
    Connect(Session<'a>),
    /// A logout.
    Disconnect(Session<'a>),
    /// A failed login.
    FailedConnect(Session<'a>),
    /// Table-level access reported by the audit engine.
    ObjectAccess(ObjectAccess<'a>),
    /// An AWS API call.
    ApiCall(ApiCall<'a>),
    /// A network flow.
    Flow(Flow<'a>),
}

impl Kind<'_> {
    /// The kind's name, as in JSON (`statement`, `connect`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Statement(_) => "statement",
            Kind::Connect(_) => "connect",
            Kind::Disconnect(_) => "disconnect",
            Kind::FailedConnect(_) => "failed_connect",
            Kind::ObjectAccess(_) => "object_access",
            Kind::ApiCall(_) => "api_call",
            Kind::Flow(_) => "flow",
        }
    }
}

/// The SQL analysis attached to a statement event: the shared, cached analysis of its shape plus
/// what depends on this event (objects qualified with its database, event-level flags).
#[derive(Clone, Debug)]
pub struct SqlView {
    /// Cached analysis of the statement shape.
    pub analysis: Arc<Analysis>,
    /// Objects qualified with the event's database and default schema.
    pub objects: Vec<String>,
    /// Analysis flags plus flags that depend on the record (e.g. `truncated`).
    pub flags: Flags,
}

impl SqlView {
    /// The statement class.
    pub fn class(&self) -> StatementClass {
        self.analysis.class
    }
}

impl Serialize for SqlView {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = &self.analysis;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("class", &a.class)?;
        m.serialize_entry("command", &a.command)?;
        m.serialize_entry("objects", &self.objects)?;
        m.serialize_entry("flags", &self.flags)?;
        m.serialize_entry("fingerprint", &format_args!("{:016x}", a.fingerprint).to_string())?;
        m.serialize_entry("normalized", &a.normalized)?;
        m.end()
    }
}

/// One log record, normalized.
#[derive(Clone, Debug)]
pub struct Event<'a> {
    /// Event time (UTC).
    pub time: Timestamp,
    /// Log source.
    pub source: Source,
    /// Where the raw record is.
    pub origin: Origin<'a>,
    /// Who acted.
    pub actor: Actor<'a>,
    /// What was acted on.
    pub target: Target<'a>,
    /// What happened.
    pub kind: Kind<'a>,
    /// SQL analysis, for statements.
    pub sql: Option<SqlView>,
    /// Policy enrichment: zone, datastore, domain, classification.
    pub enrichment: Enrichment,
    /// The SQL dialect of the engine that logged the event: the source's own
    /// ([`Source::dialect`]), or, for a source serving several engines (Database Activity
    /// Streams), the record's.
    pub dialect: Dialect,
}

/// Data classification levels, ordered: `public < internal < confidential < restricted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Classification {
    /// May be published.
    Public,
    /// Internal; the default for objects no pattern names.
    Internal,
    /// Confidential (PII, business secrets).
    Confidential,
    /// Restricted (card data, credentials, raw regulated data).
    Restricted,
}

impl Classification {
    /// All levels, lowest first.
    pub const ALL: [Classification; 4] = [
        Classification::Public,
        Classification::Internal,
        Classification::Confidential,
        Classification::Restricted,
    ];

    /// The name used in policy files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Classification::Public => "public",
            Classification::Internal => "internal",
            Classification::Confidential => "confidential",
            Classification::Restricted => "restricted",
        }
    }

    /// Parse a level name.
    pub fn from_name(name: &str) -> Option<Classification> {
        Classification::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// What a zone is for (docs/POLICY.md, "Zone roles"). Rules match roles, never zone names, so
/// the default pack works with any policy that says which of its zones plays which role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneRole {
    /// Administrators and automation: DDL, DCL, control-plane changes are expected here.
    Management,
    /// An application's subnets: DML and queries of its own swim lane.
    Application,
    /// The database subnets: replication, ETL inside the zone.
    Data,
    /// Outside the estate (the internet): must not reach a database.
    External,
    /// Connections on the database host itself (local sockets, `localhost`).
    DatabaseHost,
    /// AWS services acting for a principal (CloudTrail `sourceIPAddress` such as
    /// `cloudformation.amazonaws.com`).
    AwsService,
}

impl ZoneRole {
    /// All roles, in documentation order.
    pub const ALL: [ZoneRole; 6] = [
        ZoneRole::Management,
        ZoneRole::Application,
        ZoneRole::Data,
        ZoneRole::External,
        ZoneRole::DatabaseHost,
        ZoneRole::AwsService,
    ];

    /// The name used in policy files, rules and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneRole::Management => "management",
            ZoneRole::Application => "application",
            ZoneRole::Data => "data",
            ZoneRole::External => "external",
            ZoneRole::DatabaseHost => "database-host",
            ZoneRole::AwsService => "aws-service",
        }
    }

    /// Parse a role name.
    pub fn from_name(name: &str) -> Option<ZoneRole> {
        ZoneRole::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// What an application statement is expected to be (docs/POLICY.md, `[[applications]]`): the
/// policy found it to be ordinary traffic of the application in the actor's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expected {
    /// Driver or ORM chatter: version and setting probes at connect (built in, or the
    /// application's `expected` statements).
    Chatter,
    /// Introspection of the application's own schema (its tables, columns, indexes), scoped to
    /// the session's database or the application's `databases`.
    Introspection,
}

impl Expected {
    /// The name rules match (`application.expected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Expected::Chatter => "chatter",
            Expected::Introspection => "introspection",
        }
    }
}

/// What the policy says about an event (DESIGN.md §3, "after enrichment"). Shared strings are
/// `Arc<str>` owned by the loaded policy, so enriching an event allocates nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Enrichment {
    /// Security zone of the actor (longest-prefix match of its address, or the documented zone
    /// of a non-IP source such as `localhost` or an AWS service).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<Arc<str>>,
    /// Role of the actor's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_role: Option<ZoneRole>,
    /// Zone the actor's principal is bound to by the policy (`[[principals]]`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_zone: Option<Arc<str>>,
    /// Role of that zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_zone_role: Option<ZoneRole>,
    /// Policy name of the datastore acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datastore: Option<Arc<str>>,
    /// Business domain (swim lane) of the datastore or of the objects touched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<Arc<str>>,
    /// Highest classification among the objects touched (or of the datastore).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classification: Option<Classification>,
    /// Rows a statement on data of that classification may return or change (the policy's
    /// `[row_limits]`), so a rule can compare a statement's row count with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row_limit: Option<u64>,
    /// The policy's `[[applications]]` entry the actor belongs to (zone and user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<Arc<str>>,
    /// The statement is ordinary traffic of the application in the actor's zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
    /// What the policy resolved, as indexes into the policy that enriched the event: the policy
    /// checks read it instead of resolving the event a second time. Not serialized.
    #[serde(skip)]
    pub refs: PolicyRefs,
}

impl Enrichment {
    /// No zone, datastore, domain or classification (an event no policy enriched, or one the
    /// policy says nothing about).
    pub fn is_empty(&self) -> bool {
        self.zone.is_none()
            && self.zone_role.is_none()
            && self.principal_zone.is_none()
            && self.principal_zone_role.is_none()
            && self.datastore.is_none()
            && self.domain.is_none()
            && self.classification.is_none()
            && self.row_limit.is_none()
            && self.application.is_none()
            && self.expected.is_none()
    }
}

/// The policy's resolution of one event, as indexes into the policy that made it (see
/// [`crate::policy::Policy::enrich`]). Opaque outside the crate: only that policy can read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PolicyRefs {
    /// Id of the policy that resolved the event (0: none did).
    pub(crate) policy: u64,
    /// Zone of the actor.
    pub(crate) zone: Option<usize>,
    /// Zone of the first `[[principals]]` entry binding the actor.
    pub(crate) principal_zone: Option<usize>,
    /// Some principal entry binds the actor (to some zone).
    pub(crate) principal_bound: bool,
    /// Some principal entry binds the actor to `zone`.
    pub(crate) principal_in_zone: bool,
    /// Datastore acted on.
    pub(crate) datastore: Option<usize>,
    /// Highest classification of the objects touched, else of the datastore.
    pub(crate) classification: Option<Classification>,
    /// Highest classification of the objects touched (`None`: no data object).
    pub(crate) objects_level: Option<Classification>,
    /// Datastore owning the first object whose domain is not the zone's swim lane.
    pub(crate) foreign_owner: Option<usize>,
}

impl<'a> Event<'a> {
    /// A new event with empty actor and target.
    pub fn new(time: Timestamp, source: Source, origin: Origin<'a>, kind: Kind<'a>) -> Self {
        Event {
            time,
            source,
            origin,
            actor: Actor::default(),
            target: Target::default(),
            kind,
            sql: None,
            enrichment: Enrichment::default(),
            dialect: source.dialect(),
        }
    }
}
