//! Field paths: how a rule names a part of an event (`actor.user`, `sql.flags`,
//! `api.request.publiclyAccessible`, …).
//!
//! Paths are resolved once, when a rule loads, into a [`Field`]; evaluating a field walks the
//! event directly and hands each value to a callback (no per-event allocation, except the parse of
//! a CloudTrail request/response document — or of the whole record, for `record.…` paths — done at
//! most once per event and only when a rule asks for a path inside it).
//!
//! Paths into JSON read what the record wrote: an array on the way is searched element-wise, a
//! JSON `null` is no value (absent and null are one thing, as CloudTrail writes `null` for
//! "none"), and a path that ends on an object or array yields it whole, matched by the text
//! operators as its compact JSON text (Sigma's `requestParameters|contains: 'Suspended'`). A last
//! segment `**` yields every scalar beneath, at any depth (keyword searches over a record).

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value as Json;

use crate::event::{Event, Kind};

/// A value read from an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Val<'e> {
    /// Text.
    Str(Cow<'e, str>),
    /// A whole number.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An IP address.
    Ip(IpAddr),
    /// A JSON object or array at the end of a path: present, and matched by the text operators
    /// as its compact JSON text.
    Json(&'e Json),
}

impl Val<'_> {
    /// The value as text, for keyword and regex matching.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) => Some(Cow::Borrowed(s)),
            Val::Int(n) => Some(Cow::Owned(n.to_string())),
            Val::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Val::Ip(ip) => Some(Cow::Owned(ip.to_string())),
            Val::Json(j) => Some(Cow::Owned(j.to_string())),
        }
    }
}

/// Which raw CloudTrail document a JSON path reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Doc {
    /// `requestParameters`.
    Request,
    /// `responseElements`.
    Response,
    /// `additionalEventData`.
    Additional,
    /// The whole record (CloudTrail): every field as the record wrote it.
    Record,
}

/// A resolved field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A fixed field, by its canonical path.
    Fixed(&'static str),
    /// A path inside a CloudTrail document (a last segment [`ANY_DEPTH`] reads every scalar
    /// beneath).
    Json(Doc, Vec<String>),
}

/// The last path segment that reads every scalar beneath a node, at any depth (`record.**`).
pub const ANY_DEPTH: &str = "**";

/// Prefixes of the JSON path fields, with the document each reads.
const DOCS: [(&str, Doc); 4] = [
    ("api.request", Doc::Request),
    ("api.response", Doc::Response),
    ("api.additional", Doc::Additional),
    ("record", Doc::Record),
];

/// Every fixed field path, canonical name first; aliases map to these.
pub const FIELDS: &[&str] = &[
    "source",
    "kind",
    "engine",
    "actor.user",
    "actor.principal",
    "actor.principal_type",
    "actor.session_issuer",
    "actor.account",
    "actor.access_key",
    "actor.mfa",
    "actor.ip",
    "actor.host",
    "actor.port",
    "actor.session",
    "actor.user_agent",
    "client.ip",
    "target.datastore",
    "target.server",
    "target.database",
    "target.ip",
    "target.port",
    "target.account",
    "target.region",
    "zone",
    "zone.role",
    "principal_zone",
    "principal_zone.role",
    "datastore",
    "domain",
    "classification",
    "application",
    "application.expected",
    "sql.class",
    "sql.command",
    "sql.flags",
    "sql.objects",
    "sql.normalized",
    "sql.fingerprint",
    "sql.family",
    "sql.catalogs",
    "sql.accounts",
    "statement.text",
    "statement.engine_class",
    "statement.engine_command",
    "statement.object_name",
    "statement.object_type",
    "statement.audit_type",
    "statement.succeeded",
    "statement.return_code",
    "statement.error",
    "statement.rows",
    "statement.parameters",
    "statement.truncated",
    "statement.id",
    "statement.substatement_id",
    "statement.exit_code",
    "statement.rows_over_limit",
    "session.return_code",
    "session.detail",
    "session.operation",
    "session.connection_type",
    "object.operation",
    "object.name",
    "api.service",
    "api.action",
    "api.error_code",
    "api.error_message",
    "api.read_only",
    "api.event_type",
    "api.event_category",
    "api.vpc_endpoint",
    "flow.action",
    "flow.log_status",
    "flow.direction",
    "flow.protocol",
    "flow.bytes",
    "flow.packets",
    "flow.tcp_flags",
    "flow.traffic_path",
    "flow.pkt_src_service",
    "flow.pkt_dst_service",
    "flow.interface",
    "flow.reject_reason",
    "flow.instance",
];

const ALIASES: &[(&str, &str)] = &[
    ("class", "sql.class"),
    ("command", "sql.command"),
    ("flags", "sql.flags"),
    ("objects", "sql.objects"),
    ("normalized", "sql.normalized"),
    ("fingerprint", "sql.fingerprint"),
    ("family", "sql.family"),
    ("catalogs", "sql.catalogs"),
    ("text", "statement.text"),
    ("user", "actor.user"),
    ("action", "api.action"),
    ("service", "api.service"),
    ("error_code", "api.error_code"),
];

impl Field {
    /// Resolve a path as written in a rule; `None` when no such field exists.
    pub fn parse(path: &str) -> Option<Field> {
        let canonical = ALIASES.iter().find(|(a, _)| *a == path).map_or(path, |(_, c)| c);
        if let Some(f) = FIELDS.iter().find(|f| **f == canonical) {
            return Some(Field::Fixed(f));
        }
        for (prefix, doc) in DOCS {
            if canonical == prefix {
                return Some(Field::Json(doc, Vec::new()));
            }
            if let Some(rest) = canonical.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
                let last = segments.len() - 1;
                if segments
                    .iter()
                    .enumerate()
                    .any(|(i, s)| s.is_empty() || (s == ANY_DEPTH && i != last))
                {
                    return None;
                }
                return Some(Field::Json(doc, segments));
            }
        }
        None
    }

    /// The path as written canonically (for messages).
    pub fn name(&self) -> String {
        match self {
            Field::Fixed(f) => (*f).to_owned(),
            Field::Json(doc, path) => {
                let d = DOCS.iter().find(|(_, x)| x == doc).map_or("record", |(n, _)| n);
                if path.is_empty() {
                    d.to_owned()
                } else {
                    format!("{d}.{}", path.join("."))
                }
            }
        }
    }
}

/// Parsed CloudTrail documents of one event, parsed on first use.
#[derive(Debug, Default)]
pub struct Docs {
    request: Option<Option<Json>>,
    response: Option<Option<Json>>,
    additional: Option<Option<Json>>,
    record: Option<Option<Json>>,
}

impl Docs {
    fn get(&mut self, event: &Event<'_>, doc: Doc) -> Option<&Json> {
        let Kind::ApiCall(api) = &event.kind else {
            return None;
        };
        let (slot, raw) = match doc {
            Doc::Request => (&mut self.request, api.request.map(|r| r.get())),
            Doc::Response => (&mut self.response, api.response.map(|r| r.get())),
            Doc::Additional => (&mut self.additional, api.additional.map(|r| r.get())),
            Doc::Record => (&mut self.record, Some(api.raw).filter(|r| !r.is_empty())),
        };
        slot.get_or_insert_with(|| raw.and_then(|r| serde_json::from_str(r).ok()))
            .as_ref()
    }
}

/// Call `f` with every value of `field` in `event`; stops early when `f` returns true. Returns
/// whether `f` returned true.
pub fn any_value(
    event: &Event<'_>,
    docs: &mut Docs,
    field: &Field,
    f: &mut dyn FnMut(&Val<'_>) -> bool,
) -> bool {
    match field {
        Field::Json(doc, path) => match docs.get(event, *doc) {
            Some(root) => walk(root, path, f),
            None => false,
        },
        Field::Fixed(name) => fixed(event, name, f),
    }
}

/// [`any_value`] with the fixed-field index resolved in advance (`fixed` from [`fixed_index`]).
#[inline]
pub(crate) fn any_value_at(
    event: &Event<'_>,
    docs: &mut Docs,
    field: &Field,
    fixed: Option<usize>,
    f: &mut dyn FnMut(&Val<'_>) -> bool,
) -> bool {
    match (field, fixed) {
        (Field::Fixed(_), Some(i)) => fixed_at(event, i, f),
        _ => any_value(event, docs, field, f),
    }
}

fn walk(node: &Json, path: &[String], f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    if path.len() == 1 && path[0] == ANY_DEPTH {
        return scalars(node, f);
    }
    match node {
        Json::Array(items) => items.iter().any(|i| walk(i, path, f)),
        Json::Object(map) => match path.split_first() {
            Some((head, rest)) => map.get(head).is_some_and(|child| walk(child, rest, f)),
            None => f(&Val::Json(node)),
        },
        _ if !path.is_empty() => false,
        scalar => scalars(scalar, f),
    }
}

/// Every scalar of `node` at any depth (a scalar node is its own only scalar); `null` is none.
fn scalars(node: &Json, f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    match node {
        Json::Array(items) => items.iter().any(|i| scalars(i, f)),
        Json::Object(map) => map.values().any(|v| scalars(v, f)),
        Json::String(s) => f(&Val::Str(Cow::Borrowed(s))),
        Json::Bool(b) => f(&Val::Bool(*b)),
        Json::Number(n) => match n.as_i64() {
            Some(i) => f(&Val::Int(i)),
            None => f(&Val::Str(Cow::Owned(n.to_string()))),
        },
        Json::Null => false,
    }
}

fn s<'x>(v: &'x Option<Cow<'_, str>>, f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    match v {
        Some(x) => f(&Val::Str(Cow::Borrowed(x))),
        None => false,
    }
}

fn opt<T: Copy>(v: Option<T>, to: impl Fn(T) -> Val<'static>, f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    match v {
        Some(x) => f(&to(x)),
        None => false,
    }
}

fn int<T: Into<i64>>(x: T) -> Val<'static> {
    Val::Int(x.into())
}

fn fixed(e: &Event<'_>, name: &str, f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    match fixed_index(name) {
        Some(i) => fixed_at(e, i, f),
        None => false,
    }
}

/// Index of a fixed field path in [`FIELDS`].
pub fn fixed_index(name: &str) -> Option<usize> {
    FIELDS.iter().position(|f| *f == name)
}

/// `const` position of `name` in [`FIELDS`] (`usize::MAX` when absent; a unit test checks).
const fn pos(name: &str) -> usize {
    let n = name.as_bytes();
    let mut i = 0;
    while i < FIELDS.len() {
        let f = FIELDS[i].as_bytes();
        if f.len() == n.len() {
            let mut j = 0;
            while j < n.len() && f[j] == n[j] {
                j += 1;
            }
            if j == n.len() {
                return i;
            }
        }
        i += 1;
    }
    usize::MAX
}

/// Indices of the fixed fields in [`FIELDS`], so that [`fixed_at`] dispatches on an integer.
mod fx {
    use super::pos;
    pub const SOURCE: usize = pos("source");
    pub const KIND: usize = pos("kind");
    pub const ENGINE: usize = pos("engine");
    pub const ACTOR_USER: usize = pos("actor.user");
    pub const ACTOR_PRINCIPAL: usize = pos("actor.principal");
    pub const ACTOR_PRINCIPAL_TYPE: usize = pos("actor.principal_type");
    pub const ACTOR_SESSION_ISSUER: usize = pos("actor.session_issuer");
    pub const ACTOR_ACCOUNT: usize = pos("actor.account");
    pub const ACTOR_ACCESS_KEY: usize = pos("actor.access_key");
    pub const ACTOR_MFA: usize = pos("actor.mfa");
    pub const ACTOR_IP: usize = pos("actor.ip");
    pub const CLIENT_IP: usize = pos("client.ip");
    pub const SQL_ACCOUNTS: usize = pos("sql.accounts");
    pub const ACTOR_HOST: usize = pos("actor.host");
    pub const ACTOR_PORT: usize = pos("actor.port");
    pub const ACTOR_SESSION: usize = pos("actor.session");
    pub const ACTOR_USER_AGENT: usize = pos("actor.user_agent");
    pub const TARGET_DATASTORE: usize = pos("target.datastore");
    pub const TARGET_SERVER: usize = pos("target.server");
    pub const TARGET_DATABASE: usize = pos("target.database");
    pub const TARGET_IP: usize = pos("target.ip");
    pub const TARGET_PORT: usize = pos("target.port");
    pub const TARGET_ACCOUNT: usize = pos("target.account");
    pub const TARGET_REGION: usize = pos("target.region");
    pub const ZONE: usize = pos("zone");
    pub const PRINCIPAL_ZONE: usize = pos("principal_zone");
    pub const ZONE_ROLE: usize = pos("zone.role");
    pub const PRINCIPAL_ZONE_ROLE: usize = pos("principal_zone.role");
    pub const DATASTORE: usize = pos("datastore");
    pub const DOMAIN: usize = pos("domain");
    pub const CLASSIFICATION: usize = pos("classification");
    pub const APPLICATION: usize = pos("application");
    pub const APPLICATION_EXPECTED: usize = pos("application.expected");
    pub const SQL_CLASS: usize = pos("sql.class");
    pub const SQL_COMMAND: usize = pos("sql.command");
    pub const SQL_FLAGS: usize = pos("sql.flags");
    pub const SQL_OBJECTS: usize = pos("sql.objects");
    pub const SQL_NORMALIZED: usize = pos("sql.normalized");
    pub const SQL_FINGERPRINT: usize = pos("sql.fingerprint");
    pub const SQL_FAMILY: usize = pos("sql.family");
    pub const SQL_CATALOGS: usize = pos("sql.catalogs");
    pub const STATEMENT_TEXT: usize = pos("statement.text");
    pub const STATEMENT_ENGINE_CLASS: usize = pos("statement.engine_class");
    pub const STATEMENT_ENGINE_COMMAND: usize = pos("statement.engine_command");
    pub const STATEMENT_OBJECT_NAME: usize = pos("statement.object_name");
    pub const STATEMENT_OBJECT_TYPE: usize = pos("statement.object_type");
    pub const STATEMENT_AUDIT_TYPE: usize = pos("statement.audit_type");
    pub const STATEMENT_SUCCEEDED: usize = pos("statement.succeeded");
    pub const STATEMENT_RETURN_CODE: usize = pos("statement.return_code");
    pub const STATEMENT_ERROR: usize = pos("statement.error");
    pub const STATEMENT_ROWS: usize = pos("statement.rows");
    pub const STATEMENT_PARAMETERS: usize = pos("statement.parameters");
    pub const STATEMENT_TRUNCATED: usize = pos("statement.truncated");
    pub const STATEMENT_ID: usize = pos("statement.id");
    pub const STATEMENT_SUBSTATEMENT_ID: usize = pos("statement.substatement_id");
    pub const STATEMENT_EXIT_CODE: usize = pos("statement.exit_code");
    pub const STATEMENT_ROWS_OVER_LIMIT: usize = pos("statement.rows_over_limit");
    pub const SESSION_RETURN_CODE: usize = pos("session.return_code");
    pub const SESSION_DETAIL: usize = pos("session.detail");
    pub const SESSION_OPERATION: usize = pos("session.operation");
    pub const SESSION_CONNECTION_TYPE: usize = pos("session.connection_type");
    pub const OBJECT_OPERATION: usize = pos("object.operation");
    pub const OBJECT_NAME: usize = pos("object.name");
    pub const API_SERVICE: usize = pos("api.service");
    pub const API_ACTION: usize = pos("api.action");
    pub const API_ERROR_CODE: usize = pos("api.error_code");
    pub const API_ERROR_MESSAGE: usize = pos("api.error_message");
    pub const API_READ_ONLY: usize = pos("api.read_only");
    pub const API_EVENT_TYPE: usize = pos("api.event_type");
    pub const API_EVENT_CATEGORY: usize = pos("api.event_category");
    pub const API_VPC_ENDPOINT: usize = pos("api.vpc_endpoint");
    pub const FLOW_ACTION: usize = pos("flow.action");
    pub const FLOW_LOG_STATUS: usize = pos("flow.log_status");
    pub const FLOW_DIRECTION: usize = pos("flow.direction");
    pub const FLOW_PROTOCOL: usize = pos("flow.protocol");
    pub const FLOW_BYTES: usize = pos("flow.bytes");
    pub const FLOW_PACKETS: usize = pos("flow.packets");
    pub const FLOW_TCP_FLAGS: usize = pos("flow.tcp_flags");
    pub const FLOW_TRAFFIC_PATH: usize = pos("flow.traffic_path");
    pub const FLOW_PKT_SRC_SERVICE: usize = pos("flow.pkt_src_service");
    pub const FLOW_PKT_DST_SERVICE: usize = pos("flow.pkt_dst_service");
    pub const FLOW_INTERFACE: usize = pos("flow.interface");
    pub const FLOW_REJECT_REASON: usize = pos("flow.reject_reason");
    pub const FLOW_INSTANCE: usize = pos("flow.instance");
}

/// [`fixed`] by field index (see [`fixed_index`]): a jump table instead of string compares.
pub(crate) fn fixed_at(e: &Event<'_>, idx: usize, f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    let a = &e.actor;
    let t = &e.target;
    let en = &e.enrichment;
    let st = match &e.kind {
        Kind::Statement(st) => Some(st),
        _ => None,
    };
    let session = match &e.kind {
        Kind::Connect(x) | Kind::Disconnect(x) | Kind::FailedConnect(x) => Some(x),
        _ => None,
    };
    let api = match &e.kind {
        Kind::ApiCall(x) => Some(x),
        _ => None,
    };
    let flow = match &e.kind {
        Kind::Flow(x) => Some(x),
        _ => None,
    };
    let arc = |v: &Option<std::sync::Arc<str>>, f: &mut dyn FnMut(&Val<'_>) -> bool| match v {
        Some(x) => f(&Val::Str(Cow::Borrowed(x))),
        None => false,
    };
    match idx {
        fx::SOURCE => f(&Val::Str(Cow::Borrowed(e.source.as_str()))),
        fx::KIND => f(&Val::Str(Cow::Borrowed(e.kind.name()))),
        fx::ENGINE => f(&Val::Str(Cow::Borrowed(e.dialect.as_str()))),
        fx::ACTOR_USER => s(&a.user, f),
        fx::ACTOR_PRINCIPAL => s(&a.principal, f),
        fx::ACTOR_PRINCIPAL_TYPE => s(&a.principal_type, f),
        fx::ACTOR_SESSION_ISSUER => s(&a.session_issuer, f),
        fx::ACTOR_ACCOUNT => s(&a.account, f),
        fx::ACTOR_ACCESS_KEY => s(&a.access_key, f),
        fx::ACTOR_MFA => s(&a.mfa, f),
        fx::ACTOR_IP => opt(a.ip, Val::Ip, f),
        // The address the datastore sees: behind a NAT or an EKS pod's secondary address, the
        // flow's packet-level source (pkt-srcaddr) is the one the audit log names.
        fx::CLIENT_IP => opt(flow.and_then(|x| x.pkt_src).or(a.ip), Val::Ip, f),
        fx::SQL_ACCOUNTS => e.sql.as_ref().is_some_and(|q| {
            q.objects.iter().any(|o| {
                let name = o
                    .strip_prefix("user:")
                    .map(|u| u.rsplit_once('@').map_or(u, |(n, _)| n))
                    .or_else(|| o.strip_prefix("role:"));
                name.is_some_and(|n| !n.is_empty() && f(&Val::Str(Cow::Borrowed(n))))
            })
        }),
        fx::ACTOR_HOST => s(&a.host, f),
        fx::ACTOR_PORT => opt(a.port, int, f),
        fx::ACTOR_SESSION => s(&a.session, f),
        fx::ACTOR_USER_AGENT => s(&a.user_agent, f),
        fx::TARGET_DATASTORE => s(&t.datastore, f),
        fx::TARGET_SERVER => s(&t.server, f),
        fx::TARGET_DATABASE => s(&t.database, f),
        fx::TARGET_IP => opt(t.ip, Val::Ip, f),
        fx::TARGET_PORT => opt(t.port, int, f),
        fx::TARGET_ACCOUNT => s(&t.account, f),
        fx::TARGET_REGION => s(&t.region, f),
        fx::ZONE => arc(&en.zone, f),
        fx::PRINCIPAL_ZONE => arc(&en.principal_zone, f),
        fx::ZONE_ROLE => en
            .zone_role
            .is_some_and(|r| f(&Val::Str(Cow::Borrowed(r.as_str())))),
        fx::PRINCIPAL_ZONE_ROLE => en
            .principal_zone_role
            .is_some_and(|r| f(&Val::Str(Cow::Borrowed(r.as_str())))),
        fx::DATASTORE => arc(&en.datastore, f),
        fx::DOMAIN => arc(&en.domain, f),
        fx::CLASSIFICATION => match en.classification {
            Some(c) => f(&Val::Str(Cow::Borrowed(c.as_str()))),
            None => false,
        },
        fx::APPLICATION => arc(&en.application, f),
        fx::APPLICATION_EXPECTED => en
            .expected
            .is_some_and(|x| f(&Val::Str(Cow::Borrowed(x.as_str())))),
        fx::SQL_CLASS => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Borrowed(q.class().as_str())))),
        fx::SQL_COMMAND => e.sql.as_ref().is_some_and(|q| {
            !q.analysis.command.is_empty() && f(&Val::Str(Cow::Borrowed(&q.analysis.command)))
        }),
        fx::SQL_FLAGS => e
            .sql
            .as_ref()
            .is_some_and(|q| q.flags.names().any(|n| f(&Val::Str(Cow::Borrowed(n))))),
        fx::SQL_OBJECTS => e
            .sql
            .as_ref()
            .is_some_and(|q| q.objects.iter().any(|o| f(&Val::Str(Cow::Borrowed(o))))),
        fx::SQL_NORMALIZED => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Borrowed(&q.analysis.normalized)))),
        fx::SQL_FINGERPRINT => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Owned(format!("{:016x}", q.analysis.fingerprint))))),
        fx::SQL_FAMILY => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Owned(format!("{:016x}", q.analysis.family))))),
        fx::SQL_CATALOGS => e.sql.as_ref().is_some_and(|q| {
            q.analysis
                .catalogs
                .names()
                .any(|n| f(&Val::Str(Cow::Borrowed(n))))
        }),
        fx::STATEMENT_TEXT => st.is_some_and(|st| s(&st.text, f)),
        fx::STATEMENT_ENGINE_CLASS => st.is_some_and(|st| s(&st.engine_class, f)),
        fx::STATEMENT_ENGINE_COMMAND => st.is_some_and(|st| s(&st.engine_command, f)),
        fx::STATEMENT_OBJECT_NAME => st.is_some_and(|st| s(&st.object_name, f)),
        fx::STATEMENT_OBJECT_TYPE => st.is_some_and(|st| s(&st.object_type, f)),
        fx::STATEMENT_AUDIT_TYPE => st.is_some_and(|st| s(&st.audit_type, f)),
        fx::STATEMENT_SUCCEEDED => st.is_some_and(|st| f(&Val::Bool(st.succeeded))),
        fx::STATEMENT_RETURN_CODE => st.is_some_and(|st| opt(st.return_code, Val::Int, f)),
        fx::STATEMENT_ERROR => st.is_some_and(|st| s(&st.error, f)),
        fx::STATEMENT_ROWS => {
            st.is_some_and(|st| opt(st.rows.and_then(|r| i64::try_from(r).ok()), Val::Int, f))
        }
        fx::STATEMENT_PARAMETERS => st.is_some_and(|st| s(&st.parameter, f)),
        fx::STATEMENT_TRUNCATED => st.is_some_and(|st| f(&Val::Bool(st.truncated))),
        fx::STATEMENT_ID => {
            st.is_some_and(|st| opt(st.statement_id.and_then(|r| i64::try_from(r).ok()), Val::Int, f))
        }
        fx::STATEMENT_SUBSTATEMENT_ID => st.is_some_and(|st| {
            opt(
                st.substatement_id.and_then(|r| i64::try_from(r).ok()),
                Val::Int,
                f,
            )
        }),
        fx::STATEMENT_EXIT_CODE => st.is_some_and(|st| s(&st.exit_code, f)),
        fx::STATEMENT_ROWS_OVER_LIMIT => st.is_some_and(|st| match (st.rows, en.row_limit) {
            (Some(rows), Some(limit)) => f(&Val::Bool(rows > limit)),
            _ => false,
        }),
        fx::SESSION_RETURN_CODE => session.is_some_and(|x| opt(x.return_code, Val::Int, f)),
        fx::SESSION_DETAIL => session.is_some_and(|x| s(&x.detail, f)),
        fx::SESSION_OPERATION => session.is_some_and(|x| s(&x.operation, f)),
        fx::SESSION_CONNECTION_TYPE => session.is_some_and(|x| s(&x.connection_type, f)),
        fx::OBJECT_OPERATION => match &e.kind {
            Kind::ObjectAccess(o) => f(&Val::Str(Cow::Borrowed(&o.operation))),
            _ => false,
        },
        fx::OBJECT_NAME => match &e.kind {
            Kind::ObjectAccess(o) => f(&Val::Str(Cow::Borrowed(&o.object))),
            _ => false,
        },
        fx::API_SERVICE => api.is_some_and(|x| f(&Val::Str(Cow::Borrowed(&x.service)))),
        fx::API_ACTION => api.is_some_and(|x| f(&Val::Str(Cow::Borrowed(&x.action)))),
        fx::API_ERROR_CODE => api.is_some_and(|x| s(&x.error_code, f)),
        fx::API_ERROR_MESSAGE => api.is_some_and(|x| s(&x.error_message, f)),
        fx::API_READ_ONLY => api.is_some_and(|x| opt(x.read_only, Val::Bool, f)),
        fx::API_EVENT_TYPE => api.is_some_and(|x| s(&x.event_type, f)),
        fx::API_EVENT_CATEGORY => api.is_some_and(|x| s(&x.event_category, f)),
        fx::API_VPC_ENDPOINT => api.is_some_and(|x| s(&x.vpc_endpoint, f)),
        fx::FLOW_ACTION => flow.is_some_and(|x| s(&x.action, f)),
        fx::FLOW_LOG_STATUS => flow.is_some_and(|x| s(&x.log_status, f)),
        fx::FLOW_DIRECTION => flow.is_some_and(|x| s(&x.direction, f)),
        fx::FLOW_PROTOCOL => flow.is_some_and(|x| opt(x.protocol, int, f)),
        fx::FLOW_BYTES => flow.is_some_and(|x| opt(x.bytes.and_then(|b| i64::try_from(b).ok()), Val::Int, f)),
        fx::FLOW_PACKETS => {
            flow.is_some_and(|x| opt(x.packets.and_then(|b| i64::try_from(b).ok()), Val::Int, f))
        }
        fx::FLOW_TCP_FLAGS => flow.is_some_and(|x| opt(x.tcp_flags, int, f)),
        fx::FLOW_TRAFFIC_PATH => flow.is_some_and(|x| opt(x.traffic_path, int, f)),
        fx::FLOW_PKT_SRC_SERVICE => flow.is_some_and(|x| s(&x.pkt_src_service, f)),
        fx::FLOW_PKT_DST_SERVICE => flow.is_some_and(|x| s(&x.pkt_dst_service, f)),
        fx::FLOW_INTERFACE => flow.is_some_and(|x| s(&x.interface, f)),
        fx::FLOW_REJECT_REASON => flow.is_some_and(|x| s(&x.reject_reason, f)),
        fx::FLOW_INSTANCE => flow.is_some_and(|x| s(&x.instance, f)),
        _ => false,
    }
}

/// A short, owned rendering of a field's values in `event` (for test explanations).
pub fn describe(event: &Event<'_>, docs: &mut Docs, field: &Field) -> String {
    let mut out: Vec<String> = Vec::new();
    any_value(event, docs, field, &mut |v| {
        let shown = v
            .as_text()
            .map(|t| t.chars().take(80).collect())
            .unwrap_or_default();
        out.push(shown);
        out.len() >= 8
    });
    if out.is_empty() {
        "<absent>".to_owned()
    } else {
        format!("[{}]", out.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_indices() {
        for (i, f) in FIELDS.iter().enumerate() {
            assert_eq!(pos(f), i);
            assert_eq!(fixed_index(f), Some(i));
        }
        assert_eq!(pos("nope"), usize::MAX);
        for c in [fx::SOURCE, fx::SQL_CLASS, fx::FLOW_INSTANCE, fx::STATEMENT_TEXT] {
            assert!(c < FIELDS.len());
        }
    }

    #[test]
    fn paths() {
        assert_eq!(Field::parse("flags"), Some(Field::Fixed("sql.flags")));
        assert_eq!(
            Field::parse("api.request.ipPermissions.items"),
            Some(Field::Json(
                Doc::Request,
                vec!["ipPermissions".into(), "items".into()]
            ))
        );
        assert_eq!(Field::parse("api.request..x"), None);
        assert_eq!(Field::parse("api.requestx"), None);
        assert_eq!(Field::parse("record"), Some(Field::Json(Doc::Record, vec![])));
        assert_eq!(
            Field::parse("record.**"),
            Some(Field::Json(Doc::Record, vec![ANY_DEPTH.into()]))
        );
        assert_eq!(Field::parse("record.**.x"), None, "`**` only last");
        assert_eq!(
            Field::parse("record.userIdentity.arn")
                .map(|f| f.name())
                .as_deref(),
            Some("record.userIdentity.arn")
        );
        assert_eq!(Field::parse("actor.nope"), None);
        let json: Json = serde_json::from_str(r#"{"a":[{"b":1},{"b":"x"}],"c":true}"#).unwrap();
        let mut got = Vec::new();
        walk(&json, &["a".into(), "b".into()], &mut |v| {
            got.push(v.as_text().map(|t| t.into_owned()));
            false
        });
        assert_eq!(got, vec![Some("1".into()), Some("x".into())]);
        let mut text = Vec::new();
        walk(&json, &["a".into()], &mut |v| {
            text.push(v.as_text().map(|t| t.into_owned()));
            false
        });
        assert_eq!(
            text,
            vec![Some(r#"{"b":1}"#.into()), Some(r#"{"b":"x"}"#.into())],
            "objects as JSON text"
        );
        let mut all = Vec::new();
        walk(&json, &[ANY_DEPTH.into()], &mut |v| {
            all.push(v.as_text().map(|t| t.into_owned()));
            false
        });
        assert_eq!(all, vec![Some("1".into()), Some("x".into()), Some("true".into())]);
        let null: Json = serde_json::from_str(r#"{"a":null,"b":[null]}"#).unwrap();
        for p in ["a", "b", ANY_DEPTH] {
            assert!(!walk(&null, &[p.into()], &mut |_| true), "null is no value ({p})");
        }
    }
}
