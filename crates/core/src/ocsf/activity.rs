//! Events as OCSF activity records, for the SIEM event stream: database events as Datastore
//! Activity (6005, [`super::datastore`]), CloudTrail calls as API Activity (6003, [`super::api`]),
//! flow-log records as Network Activity (4001, [`super::network`]). This module picks the class
//! and holds what the three share: status, metadata, actor, source endpoint and `unmapped`. The
//! activity chosen for each kind of event is listed in `docs/OCSF.md`.

use serde::Serialize;

use super::api::ApiActivity;
use super::datastore::DatastoreActivity;
use super::network::NetworkActivity;
use super::{Account, Actor, Endpoint, Metadata, Session, User, set_host};
use crate::event::{Event, Kind, Origin};
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
        Kind::ApiCall(call) => EventRecord::Api(Box::new(super::api::api_activity(e, call))),
        Kind::Flow(flow) => EventRecord::Network(Box::new(super::network::network_activity(e, flow))),
        _ => EventRecord::Datastore(Box::new(super::datastore::datastore_activity(e))),
    }
}

/// OCSF status of an activity: 1 Success or 2 Failure.
#[derive(Clone, Copy, Debug)]
pub(super) enum Status {
    Success,
    Failure,
}

impl Status {
    pub(super) fn id(self) -> u8 {
        match self {
            Status::Success => 1,
            Status::Failure => 2,
        }
    }
    pub(super) fn caption(self) -> &'static str {
        match self {
            Status::Success => "Success",
            Status::Failure => "Failure",
        }
    }
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

pub(super) fn metadata<'e>(e: &'e Event<'_>, uid: Option<&'e str>) -> Metadata<'e> {
    Metadata {
        version: super::OCSF_VERSION,
        product: super::PRODUCT,
        uid: uid.or(e.origin.event_id),
        log_provider: e.source.as_str(),
        log_name: e.origin.log_group.or(e.origin.file),
    }
}

/// The actor of any event: user, IAM identity, session, client application.
pub(super) fn actor<'e>(e: &'e Event<'_>) -> Actor<'e> {
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
pub(super) fn src_endpoint<'e>(e: &'e Event<'_>) -> Endpoint<'e> {
    let mut ep = Endpoint {
        ip: e.actor.ip,
        port: e.actor.port,
        zone: e.enrichment.zone.as_deref(),
        ..Endpoint::default()
    };
    set_host(&mut ep, e.actor.host.as_deref());
    ep
}
