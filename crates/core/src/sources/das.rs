//! Database Activity Streams (Aurora PostgreSQL, Aurora MySQL, RDS instance streams): a
//! decrypted `DatabaseActivityMonitoringRecord` becomes one event per activity record.
//!
//! Why it reads the way it does:
//! - **One record, many events.** A Kinesis record holds one document whose
//!   `databaseActivityEventList` carries many activity events; each becomes its own event with
//!   the record's origin and its index in the list, so a bad element loses only itself.
//! - **The same SQL analysis as the audit logs.** `commandText` goes through the analyser in the
//!   dialect of the record's `serverType`, so every SQL rule and policy check reads a DAS
//!   statement as it reads the same statement from pgaudit or the MySQL audit plugin; what only
//!   the stream has (`rowCount`, `exitCode`, `errorMessage`, `clientApplication`, session,
//!   statement and sub-statement ids) fills the event fields the rules already know.
//! - **Aurora MySQL `AUX` records join their `MAIN` statement** (same `pid` — else session — and
//!   `statementId`, in the same document): their objects become the statement's, as the audit
//!   plugin's `TABLE` records name what a statement touched; an `AUX` whose `MAIN` is not in the
//!   document stays an object-access event of its own.
//! - **Noise is counted, not analysed**: heartbeats, and by default the activity of `rdsadmin`,
//!   AWS's own maintenance user.
//! - **Types as AWS sends them.** `remotePort` and `sessionId` come as strings, `exitCode` as
//!   null, a number or a string, `paramList` as an array or null; unknown fields are ignored. Every
//!   scalar is read by one tolerant type ([`Loose`]) that borrows text from the record.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{Outcome, ParseError, Parsed, Warnings, split_host, time_or_fallback};
use crate::diagnostic::DiagnosticKind;
use crate::envelope::{RawRecord, Skip};
use crate::event::{Actor, Event, Kind, ObjectAccess, Origin, Session, Source, Statement, Target};
use crate::sql::Dialect;
use crate::time;

/// The user AWS runs its own maintenance as on RDS and Aurora.
pub const RDSADMIN: &str = "rdsadmin";

/// The parser of Database Activity Streams documents and activity records.
#[derive(Clone, Debug, Default)]
pub struct DasParser {
    keep_rdsadmin: bool,
}

/// A JSON scalar as Database Activity Streams write it: text, a number, a boolean or null.
#[derive(Debug, Default)]
enum Loose<'a> {
    #[default]
    Null,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// An array or object where a scalar was expected (read past, no value).
    Other,
}

impl<'a> Loose<'a> {
    /// The value as text, `None` for null and empty strings. Numbers become their decimal text
    /// (an allocation, only for the fields AWS sometimes writes as numbers).
    fn into_text(self) -> Option<Cow<'a, str>> {
        match self {
            Loose::Text(t) if t.trim().is_empty() => None,
            Loose::Text(t) => Some(t),
            Loose::Int(n) => Some(Cow::Owned(n.to_string())),
            Loose::Float(f) => Some(Cow::Owned(f.to_string())),
            Loose::Bool(b) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            Loose::Null | Loose::Other => None,
        }
    }

    /// The value as text without consuming it, when it is text.
    fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Text(t) if !t.trim().is_empty() => Some(t),
            _ => None,
        }
    }

    /// A whole number, from a number or a numeric string.
    fn as_i64(&self) -> Option<i64> {
        match self {
            Loose::Int(n) => Some(*n),
            Loose::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            Loose::Text(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    /// A non-negative whole number.
    fn as_u64(&self) -> Option<u64> {
        self.as_i64().and_then(|n| u64::try_from(n).ok())
    }

    fn is(&self, word: &str) -> bool {
        self.as_str().is_some_and(|t| t.trim().eq_ignore_ascii_case(word))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Loose<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON scalar")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Loose<'a>, E> {
                Ok(Loose::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose<'a>, E> {
                Ok(Loose::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Loose<'a>, E> {
                Ok(Loose::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose<'a>, E> {
                Ok(Loose::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose<'a>, E> {
                Ok(i64::try_from(v).map_or(Loose::Float(v as f64), Loose::Int))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Loose<'a>, E> {
                Ok(Loose::Float(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Loose<'a>, E> {
                Ok(Loose::Bool(v))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Loose<'a>, E> {
                Ok(Loose::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Loose<'a>, E> {
                Ok(Loose::Null)
            }
            fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Loose<'a>, D2::Error> {
                Loose::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A decrypted document, or the record wrapper around one (as AWS's documentation prints it),
/// or — when neither key is present — one activity record.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Document<'a> {
    #[serde(rename = "clusterId", borrow)]
    cluster_id: Loose<'a>,
    #[serde(rename = "instanceId", borrow)]
    instance_id: Loose<'a>,
    #[serde(rename = "databaseActivityEventList", borrow)]
    list: Option<Vec<&'a RawValue>>,
    #[serde(rename = "databaseActivityEvents", borrow)]
    inner: Option<&'a RawValue>,
}

/// One element of `databaseActivityEventList` (both engines; unknown fields ignored).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Activity<'a> {
    #[serde(rename = "type", borrow)]
    kind: Loose<'a>,
    #[serde(borrow)]
    class: Loose<'a>,
    #[serde(borrow)]
    command: Loose<'a>,
    #[serde(borrow)]
    command_text: Loose<'a>,
    #[serde(borrow)]
    database_name: Loose<'a>,
    #[serde(borrow)]
    db_user_name: Loose<'a>,
    #[serde(borrow)]
    remote_host: Loose<'a>,
    #[serde(borrow)]
    remote_port: Loose<'a>,
    #[serde(borrow)]
    server_host: Loose<'a>,
    #[serde(borrow)]
    server_type: Loose<'a>,
    #[serde(borrow)]
    session_id: Loose<'a>,
    #[serde(borrow)]
    pid: Loose<'a>,
    #[serde(borrow)]
    statement_id: Loose<'a>,
    #[serde(borrow)]
    substatement_id: Loose<'a>,
    #[serde(borrow)]
    object_type: Loose<'a>,
    #[serde(borrow)]
    object_name: Loose<'a>,
    #[serde(borrow)]
    param_list: Option<&'a RawValue>,
    #[serde(borrow)]
    row_count: Loose<'a>,
    #[serde(borrow)]
    exit_code: Loose<'a>,
    #[serde(borrow)]
    error_message: Loose<'a>,
    #[serde(borrow)]
    start_time: Loose<'a>,
    #[serde(borrow)]
    log_time: Loose<'a>,
    #[serde(borrow)]
    client_application: Loose<'a>,
    #[serde(borrow)]
    net_protocol: Loose<'a>,
}

/// What a `MAIN` and its `AUX` records share: the server process (else the session) and the
/// statement id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Part<'s> {
    Int(i64),
    Text(&'s str),
}

fn part<'s>(v: &'s Loose<'_>) -> Option<Part<'s>> {
    match v {
        Loose::Int(n) => Some(Part::Int(*n)),
        Loose::Text(t) => match t.trim().parse::<i64>() {
            Ok(n) => Some(Part::Int(n)),
            Err(_) if !t.trim().is_empty() => Some(Part::Text(t.trim())),
            Err(_) => None,
        },
        _ => None,
    }
}

impl<'a> Activity<'a> {
    fn join_key(&self) -> Option<(Part<'_>, Part<'_>)> {
        let process = part(&self.pid).or_else(|| part(&self.session_id))?;
        Some((process, part(&self.statement_id)?))
    }

    fn dialect(&self) -> Dialect {
        match self.server_type.as_str() {
            Some(t) if t.to_ascii_lowercase().contains("postgres") => Dialect::Postgres,
            Some(t) if t.to_ascii_lowercase().contains("mysql") => Dialect::Mysql,
            Some(_) => Dialect::Generic,
            // Only Aurora MySQL writes MAIN / AUX.
            None if self.class.is("MAIN") || self.class.is("AUX") => Dialect::Mysql,
            None => Dialect::Generic,
        }
    }
}

/// The document-level facts every activity event of a document shares.
#[derive(Clone, Default)]
struct Context<'a> {
    datastore: Option<Cow<'a, str>>,
}

impl DasParser {
    /// A parser that keeps (`true`) or counts and skips (`false`, the default) the activity of
    /// `rdsadmin`.
    pub fn new(keep_rdsadmin: bool) -> Self {
        DasParser { keep_rdsadmin }
    }

    /// Parse a record: a decrypted `DatabaseActivityMonitoringRecord` (one outcome per activity
    /// record, [`Parsed::Many`]), the record wrapper around one as AWS documents it, or a single
    /// activity record (as rule tests and flattened exports hold them).
    pub fn parse<'a>(
        &self,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        self.parse_text(record.text, record, warnings, 0)
    }

    fn parse_text<'a>(
        &self,
        text: &'a str,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
        depth: u8,
    ) -> Result<Parsed<'a>, ParseError> {
        let doc: Document<'a> = serde_json::from_str(text).map_err(|e| ParseError {
            kind: DiagnosticKind::Json,
            reason: format!("not a Database Activity Streams document: {e}"),
        })?;
        if let Some(inner) = doc.inner {
            let inner = inner.get();
            if inner.trim_start().starts_with('"') {
                return Err(ParseError {
                    kind: DiagnosticKind::Unsupported,
                    reason: "an encrypted activity record: decrypt it first (`laneguard replay --kms`, or the das \
                             function)"
                        .into(),
                });
            }
            if depth > 0 {
                return Err(ParseError::format("activity records nested twice"));
            }
            return self.parse_text(inner, record, warnings, depth + 1);
        }
        let context = Context {
            datastore: doc.cluster_id.into_text().or_else(|| doc.instance_id.into_text()),
        };
        let Some(list) = doc.list else {
            let activity: Activity<'a> = serde_json::from_str(text).map_err(|e| ParseError {
                kind: DiagnosticKind::Json,
                reason: format!("not an activity record: {e}"),
            })?;
            return self.activity(activity, None, &context, record, record.origin.clone(), warnings);
        };
        let mut outcomes = Vec::with_capacity(list.len());
        let activities: Vec<Result<Activity<'a>, serde_json::Error>> =
            list.iter().map(|raw| serde_json::from_str(raw.get())).collect();
        let joined = join_aux(&activities);
        for (i, (activity, joined)) in activities.into_iter().zip(joined).enumerate() {
            let origin = Origin {
                index: u32::try_from(i).ok(),
                ..record.origin.clone()
            };
            let parsed = match (activity, joined) {
                (_, Joined::Into) => Ok(Parsed::Skip(Skip::AuxJoined)),
                (Ok(a), Joined::Main(objects)) => {
                    self.activity(a, objects, &context, record, origin.clone(), warnings)
                }
                (Ok(a), Joined::No) => self.activity(a, None, &context, record, origin.clone(), warnings),
                (Err(e), _) => Err(ParseError {
                    kind: DiagnosticKind::Json,
                    reason: format!("activity record #{i}: {e}"),
                }),
            };
            outcomes.push(Outcome { origin, parsed });
        }
        Ok(Parsed::Many(outcomes))
    }

    /// One activity record → an event, or a skip.
    fn activity<'a>(
        &self,
        a: Activity<'a>,
        joined_objects: Option<String>,
        context: &Context<'a>,
        record: &RawRecord<'a>,
        origin: Origin<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        match a.kind.as_str().map(str::trim) {
            None => {}
            Some(t) if t.eq_ignore_ascii_case("record") => {}
            Some(t) if t.eq_ignore_ascii_case("heartbeat") => return Ok(Parsed::Skip(Skip::Heartbeat)),
            Some(t) => {
                return Err(ParseError::format(format!(
                    "activity event of type {:?} (expected record or heartbeat)",
                    super::truncate_for_message(t, 40)
                )));
            }
        }
        if !self.keep_rdsadmin && a.db_user_name.is(RDSADMIN) {
            return Ok(Parsed::Skip(Skip::RdsAdmin));
        }
        let dialect = a.dialect();
        let raw_time = a.log_time.as_str().or(a.start_time.as_str());
        let time = match raw_time {
            Some(raw) => time_or_fallback(time::parse_pg(raw), raw, record, warnings),
            None => time_or_fallback(None, "", record, warnings),
        };
        let error = a.error_message.into_text();
        let exit_code = a.exit_code.into_text();
        let failed = error.is_some()
            || a.class.is("ERROR")
            || exit_code
                .as_deref()
                .is_some_and(|c| !matches!(c.trim(), "0" | "00000"));
        let return_code = match dialect {
            Dialect::Mysql => exit_code.as_deref().and_then(|c| c.trim().parse::<i64>().ok()),
            _ => None,
        };
        let mut actor = Actor {
            user: a.db_user_name.into_text(),
            session: a.session_id.into_text(),
            user_agent: a.client_application.into_text(),
            ..Actor::default()
        };
        let (ip, port, named) = match a.remote_host.as_str() {
            Some(host) => {
                let (ip, port, name) = split_host(host.trim());
                (ip, port, name.is_some())
            }
            None => (None, None, false),
        };
        actor.ip = ip;
        actor.port = port;
        if named {
            actor.host = a.remote_host.into_text();
        }
        if actor.port.is_none() {
            actor.port = a.remote_port.as_i64().and_then(|p| u16::try_from(p).ok());
        }
        let target = Target {
            datastore: context.datastore.clone(),
            server: a.server_host.into_text(),
            database: a.database_name.into_text(),
            ..Target::default()
        };
        let command = a.command.as_str().map(str::trim).unwrap_or("");
        let session = |a_net: Loose<'a>, command: Loose<'a>| Session {
            return_code,
            detail: error.clone(),
            connection_type: a_net.into_text(),
            operation: command.into_text(),
        };
        let kind = if is_any(
            command,
            &["CONNECT", "CHANGEUSER", "LOGON", "LOGIN", "LOGIN SUCCEEDED"],
        ) {
            if failed {
                Kind::FailedConnect(session(a.net_protocol, a.command))
            } else {
                Kind::Connect(session(a.net_protocol, a.command))
            }
        } else if is_any(command, &["DISCONNECT", "LOGOFF", "LOGOUT"]) {
            Kind::Disconnect(session(a.net_protocol, a.command))
        } else if is_any(command, &["FAILED_CONNECT", "LOGIN FAILED"]) {
            Kind::FailedConnect(session(a.net_protocol, a.command))
        } else if a.class.is("AUX") {
            // An AUX record whose MAIN is not in this document: the object it names.
            let Some(object) = a.object_name.into_text() else {
                return Ok(Parsed::Skip(Skip::NoActivity));
            };
            let operation = a.command.into_text().unwrap_or(Cow::Borrowed("AUX"));
            let object = match target.database.as_deref() {
                Some(db) if !object.contains('.') => Cow::Owned(format!("{db}.{object}")),
                _ => object,
            };
            Kind::ObjectAccess(ObjectAccess {
                operation,
                object,
                statement_id: a.statement_id.as_u64(),
            })
        } else {
            let object_name = match joined_objects {
                Some(all) => Some(Cow::Owned(all)),
                None => a.object_name.into_text(),
            };
            let parameter = a
                .param_list
                .map(RawValue::get)
                .filter(|p| !matches!(p.trim(), "[]" | "null" | ""))
                .map(Cow::Borrowed);
            Kind::Statement(Statement {
                text: a.command_text.into_text(),
                engine_class: a.class.into_text(),
                engine_command: a.command.into_text(),
                audit_type: None,
                object_type: a.object_type.into_text(),
                object_name,
                statement_id: a.statement_id.as_u64(),
                substatement_id: a.substatement_id.as_u64(),
                parameter,
                rows: a.row_count.as_u64(),
                return_code,
                exit_code,
                error,
                succeeded: !failed,
                truncated: false,
            })
        };
        let mut event = Event::new(time, Source::Das, origin, kind);
        event.actor = actor;
        event.target = target;
        event.dialect = dialect;
        Ok(Parsed::Event(Box::new(event)))
    }
}

fn is_any(command: &str, words: &[&str]) -> bool {
    words.iter().any(|w| command.eq_ignore_ascii_case(w))
}

/// How an activity record takes part in a MAIN/AUX join.
enum Joined {
    No,
    /// A MAIN record, with the object list of itself and its AUX records.
    Main(Option<String>),
    /// An AUX record joined to an earlier MAIN record.
    Into,
}

/// Join each Aurora MySQL `AUX` record to the latest earlier `MAIN` record of the same
/// process (else session) and statement id; a MAIN gets its own objects and its AUX records'
/// as one comma-separated list (allocated only for statements that have AUX records).
fn join_aux(activities: &[Result<Activity<'_>, serde_json::Error>]) -> Vec<Joined> {
    let mut out: Vec<Joined> = activities.iter().map(|_| Joined::No).collect();
    if !activities
        .iter()
        .any(|a| a.as_ref().is_ok_and(|a| a.class.is("AUX")))
    {
        return out;
    }
    let mut mains: HashMap<(Part<'_>, Part<'_>), usize> = HashMap::new();
    let mut objects: Vec<Option<String>> = activities.iter().map(|_| None).collect();
    for (i, a) in activities.iter().enumerate() {
        let Ok(a) = a else { continue };
        let Some(key) = a.join_key() else { continue };
        if a.class.is("MAIN") {
            mains.insert(key, i);
        } else if a.class.is("AUX")
            && let Some(&main) = mains.get(&key)
        {
            let list = objects[main].get_or_insert_with(|| {
                activities[main]
                    .as_ref()
                    .ok()
                    .and_then(|m| m.object_name.as_str())
                    .unwrap_or("")
                    .to_owned()
            });
            if let Some(name) = a.object_name.as_str() {
                if !list.is_empty() {
                    list.push(',');
                }
                list.push_str(name.trim());
            }
            out[i] = Joined::Into;
        }
    }
    for (i, o) in objects.into_iter().enumerate() {
        if let Some(list) = o {
            out[i] = Joined::Main(Some(list));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(text: &str) -> RawRecord<'_> {
        RawRecord {
            text,
            origin: Origin::default(),
            source: Some(Source::Das),
            envelope_time: None,
            aws: crate::envelope::AwsContext::default(),
        }
    }

    fn events<'a>(p: Parsed<'a>) -> Vec<Result<Parsed<'a>, ParseError>> {
        match p {
            Parsed::Many(v) => v.into_iter().map(|o| o.parsed).collect(),
            other => vec![Ok(other)],
        }
    }

    #[test]
    fn loose_scalars() {
        let a: Activity<'_> = serde_json::from_str(
            r#"{"remotePort":"49804","exitCode":null,"rowCount":10,"sessionId":725121,"pid":[1],"statementId":"7","unknown":{"x":1}}"#,
        )
        .unwrap();
        assert_eq!(a.remote_port.as_i64(), Some(49804));
        assert!(matches!(a.exit_code, Loose::Null));
        assert_eq!(a.row_count.as_u64(), Some(10));
        assert_eq!(a.session_id.into_text().as_deref(), Some("725121"));
        assert!(matches!(a.pid, Loose::Other));
        assert_eq!(a.statement_id.as_u64(), Some(7));
    }

    #[test]
    fn mysql_main_and_aux_join_and_failures() {
        let doc = r#"{"type":"DatabaseActivityMonitoringRecord","clusterId":"cluster-A","instanceId":"db-B","databaseActivityEventList":[
          {"type":"heartbeat"},
          {"type":"record","class":"MAIN","command":"QUERY","commandText":"INSERT INTO t2 SELECT * FROM t1","objectName":"t2","pid":7,"statementId":9,"dbUserName":"app","databaseName":"shop","serverType":"MySQL","exitCode":"0","rowCount":2,"logTime":"2020-05-22 18:30:01.000120+00"},
          {"type":"record","class":"AUX","command":"READ","objectName":"t1","pid":"7","statementId":9,"dbUserName":"app","serverType":"MySQL"},
          {"type":"record","class":"AUX","command":"READ","objectName":"t3","pid":8,"statementId":1,"dbUserName":"app","databaseName":"shop","serverType":"MySQL","logTime":"2020-05-22 18:30:02+00"},
          {"type":"record","class":"MAIN","command":"QUERY","commandText":"SELEC 1","pid":7,"statementId":10,"dbUserName":"app","serverType":"MySQL","exitCode":1064,"errorMessage":"syntax","logTime":"2020-05-22 18:30:03+00"},
          {"type":"record","dbUserName":"rdsadmin","command":"CONNECT","logTime":"2020-05-22 18:30:03+00"},
          7
        ]}"#;
        let mut w = Warnings::new();
        let out = events(DasParser::default().parse(&record(doc), &mut w).unwrap());
        assert_eq!(out.len(), 7);
        assert!(matches!(out[0], Ok(Parsed::Skip(Skip::Heartbeat))));
        let Ok(Parsed::Event(main)) = &out[1] else {
            panic!("{:?}", out[1])
        };
        let Kind::Statement(st) = &main.kind else { panic!() };
        assert_eq!(st.object_name.as_deref(), Some("t2,t1"));
        assert_eq!((st.rows, st.return_code, st.succeeded), (Some(2), Some(0), true));
        assert_eq!(main.dialect, Dialect::Mysql);
        assert_eq!(main.target.datastore.as_deref(), Some("cluster-A"));
        assert!(matches!(out[2], Ok(Parsed::Skip(Skip::AuxJoined))));
        let Ok(Parsed::Event(orphan)) = &out[3] else {
            panic!()
        };
        let Kind::ObjectAccess(o) = &orphan.kind else {
            panic!()
        };
        assert_eq!((&*o.operation, &*o.object), ("READ", "shop.t3"));
        let Ok(Parsed::Event(failed)) = &out[4] else {
            panic!()
        };
        let Kind::Statement(st) = &failed.kind else {
            panic!()
        };
        assert_eq!(
            (st.return_code, st.succeeded, st.exit_code.as_deref()),
            (Some(1064), false, Some("1064"))
        );
        assert!(matches!(out[5], Ok(Parsed::Skip(Skip::RdsAdmin))));
        assert_eq!(out[6].as_ref().unwrap_err().kind, DiagnosticKind::Json);
        assert!(w.is_empty(), "{w:?}");
        let kept = events(DasParser::new(true).parse(&record(doc), &mut w).unwrap());
        assert!(matches!(&kept[5], Ok(Parsed::Event(e)) if matches!(e.kind, Kind::Connect(_))));
        assert_eq!(w.len(), 0);
    }

    #[test]
    fn postgres_sqlstate_and_single_records() {
        let text = r#"{"type":"record","class":"READ","command":"SELECT","commandText":"select 1/0","serverType":"PostgreSQL","dbUserName":"app","remoteHost":"10.0.16.5","remotePort":"5000","exitCode":"22012","errorMessage":"division by zero","logTime":"2019-05-24 00:39:49.940668+00","clientApplication":"psql","sessionId":"5ce73c6f.7e64","statementId":6,"substatementId":1}"#;
        let mut w = Warnings::new();
        let Parsed::Event(e) = DasParser::default().parse(&record(text), &mut w).unwrap() else {
            panic!()
        };
        let Kind::Statement(st) = &e.kind else { panic!() };
        assert_eq!(
            (st.return_code, st.exit_code.as_deref(), st.succeeded),
            (None, Some("22012"), false)
        );
        assert_eq!(e.dialect, Dialect::Postgres);
        assert_eq!(e.actor.port, Some(5000));
        assert_eq!(e.actor.user_agent.as_deref(), Some("psql"));
        assert_eq!(e.time.to_string(), "2019-05-24T00:39:49.940668Z");
        let wrapped = format!(
            r#"{{"type":"DatabaseActivityMonitoringRecords","version":"1.1","databaseActivityEvents":{{"type":"DatabaseActivityMonitoringRecord","clusterId":"cluster-x","databaseActivityEventList":[{text}]}},"key":"k"}}"#
        );
        assert_eq!(
            events(DasParser::default().parse(&record(&wrapped), &mut w).unwrap()).len(),
            1
        );
        let sealed = r#"{"type":"DatabaseActivityMonitoringRecords","version":"1.2","databaseActivityEvents":"AYAD","key":"AQID"}"#;
        let err = DasParser::default().parse(&record(sealed), &mut w).unwrap_err();
        assert_eq!(err.kind, DiagnosticKind::Unsupported);
        let no_time = r#"{"type":"record","command":"QUERY","commandText":"SELECT 1","logTime":"yesterday"}"#;
        assert!(DasParser::default().parse(&record(no_time), &mut w).is_ok());
        assert_eq!(w.len(), 1, "an unreadable time is a warning");
    }
}
