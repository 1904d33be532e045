//! Field paths: how a rule names a part of an event (`actor.user`, `sql.flags`,
//! `api.request.publiclyAccessible`, …).
//!
//! Paths are resolved once, when a rule loads, into a [`Field`]; evaluating a field walks the
//! event directly and hands each value to a callback (no per-event allocation, except the parse of
//! a CloudTrail request/response document, done at most once per event and only when a rule asks
//! for a path inside it).

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
    /// A JSON object or array at the end of a path: present, not a scalar.
    Present,
}

impl Val<'_> {
    /// The value as text, for keyword and regex matching.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Val::Str(s) => Some(Cow::Borrowed(s)),
            Val::Int(n) => Some(Cow::Owned(n.to_string())),
            Val::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Val::Ip(ip) => Some(Cow::Owned(ip.to_string())),
            Val::Present => None,
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
}

/// A resolved field path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A fixed field, by its canonical path.
    Fixed(&'static str),
    /// A path inside a CloudTrail document.
    Json(Doc, Vec<String>),
}

/// Every fixed field path, canonical name first; aliases map to these.
pub const FIELDS: &[&str] = &[
    "source",
    "kind",
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
    "target.datastore",
    "target.server",
    "target.database",
    "target.ip",
    "target.port",
    "target.account",
    "target.region",
    "zone",
    "principal_zone",
    "datastore",
    "domain",
    "classification",
    "sql.class",
    "sql.command",
    "sql.flags",
    "sql.objects",
    "sql.normalized",
    "sql.fingerprint",
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
    "statement.truncated",
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
        for (prefix, doc) in [
            ("api.request.", Doc::Request),
            ("api.response.", Doc::Response),
            ("api.additional.", Doc::Additional),
        ] {
            if let Some(rest) = canonical.strip_prefix(prefix) {
                let segments: Vec<String> = rest.split('.').map(str::to_owned).collect();
                if segments.iter().any(String::is_empty) {
                    return None;
                }
                return Some(Field::Json(doc, segments));
            }
        }
        match canonical {
            "api.request" => Some(Field::Json(Doc::Request, Vec::new())),
            "api.response" => Some(Field::Json(Doc::Response, Vec::new())),
            "api.additional" => Some(Field::Json(Doc::Additional, Vec::new())),
            _ => None,
        }
    }

    /// The path as written canonically (for messages).
    pub fn name(&self) -> String {
        match self {
            Field::Fixed(f) => (*f).to_owned(),
            Field::Json(doc, path) => {
                let d = match doc {
                    Doc::Request => "api.request",
                    Doc::Response => "api.response",
                    Doc::Additional => "api.additional",
                };
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
}

impl Docs {
    fn get(&mut self, event: &Event<'_>, doc: Doc) -> Option<&Json> {
        let Kind::ApiCall(api) = &event.kind else {
            return None;
        };
        let (slot, raw) = match doc {
            Doc::Request => (&mut self.request, api.request),
            Doc::Response => (&mut self.response, api.response),
            Doc::Additional => (&mut self.additional, api.additional),
        };
        slot.get_or_insert_with(|| raw.and_then(|r| serde_json::from_str(r.get()).ok()))
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

fn walk(node: &Json, path: &[String], f: &mut dyn FnMut(&Val<'_>) -> bool) -> bool {
    match node {
        Json::Array(items) => items.iter().any(|i| walk(i, path, f)),
        Json::Object(map) => match path.split_first() {
            Some((head, rest)) => map.get(head).is_some_and(|child| walk(child, rest, f)),
            None => f(&Val::Present),
        },
        _ if !path.is_empty() => false,
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
    match name {
        "source" => f(&Val::Str(Cow::Borrowed(e.source.as_str()))),
        "kind" => f(&Val::Str(Cow::Borrowed(e.kind.name()))),
        "actor.user" => s(&a.user, f),
        "actor.principal" => s(&a.principal, f),
        "actor.principal_type" => s(&a.principal_type, f),
        "actor.session_issuer" => s(&a.session_issuer, f),
        "actor.account" => s(&a.account, f),
        "actor.access_key" => s(&a.access_key, f),
        "actor.mfa" => s(&a.mfa, f),
        "actor.ip" => opt(a.ip, Val::Ip, f),
        "actor.host" => s(&a.host, f),
        "actor.port" => opt(a.port, int, f),
        "actor.session" => s(&a.session, f),
        "actor.user_agent" => s(&a.user_agent, f),
        "target.datastore" => s(&t.datastore, f),
        "target.server" => s(&t.server, f),
        "target.database" => s(&t.database, f),
        "target.ip" => opt(t.ip, Val::Ip, f),
        "target.port" => opt(t.port, int, f),
        "target.account" => s(&t.account, f),
        "target.region" => s(&t.region, f),
        "zone" => arc(&en.zone, f),
        "principal_zone" => arc(&en.principal_zone, f),
        "datastore" => arc(&en.datastore, f),
        "domain" => arc(&en.domain, f),
        "classification" => match en.classification {
            Some(c) => f(&Val::Str(Cow::Borrowed(c.as_str()))),
            None => false,
        },
        "sql.class" => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Borrowed(q.class().as_str())))),
        "sql.command" => e.sql.as_ref().is_some_and(|q| {
            !q.analysis.command.is_empty() && f(&Val::Str(Cow::Borrowed(&q.analysis.command)))
        }),
        "sql.flags" => e
            .sql
            .as_ref()
            .is_some_and(|q| q.flags.names().any(|n| f(&Val::Str(Cow::Borrowed(n))))),
        "sql.objects" => e
            .sql
            .as_ref()
            .is_some_and(|q| q.objects.iter().any(|o| f(&Val::Str(Cow::Borrowed(o))))),
        "sql.normalized" => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Borrowed(&q.analysis.normalized)))),
        "sql.fingerprint" => e
            .sql
            .as_ref()
            .is_some_and(|q| f(&Val::Str(Cow::Owned(format!("{:016x}", q.analysis.fingerprint))))),
        "statement.text" => st.is_some_and(|st| s(&st.text, f)),
        "statement.engine_class" => st.is_some_and(|st| s(&st.engine_class, f)),
        "statement.engine_command" => st.is_some_and(|st| s(&st.engine_command, f)),
        "statement.object_name" => st.is_some_and(|st| s(&st.object_name, f)),
        "statement.object_type" => st.is_some_and(|st| s(&st.object_type, f)),
        "statement.audit_type" => st.is_some_and(|st| s(&st.audit_type, f)),
        "statement.succeeded" => st.is_some_and(|st| f(&Val::Bool(st.succeeded))),
        "statement.return_code" => st.is_some_and(|st| opt(st.return_code, Val::Int, f)),
        "statement.error" => st.is_some_and(|st| s(&st.error, f)),
        "statement.rows" => {
            st.is_some_and(|st| opt(st.rows.and_then(|r| i64::try_from(r).ok()), Val::Int, f))
        }
        "statement.truncated" => st.is_some_and(|st| f(&Val::Bool(st.truncated))),
        "session.return_code" => session.is_some_and(|x| opt(x.return_code, Val::Int, f)),
        "session.detail" => session.is_some_and(|x| s(&x.detail, f)),
        "session.operation" => session.is_some_and(|x| s(&x.operation, f)),
        "session.connection_type" => session.is_some_and(|x| s(&x.connection_type, f)),
        "object.operation" => match &e.kind {
            Kind::ObjectAccess(o) => f(&Val::Str(Cow::Borrowed(&o.operation))),
            _ => false,
        },
        "object.name" => match &e.kind {
            Kind::ObjectAccess(o) => f(&Val::Str(Cow::Borrowed(&o.object))),
            _ => false,
        },
        "api.service" => api.is_some_and(|x| f(&Val::Str(Cow::Borrowed(&x.service)))),
        "api.action" => api.is_some_and(|x| f(&Val::Str(Cow::Borrowed(&x.action)))),
        "api.error_code" => api.is_some_and(|x| s(&x.error_code, f)),
        "api.error_message" => api.is_some_and(|x| s(&x.error_message, f)),
        "api.read_only" => api.is_some_and(|x| opt(x.read_only, Val::Bool, f)),
        "api.event_type" => api.is_some_and(|x| s(&x.event_type, f)),
        "api.event_category" => api.is_some_and(|x| s(&x.event_category, f)),
        "api.vpc_endpoint" => api.is_some_and(|x| s(&x.vpc_endpoint, f)),
        "flow.action" => flow.is_some_and(|x| s(&x.action, f)),
        "flow.log_status" => flow.is_some_and(|x| s(&x.log_status, f)),
        "flow.direction" => flow.is_some_and(|x| s(&x.direction, f)),
        "flow.protocol" => flow.is_some_and(|x| opt(x.protocol, int, f)),
        "flow.bytes" => flow.is_some_and(|x| opt(x.bytes.and_then(|b| i64::try_from(b).ok()), Val::Int, f)),
        "flow.packets" => {
            flow.is_some_and(|x| opt(x.packets.and_then(|b| i64::try_from(b).ok()), Val::Int, f))
        }
        "flow.tcp_flags" => flow.is_some_and(|x| opt(x.tcp_flags, int, f)),
        "flow.traffic_path" => flow.is_some_and(|x| opt(x.traffic_path, int, f)),
        "flow.pkt_src_service" => flow.is_some_and(|x| s(&x.pkt_src_service, f)),
        "flow.pkt_dst_service" => flow.is_some_and(|x| s(&x.pkt_dst_service, f)),
        "flow.interface" => flow.is_some_and(|x| s(&x.interface, f)),
        "flow.reject_reason" => flow.is_some_and(|x| s(&x.reject_reason, f)),
        "flow.instance" => flow.is_some_and(|x| s(&x.instance, f)),
        _ => false,
    }
}

/// A short, owned rendering of a field's values in `event` (for test explanations).
pub fn describe(event: &Event<'_>, docs: &mut Docs, field: &Field) -> String {
    let mut out: Vec<String> = Vec::new();
    any_value(event, docs, field, &mut |v| {
        let shown = match v {
            Val::Present => "<object>".to_owned(),
            other => other
                .as_text()
                .map(|t| t.chars().take(80).collect())
                .unwrap_or_default(),
        };
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
        assert_eq!(Field::parse("actor.nope"), None);
        let json: Json = serde_json::from_str(r#"{"a":[{"b":1},{"b":"x"}],"c":true}"#).unwrap();
        let mut got = Vec::new();
        walk(&json, &["a".into(), "b".into()], &mut |v| {
            got.push(v.as_text().map(|t| t.into_owned()));
            false
        });
        assert_eq!(got, vec![Some("1".into()), Some("x".into())]);
    }
}
