//! Events as OCSF activity records, for the SIEM event stream: database events as Datastore
//! Activity (6005), CloudTrail calls as API Activity (6003), flow-log records as Network Activity
//! (4001). The activity chosen for each kind of event is decided here and listed in
//! `docs/OCSF.md`.

use std::borrow::Cow;

use serde::Serialize;

use super::{
    Account, Actor, Api, ApiRequest, ApiResponse, CompactJson, ConnectionInfo, DataClassification, Database,
    Endpoint, Group, Metadata, Session, User, engine_name, millis, set_host,
};
use crate::event::{ApiCall, Event, Flow, Kind, ObjectAccess, Origin, Statement};
use crate::sql::{Flags, StatementClass};

/// The OCSF record of one event; serializes as the record itself (no wrapper), so a sink writes
/// `serde_json::to_writer(&mut buf, &event_record(e))`.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum EventRecord<'e> {
    /// Statement, connect, disconnect, failed connect, object access.
    Datastore(Box<DatastoreActivity<'e>>),
    /// CloudTrail API call.
    Api(Box<ApiActivity<'e>>),
    /// VPC flow-log record.
    Network(Box<NetworkActivity<'e>>),
}

impl EventRecord<'_> {
    /// The OCSF class of the record (6005, 6003 or 4001), for routing without serializing.
    pub fn class_uid(&self) -> u32 {
        match self {
            EventRecord::Datastore(_) => 6005,
            EventRecord::Api(_) => 6003,
            EventRecord::Network(_) => 4001,
        }
    }
}

/// Render an event as its OCSF activity record. Every event kind has one; the record borrows
/// from the event, so render and serialize it before the batch buffer goes away.
pub fn event_record<'e>(e: &'e Event<'_>) -> EventRecord<'e> {
    match &e.kind {
        Kind::ApiCall(call) => EventRecord::Api(Box::new(api_activity(e, call))),
        Kind::Flow(flow) => EventRecord::Network(Box::new(network_activity(e, flow))),
        _ => EventRecord::Datastore(Box::new(datastore_activity(e))),
    }
}

/// OCSF status of an activity: 1 Success or 2 Failure.
#[derive(Clone, Copy, Debug)]
enum Status {
    Success,
    Failure,
}

impl Status {
    fn id(self) -> u8 {
        match self {
            Status::Success => 1,
            Status::Failure => 2,
        }
    }
    fn caption(self) -> &'static str {
        match self {
            Status::Success => "Success",
            Status::Failure => "Failure",
        }
    }
}

/// Datastore Activity (class 6005, category 6 Application Activity).
#[derive(Debug, Serialize)]
pub struct DatastoreActivity<'e> {
    /// 6005.
    pub class_uid: u32,
    /// `Datastore Activity`.
    pub class_name: &'static str,
    /// 6.
    pub category_uid: u8,
    /// `Application Activity`.
    pub category_name: &'static str,
    /// See `docs/OCSF.md`.
    pub activity_id: u8,
    /// Caption of `activity_id`, or the SQL command for 99 Other.
    pub activity_name: &'e str,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u32,
    /// `Datastore Activity: <activity caption>`.
    pub type_name: &'static str,
    /// 1 Informational: an activity record is not a judgement (findings carry severity).
    pub severity_id: u8,
    /// `Informational`.
    pub severity: &'static str,
    /// 1 Success, 2 Failure.
    pub status_id: u8,
    /// Caption of `status_id`.
    pub status: &'static str,
    /// Engine return code (MySQL error number) or engine class (`ERROR`) of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<Cow<'e, str>>,
    /// Reason of a failed login as logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// Schema, product, origin.
    pub metadata: Metadata<'e>,
    /// Database user and connection.
    pub actor: Actor<'e>,
    /// Client address and zone.
    pub src_endpoint: Endpoint<'e>,
    /// Server host and datastore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'e>>,
    /// The database.
    pub database: Database<'e>,
    /// The table, when the event names exactly one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<Table<'e>>,
    /// The normalized statement (never the raw text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_info: Option<QueryInfo<'e>>,
    /// 1 Database, 3 Table (object access).
    pub type_id: u8,
    /// Caption of `type_id`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// AWS region and account, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `table`.
#[derive(Debug, Serialize)]
pub struct Table<'e> {
    /// Qualified name (`shop.users`).
    pub name: &'e str,
}

/// OCSF `query_info`: the normalized statement, its fingerprint and command.
#[derive(Debug, Serialize)]
pub struct QueryInfo<'e> {
    /// Normalized statement: literals replaced by `?`.
    pub query_string: &'e str,
    /// Fingerprint of the normalized statement (16 hex digits): same shape, same uid.
    pub uid: String,
    /// Command (`SELECT`, `DROP TABLE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'e str>,
}

/// `unmapped`: what laneguard knows that OCSF has no attribute for.
#[derive(Debug, Default, Serialize)]
pub struct Unmapped<'e> {
    /// Where the raw record is (file and line, or log group, stream and event id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'e Origin<'e>>,
    /// SQL analysis: class, objects, flags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlUnmapped<'e>>,
    /// What the audit engine said about the statement (no text, no parameters, no error text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<StatementUnmapped<'e>>,
    /// Login details (connection type, engine operation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<SessionUnmapped<'e>>,
    /// Audit-engine table access (`READ`, `WRITE`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_access: Option<ObjectAccessUnmapped<'e>>,
    /// CloudTrail record type and category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiUnmapped<'e>>,
    /// Flow-log fields with no OCSF attribute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowUnmapped<'e>>,
    /// Zone the actor's principal is bound to by the policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_zone: Option<&'e str>,
}

/// `unmapped.sql`.
#[derive(Debug, Serialize)]
pub struct SqlUnmapped<'e> {
    /// Statement class (`DQL`, `DDL`…).
    pub class: StatementClass,
    /// Objects touched, qualified.
    pub objects: &'e [String],
    /// Risk flags.
    pub flags: Flags,
}

/// `unmapped.statement`: the audit engine's own view of the statement.
#[derive(Debug, Serialize)]
pub struct StatementUnmapped<'e> {
    /// pgaudit class / MySQL operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_class: Option<&'e str>,
    /// pgaudit command tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine_command: Option<&'e str>,
    /// pgaudit `SESSION` or `OBJECT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_type: Option<&'e str>,
    /// pgaudit object type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_type: Option<&'e str>,
    /// pgaudit object name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_name: Option<&'e str>,
    /// Statement id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<u64>,
    /// pgaudit sub-statement id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub substatement_id: Option<u64>,
    /// Rows affected or returned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// The audit engine cut the text.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// `unmapped.session`.
#[derive(Debug, Serialize)]
pub struct SessionUnmapped<'e> {
    /// Connection type (`TCP/IP`, `SOCKET`, `SSL`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection_type: Option<&'e str>,
    /// Engine operation as logged (`CONNECT`, `CHANGEUSER`, `connection authorized`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'e str>,
    /// Detail of a successful login (TLS version, PostgreSQL authorization line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'e str>,
}

/// `unmapped.object_access`.
#[derive(Debug, Serialize)]
pub struct ObjectAccessUnmapped<'e> {
    /// `READ`, `WRITE`, `CREATE`, `ALTER`, `DROP`, `RENAME`.
    pub operation: &'e str,
    /// Query id shared with the statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_id: Option<u64>,
}

/// `unmapped.api`.
#[derive(Debug, Serialize)]
pub struct ApiUnmapped<'e> {
    /// `eventType`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_type: Option<&'e str>,
    /// `eventCategory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_category: Option<&'e str>,
    /// `readOnly`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

/// `unmapped.flow`.
#[derive(Debug, Serialize)]
pub struct FlowUnmapped<'e> {
    /// `OK`, `NODATA`, `SKIPDATA`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_status: Option<&'e str>,
    /// Path egress traffic took (1 same VPC … 8 internet gateway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic_path: Option<u8>,
    /// Flow-log format version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u8>,
    /// Interface, when the record has no direction (so neither endpoint is known to own it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<&'e str>,
    /// VPC, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc: Option<&'e str>,
    /// Subnet, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subnet: Option<&'e str>,
    /// Instance, likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<&'e str>,
}

fn metadata<'e>(e: &'e Event<'_>, uid: Option<&'e str>) -> Metadata<'e> {
    Metadata {
        version: super::OCSF_VERSION,
        product: super::PRODUCT,
        uid: uid.or(e.origin.event_id),
        log_provider: e.source.as_str(),
        log_name: e.origin.log_group.or(e.origin.file),
    }
}

/// The actor of any event: user, IAM identity, session, client application.
fn actor<'e>(e: &'e Event<'_>) -> Actor<'e> {
    let a = &e.actor;
    let user = User {
        name: a.user.as_deref(),
        uid: a.principal.as_deref(),
        kind: a.principal_type.as_deref(),
        account: a.account.as_deref().map(Account::aws),
        credential_uid: a.access_key.as_deref(),
    };
    let has_user = user.name.is_some() || user.uid.is_some() || user.kind.is_some() || user.account.is_some();
    let session = Session {
        uid: a.session.as_deref(),
        issuer: a.session_issuer.as_deref(),
        is_mfa: a.mfa.as_deref().map(|m| m.eq_ignore_ascii_case("true")),
    };
    let has_session = session.uid.is_some() || session.issuer.is_some() || session.is_mfa.is_some();
    Actor {
        user: has_user.then_some(user),
        session: has_session.then_some(session),
        // CloudTrail's user agent is an HTTP header, not an application name: it goes to
        // `http_request.user_agent` of API Activity instead.
        app_name: if matches!(e.kind, Kind::ApiCall(_)) {
            None
        } else {
            a.user_agent.as_deref()
        },
    }
}

/// The source endpoint: the actor's address, port, host and zone.
fn src_endpoint<'e>(e: &'e Event<'_>) -> Endpoint<'e> {
    let mut ep = Endpoint {
        ip: e.actor.ip,
        port: e.actor.port,
        zone: e.enrichment.zone.as_deref(),
        ..Endpoint::default()
    };
    set_host(&mut ep, e.actor.host.as_deref());
    ep
}

fn datastore_activity<'e>(e: &'e Event<'_>) -> DatastoreActivity<'e> {
    let datastore = e
        .enrichment
        .datastore
        .as_deref()
        .or(e.target.datastore.as_deref());
    let mut unmapped = Unmapped {
        origin: Some(&e.origin),
        principal_zone: e.enrichment.principal_zone.as_deref(),
        ..Unmapped::default()
    };
    let mut status = Status::Success;
    let mut status_code: Option<Cow<'e, str>> = None;
    let mut status_detail = None;
    let mut table = None;
    let mut query_info = None;
    let (mut type_id, mut kind) = (1, "Database");

    let (activity_id, activity_name): (u8, &'e str) = match &e.kind {
        Kind::Statement(st) => {
            if !st.succeeded {
                status = Status::Failure;
            }
            status_code = match (st.return_code, st.succeeded) {
                (Some(rc), _) if rc != 0 => Some(Cow::Owned(rc.to_string())),
                (_, false) => st.engine_class.as_deref().map(Cow::Borrowed),
                _ => None,
            };
            unmapped.statement = Some(statement_unmapped(st));
            if let Some(sql) = &e.sql {
                let a = &sql.analysis;
                query_info = Some(QueryInfo {
                    query_string: &a.normalized,
                    uid: format!("{:016x}", a.fingerprint),
                    name: (!a.command.is_empty()).then_some(a.command.as_str()),
                });
                unmapped.sql = Some(SqlUnmapped {
                    class: a.class,
                    objects: &sql.objects,
                    flags: sql.flags,
                });
                if let [only] = sql.objects.as_slice() {
                    // Objects of other kinds carry a prefix (`database:`, `user:`); only dotted
                    // table and view names are tables.
                    if !only.contains(':') {
                        table = Some(Table { name: only });
                    }
                }
                statement_activity(a.class, &a.command)
            } else {
                (99, st.engine_command.as_deref().unwrap_or("Other"))
            }
        }
        Kind::Connect(s) | Kind::Disconnect(s) | Kind::FailedConnect(s) => {
            let failed = matches!(e.kind, Kind::FailedConnect(_));
            unmapped.session = Some(SessionUnmapped {
                connection_type: s.connection_type.as_deref(),
                operation: s.operation.as_deref(),
                detail: if failed { None } else { s.detail.as_deref() },
            });
            if failed {
                status = Status::Failure;
                status_code = s.return_code.map(|rc| Cow::Owned(rc.to_string()));
                status_detail = s.detail.as_deref();
            }
            if matches!(e.kind, Kind::Disconnect(_)) {
                (99, "Disconnect")
            } else {
                (3, "Connect")
            }
        }
        Kind::ObjectAccess(o) => {
            (type_id, kind) = (3, "Table");
            table = Some(Table { name: &o.object });
            unmapped.object_access = Some(ObjectAccessUnmapped {
                operation: &o.operation,
                statement_id: o.statement_id,
            });
            object_access_activity(o)
        }
        // event_record sends these elsewhere; rendered as Other rather than unreachable!().
        Kind::ApiCall(_) | Kind::Flow(_) => (99, "Other"),
    };

    let dst = Endpoint {
        ip: e.target.ip,
        port: e.target.port,
        hostname: e.target.server.as_deref(),
        name: datastore,
        ..Endpoint::default()
    };
    DatastoreActivity {
        class_uid: 6005,
        class_name: "Datastore Activity",
        category_uid: 6,
        category_name: "Application Activity",
        activity_id,
        activity_name,
        type_uid: 6005 * 100 + u32::from(activity_id),
        type_name: datastore_type_name(activity_id),
        severity_id: 1,
        severity: "Informational",
        status_id: status.id(),
        status: status.caption(),
        status_code,
        status_detail,
        time: millis(e.time),
        metadata: metadata(e, None),
        actor: actor(e),
        src_endpoint: src_endpoint(e),
        dst_endpoint: (!dst.is_empty()).then_some(dst),
        database: Database {
            name: e.target.database.as_deref(),
            uid: datastore,
            type_id: 1,
            kind: engine_name(e.source),
            groups: e.enrichment.domain.as_deref().map(|d| [Group::domain(d)]),
            data_classification: e.enrichment.classification.map(DataClassification::of),
        },
        table,
        query_info,
        type_id,
        kind,
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped,
    }
}

fn statement_unmapped<'e>(st: &'e Statement<'_>) -> StatementUnmapped<'e> {
    // Deliberately not `text`, `parameter` or `error`: they carry literals.
    StatementUnmapped {
        engine_class: st.engine_class.as_deref(),
        engine_command: st.engine_command.as_deref(),
        audit_type: st.audit_type.as_deref(),
        object_type: st.object_type.as_deref(),
        object_name: st.object_name.as_deref(),
        statement_id: st.statement_id,
        substatement_id: st.substatement_id,
        rows: st.rows,
        truncated: st.truncated,
    }
}

/// Datastore Activity ids: 1 Read, 2 Update, 3 Connect, 4 Query, 5 Write, 6 Create, 7 Delete,
/// 8 List, 99 Other.
fn datastore_type_name(activity_id: u8) -> &'static str {
    match activity_id {
        1 => "Datastore Activity: Read",
        2 => "Datastore Activity: Update",
        3 => "Datastore Activity: Connect",
        4 => "Datastore Activity: Query",
        5 => "Datastore Activity: Write",
        6 => "Datastore Activity: Create",
        7 => "Datastore Activity: Delete",
        8 => "Datastore Activity: List",
        9 => "Datastore Activity: Encrypt",
        10 => "Datastore Activity: Decrypt",
        0 => "Datastore Activity: Unknown",
        _ => "Datastore Activity: Other",
    }
}

/// The activity of a statement, from its class and the first word of its command. What OCSF
/// has no verb for (grants, transactions, session and system control, unparsed text) is
/// 99 Other, named by the command so the SIEM still sees `GRANT` or `SET GLOBAL`.
fn statement_activity(class: StatementClass, command: &str) -> (u8, &str) {
    let verb = command.split(' ').next().unwrap_or("");
    let other = if command.is_empty() { "Other" } else { command };
    match class {
        StatementClass::Dql => match verb {
            "SHOW" | "DESCRIBE" | "DESC" => (8, "List"),
            _ => (4, "Query"),
        },
        StatementClass::Dml => match verb {
            "UPDATE" => (2, "Update"),
            "DELETE" => (7, "Delete"),
            "INSERT" | "REPLACE" | "LOAD" | "MERGE" | "UPSERT" => (5, "Write"),
            // COPY and the rest: direction or effect not in the command.
            _ => (99, other),
        },
        StatementClass::Ddl => match verb {
            "CREATE" => (6, "Create"),
            "DROP" | "TRUNCATE" => (7, "Delete"),
            "ALTER" | "RENAME" | "COMMENT" => (2, "Update"),
            _ => (99, other),
        },
        StatementClass::Dcl
        | StatementClass::Tcl
        | StatementClass::Session
        | StatementClass::Admin
        | StatementClass::Unparsed => (99, other),
    }
}

/// The activity of an audit-engine table access.
fn object_access_activity<'e>(o: &'e ObjectAccess<'_>) -> (u8, &'e str) {
    match o.operation.as_ref() {
        "READ" => (1, "Read"),
        "WRITE" => (5, "Write"),
        "CREATE" => (6, "Create"),
        "ALTER" | "RENAME" => (2, "Update"),
        "DROP" => (7, "Delete"),
        _ => (99, &o.operation),
    }
}

/// API Activity (class 6003, category 6 Application Activity).
#[derive(Debug, Serialize)]
pub struct ApiActivity<'e> {
    /// 6003.
    pub class_uid: u32,
    /// `API Activity`.
    pub class_name: &'static str,
    /// 6.
    pub category_uid: u8,
    /// `Application Activity`.
    pub category_name: &'static str,
    /// 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other (from the action's verb).
    pub activity_id: u8,
    /// Caption of `activity_id`.
    pub activity_name: &'static str,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u32,
    /// `API Activity: <activity caption>`.
    pub type_name: &'static str,
    /// 1 Informational.
    pub severity_id: u8,
    /// `Informational`.
    pub severity: &'static str,
    /// 1 Success, 2 Failure (the call has an error code).
    pub status_id: u8,
    /// Caption of `status_id`.
    pub status: &'static str,
    /// Error code of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<&'e str>,
    /// Error message of a failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Event time, ms since the epoch.
    pub time: i64,
    /// Schema, product, origin; `uid` is CloudTrail's `eventID`.
    pub metadata: Metadata<'e>,
    /// IAM identity and session.
    pub actor: Actor<'e>,
    /// The call.
    pub api: Api<'e>,
    /// Caller address, zone, VPC endpoint.
    pub src_endpoint: Endpoint<'e>,
    /// Caller user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_request: Option<HttpRequest<'e>>,
    /// Region and account that received the call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `http_request`, for the user agent of an API call.
#[derive(Debug, Serialize)]
pub struct HttpRequest<'e> {
    /// User agent as CloudTrail recorded it.
    pub user_agent: &'e str,
}

fn api_activity<'e>(e: &'e Event<'_>, call: &'e ApiCall<'_>) -> ApiActivity<'e> {
    let (activity_id, activity_name) = api_verb(&call.action, call.read_only);
    let failed = call.error_code.is_some();
    let status = if failed { Status::Failure } else { Status::Success };
    let mut src = src_endpoint(e);
    src.uid = call.vpc_endpoint.as_deref();
    ApiActivity {
        class_uid: 6003,
        class_name: "API Activity",
        category_uid: 6,
        category_name: "Application Activity",
        activity_id,
        activity_name,
        type_uid: 6003 * 100 + u32::from(activity_id),
        type_name: match activity_id {
            1 => "API Activity: Create",
            2 => "API Activity: Read",
            3 => "API Activity: Update",
            4 => "API Activity: Delete",
            _ => "API Activity: Other",
        },
        severity_id: 1,
        severity: "Informational",
        status_id: status.id(),
        status: status.caption(),
        status_code: call.error_code.as_deref(),
        status_detail: call.error_message.as_deref(),
        time: millis(e.time),
        metadata: metadata(e, call.event_id.as_deref()),
        actor: actor(e),
        api: Api {
            operation: &call.action,
            service: super::Service { name: &call.service },
            request: call.event_id.as_deref().map(|uid| ApiRequest {
                uid,
                data: call.request.map(CompactJson),
            }),
            response: call.error_code.as_deref().map(|error| ApiResponse {
                error,
                error_message: call.error_message.as_deref(),
            }),
        },
        src_endpoint: src,
        http_request: e
            .actor
            .user_agent
            .as_deref()
            .map(|user_agent| HttpRequest { user_agent }),
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped: Unmapped {
            origin: Some(&e.origin),
            principal_zone: e.enrichment.principal_zone.as_deref(),
            api: Some(ApiUnmapped {
                event_type: call.event_type.as_deref(),
                event_category: call.event_category.as_deref(),
                read_only: call.read_only,
            }),
            ..Unmapped::default()
        },
    }
}

/// The API Activity of an AWS action, from its leading verb (`CreateDBSnapshot` → Create).
/// A verb counts only as a whole word (`Get` matches `GetObject`, not `Getaway`). Actions with
/// no CRUD verb (`AssumeRole`, `ConsoleLogin`, `Decrypt`) are Read when CloudTrail marks them
/// read-only, else 99 Other.
pub fn api_verb(action: &str, read_only: Option<bool>) -> (u8, &'static str) {
    const VERBS: &[(&str, u8)] = &[
        ("Create", 1),
        ("Add", 1),
        ("Allocate", 1),
        ("Copy", 1),
        ("Import", 1),
        ("Register", 1),
        ("Restore", 1),
        ("Run", 1),
        ("Issue", 1),
        ("Get", 2),
        ("Describe", 2),
        ("List", 2),
        ("Lookup", 2),
        ("Head", 2),
        ("Search", 2),
        ("Select", 2),
        ("Download", 2),
        ("BatchGet", 2),
        ("Modify", 3),
        ("Update", 3),
        ("Put", 3),
        ("Set", 3),
        ("Change", 3),
        ("Attach", 3),
        ("Associate", 3),
        ("Enable", 3),
        ("Disable", 3),
        ("Start", 3),
        ("Stop", 3),
        ("Reboot", 3),
        ("Reset", 3),
        ("Authorize", 3),
        ("Revoke", 3),
        ("Tag", 3),
        ("Untag", 3),
        ("Apply", 3),
        ("Failover", 3),
        ("Promote", 3),
        ("Rotate", 3),
        ("Delete", 4),
        ("Remove", 4),
        ("Terminate", 4),
        ("Detach", 4),
        ("Deregister", 4),
        ("Disassociate", 4),
        ("Purge", 4),
        ("Release", 4),
        ("BatchDelete", 4),
    ];
    let id = VERBS
        .iter()
        .find(|(verb, _)| {
            action
                .strip_prefix(verb)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
        .map(|&(_, id)| id)
        .unwrap_or(if read_only == Some(true) { 2 } else { 99 });
    let name = match id {
        1 => "Create",
        2 => "Read",
        3 => "Update",
        4 => "Delete",
        _ => "Other",
    };
    (id, name)
}

/// Network Activity (class 4001, category 4 Network Activity).
#[derive(Debug, Serialize)]
pub struct NetworkActivity<'e> {
    /// 4001.
    pub class_uid: u32,
    /// `Network Activity`.
    pub class_name: &'static str,
    /// 4.
    pub category_uid: u8,
    /// `Network Activity`.
    pub category_name: &'static str,
    /// 5 Refuse (`REJECT`), 6 Traffic (anything else: a flow record is a traffic report).
    pub activity_id: u8,
    /// Caption of `activity_id`.
    pub activity_name: &'static str,
    /// `class_uid * 100 + activity_id`.
    pub type_uid: u32,
    /// `Network Activity: <activity caption>`.
    pub type_name: &'static str,
    /// 1 Informational.
    pub severity_id: u8,
    /// `Informational`.
    pub severity: &'static str,
    /// 1 Allowed (`ACCEPT`), 2 Denied (`REJECT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_id: Option<u8>,
    /// Caption of `action_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// 1 Allowed, 2 Blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition_id: Option<u8>,
    /// Caption of `disposition_id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disposition: Option<&'static str>,
    /// Why the traffic was rejected (`BPA`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_detail: Option<&'e str>,
    /// Start of the capture window (ms since the epoch), or the event time.
    pub time: i64,
    /// Start of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<i64>,
    /// End of the capture window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<i64>,
    /// Schema, product, origin.
    pub metadata: Metadata<'e>,
    /// Packet source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_endpoint: Option<Endpoint<'e>>,
    /// Packet destination.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst_endpoint: Option<Endpoint<'e>>,
    /// Flow records name the sender of the packets, not the initiator of the connection.
    pub is_src_dst_assignment_known: bool,
    /// Protocol, direction, TCP flags.
    pub connection_info: ConnectionInfo,
    /// Bytes and packets in the window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Account that owns the interface, region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud: Option<super::Cloud<'e>>,
    /// laneguard attributes OCSF has no place for.
    pub unmapped: Unmapped<'e>,
}

/// OCSF `network_traffic`.
#[derive(Debug, Serialize)]
pub struct Traffic {
    /// Bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
}

fn network_activity<'e>(e: &'e Event<'_>, f: &'e Flow<'_>) -> NetworkActivity<'e> {
    let rejected = f.action.as_deref() == Some("REJECT");
    let accepted = f.action.as_deref() == Some("ACCEPT");
    let (activity_id, activity_name, type_name) = if rejected {
        (5, "Refuse", "Network Activity: Refuse")
    } else {
        (6, "Traffic", "Network Activity: Traffic")
    };
    let (action_id, action, disposition_id, disposition) = match (accepted, rejected) {
        (true, _) => (Some(1), Some("Allowed"), Some(1), Some("Allowed")),
        (_, true) => (Some(2), Some("Denied"), Some(2), Some("Blocked")),
        _ => (None, None, None, None),
    };
    let mut src = src_endpoint(e);
    src.svc_name = src.svc_name.or(f.pkt_src_service.as_deref());
    src.intermediate_ips = f.pkt_src.filter(|p| Some(*p) != e.actor.ip).map(|p| [p]);
    let mut dst = Endpoint {
        ip: e.target.ip,
        port: e.target.port,
        svc_name: f.pkt_dst_service.as_deref(),
        intermediate_ips: f.pkt_dst.filter(|p| Some(*p) != e.target.ip).map(|p| [p]),
        ..Endpoint::default()
    };
    // The interface that logged the record is the receiver of ingress traffic and the sender of
    // egress traffic; without a direction it belongs to neither endpoint for sure.
    let mut flow_unmapped = FlowUnmapped {
        log_status: f.log_status.as_deref(),
        traffic_path: f.traffic_path,
        version: f.version,
        interface: None,
        vpc: None,
        subnet: None,
        instance: None,
    };
    let owner = match f.direction.as_deref() {
        Some("ingress") => Some(&mut dst),
        Some("egress") => Some(&mut src),
        _ => None,
    };
    match owner {
        Some(ep) => {
            ep.interface_uid = f.interface.as_deref();
            ep.vpc_uid = f.vpc.as_deref();
            ep.subnet_uid = f.subnet.as_deref();
            ep.instance_uid = f.instance.as_deref();
        }
        None => {
            flow_unmapped.interface = f.interface.as_deref();
            flow_unmapped.vpc = f.vpc.as_deref();
            flow_unmapped.subnet = f.subnet.as_deref();
            flow_unmapped.instance = f.instance.as_deref();
        }
    }
    NetworkActivity {
        class_uid: 4001,
        class_name: "Network Activity",
        category_uid: 4,
        category_name: "Network Activity",
        activity_id,
        activity_name,
        type_uid: 4001 * 100 + u32::from(activity_id),
        type_name,
        severity_id: 1,
        severity: "Informational",
        action_id,
        action,
        disposition_id,
        disposition,
        status_detail: f.reject_reason.as_deref(),
        time: millis(e.time),
        start_time: f.start.map(millis),
        end_time: f.end.map(millis),
        metadata: metadata(e, None),
        src_endpoint: (!src.is_empty()).then_some(src),
        dst_endpoint: (!dst.is_empty()).then_some(dst),
        is_src_dst_assignment_known: false,
        connection_info: ConnectionInfo::new(f.protocol, f.direction.as_deref(), e.actor.ip, f.tcp_flags),
        traffic: (f.bytes.is_some() || f.packets.is_some()).then_some(Traffic {
            bytes: f.bytes,
            packets: f.packets,
        }),
        cloud: super::Cloud::aws(e.target.region.as_deref(), e.target.account.as_deref()),
        unmapped: Unmapped {
            origin: Some(&e.origin),
            principal_zone: e.enrichment.principal_zone.as_deref(),
            flow: Some(flow_unmapped),
            ..Unmapped::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_verbs_match_whole_words() {
        assert_eq!(api_verb("CreateDBSnapshot", None), (1, "Create"));
        assert_eq!(api_verb("DescribeDBInstances", Some(true)), (2, "Read"));
        assert_eq!(api_verb("ModifyDBSnapshotAttribute", Some(false)), (3, "Update"));
        assert_eq!(api_verb("StopLogging", Some(false)), (3, "Update"));
        assert_eq!(api_verb("DeleteTrail", None), (4, "Delete"));
        assert_eq!(api_verb("Getaway", None), (99, "Other"));
        assert_eq!(api_verb("ConsoleLogin", None), (99, "Other"));
        assert_eq!(api_verb("AssumeRole", Some(true)), (2, "Read"));
    }

    #[test]
    fn statements_map_to_datastore_activities() {
        assert_eq!(statement_activity(StatementClass::Dql, "SELECT"), (4, "Query"));
        assert_eq!(
            statement_activity(StatementClass::Dql, "SHOW TABLES"),
            (8, "List")
        );
        assert_eq!(statement_activity(StatementClass::Dml, "UPDATE"), (2, "Update"));
        assert_eq!(statement_activity(StatementClass::Dml, "INSERT"), (5, "Write"));
        assert_eq!(statement_activity(StatementClass::Dml, "COPY"), (99, "COPY"));
        assert_eq!(
            statement_activity(StatementClass::Ddl, "DROP TABLE"),
            (7, "Delete")
        );
        assert_eq!(
            statement_activity(StatementClass::Ddl, "CREATE TABLE"),
            (6, "Create")
        );
        assert_eq!(statement_activity(StatementClass::Dcl, "GRANT"), (99, "GRANT"));
        assert_eq!(statement_activity(StatementClass::Unparsed, ""), (99, "Other"));
    }
}
