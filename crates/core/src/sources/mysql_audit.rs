//! MySQL-family audit lines: MariaDB `server_audit`, the RDS for MySQL audit plugin and Aurora
//! MySQL advanced auditing (FORMATS.md §3).
//!
//! One layout with three producers: `timestamp,serverhost,username,host,connectionid,queryid,
//! operation,database,object,retcode[,connection_type][,]` — 10 fields (MariaDB, Aurora, older
//! RDS MySQL), 11 on RDS MySQL connection events, 12 on RDS MySQL queries (a `,,` tail). The
//! timestamp is `YYYYMMDD HH:MM:SS`, or epoch microseconds on Aurora. Only a statement is quoted.

use std::borrow::Cow;

use super::csv::{MysqlField, split_mysql};
use super::{ParseError, Parsed, Warnings, datastore_of, split_host, time_or_fallback};
use crate::diagnostic::DiagnosticKind;
use crate::envelope::RawRecord;
use crate::event::{Actor, Event, Kind, ObjectAccess, Session, Source, Statement, Target};
use crate::time;

/// Parser for MySQL-family audit lines.
#[derive(Debug)]
pub struct MysqlAuditParser {
    query_log_limit: usize,
}

impl MysqlAuditParser {
    /// A parser that considers statements logged at `query_log_limit` escaped bytes or more as
    /// cut by the audit engine.
    pub fn new(query_log_limit: usize) -> Self {
        MysqlAuditParser { query_log_limit }
    }

    /// Parse one audit line.
    pub fn parse<'a>(
        &mut self,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        let line = record.text.trim_end_matches(['\r', '\n']);
        let mut fields = Vec::with_capacity(12);
        split_mysql(line, &mut fields).map_err(ParseError::format)?;
        self.build(record, &mut fields, warnings)
    }

    fn build<'a>(
        &self,
        record: &RawRecord<'a>,
        fields: &mut Vec<MysqlField<'a>>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        // Trailing empty fields (the `,,` tail of RDS MySQL queries) are absent, not data.
        while fields.len() > 10 && fields.last().is_some_and(|f| f.value.is_empty() && !f.quoted) {
            fields.pop();
        }
        if fields.len() < 10 || fields.len() > 11 {
            return Err(ParseError::format(format!(
                "expected 10 to 12 comma-separated fields, found {}",
                fields.len()
            )));
        }
        let (object_quoted, object_raw_len) = (fields[8].quoted, fields[8].raw_len);
        let mut take = |i: usize| {
            fields
                .get_mut(i)
                .map(|f| std::mem::take(&mut f.value))
                .unwrap_or_default()
        };
        let ts_raw = take(0);
        let server = take(1);
        let user = take(2);
        let host = take(3);
        let conn = take(4);
        let query_id = take(5);
        let op = take(6);
        let database = take(7);
        let object = take(8);
        let retcode = take(9);
        let conn_type = take(10);

        let ts = time::parse_epoch_micros(&ts_raw).or_else(|| time::parse_mysql_compact(&ts_raw));
        let time = time_or_fallback(ts, &ts_raw, record, warnings);

        let mut actor = Actor {
            user: non_empty(user),
            session: non_empty(conn),
            ..Actor::default()
        };
        set_host(&mut actor, host);
        let target = Target {
            datastore: datastore_of(record),
            server: non_empty(server),
            database: non_empty(database),
            ..Target::default()
        };
        let return_code = if retcode.is_empty() {
            None
        } else {
            match retcode.parse::<i64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    warnings.push((
                        DiagnosticKind::Field,
                        format!("return code {retcode:?} is not a number"),
                    ));
                    None
                }
            }
        };
        let statement_id = match query_id.parse::<u64>() {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        };
        let session = |op: Cow<'a, str>, detail: Cow<'a, str>| Session {
            return_code,
            detail: non_empty(detail),
            connection_type: non_empty(conn_type.clone()),
            operation: Some(op),
        };
        let kind = match &*op {
            "CONNECT" | "CHANGEUSER" | "PROXY_CONNECT" => {
                if return_code.is_some_and(|c| c != 0) {
                    Kind::FailedConnect(session(op.clone(), object))
                } else {
                    Kind::Connect(session(op.clone(), object))
                }
            }
            "FAILED_CONNECT" => Kind::FailedConnect(session(op.clone(), object)),
            "DISCONNECT" => Kind::Disconnect(session(op.clone(), object)),
            "QUERY" | "QUERY_DDL" | "QUERY_DML" | "QUERY_DML_NO_SELECT" | "QUERY_DCL" => {
                if !object_quoted && !object.is_empty() {
                    warnings.push((DiagnosticKind::Format, "statement field is not quoted".into()));
                }
                Kind::Statement(Statement {
                    truncated: object_raw_len >= self.query_log_limit,
                    text: Some(object),
                    engine_class: Some(op.clone()),
                    statement_id,
                    return_code,
                    succeeded: return_code.is_none_or(|c| c == 0),
                    ..Statement::default()
                })
            }
            "READ" | "WRITE" | "CREATE" | "ALTER" | "DROP" | "RENAME" => {
                let qualified = match (&target.database, object.contains('.')) {
                    (Some(db), false) if !object.is_empty() => Cow::Owned(format!("{db}.{object}")),
                    _ => object,
                };
                Kind::ObjectAccess(ObjectAccess {
                    operation: op.clone(),
                    object: qualified,
                    statement_id,
                })
            }
            other => {
                return Err(ParseError::format(format!("unknown operation {other:?}")));
            }
        };
        let mut event = Event::new(time, Source::MysqlAudit, record.origin.clone(), kind);
        event.actor = actor;
        event.target = target;
        Ok(Parsed::Event(Box::new(event)))
    }
}

fn non_empty(s: Cow<'_, str>) -> Option<Cow<'_, str>> {
    (!s.is_empty()).then_some(s)
}

fn set_host<'a>(actor: &mut Actor<'a>, host: Cow<'a, str>) {
    let (ip, port, name) = split_host(&host);
    actor.ip = ip;
    actor.port = port;
    if name.is_some() {
        actor.host = Some(host);
    }
}

/// Whether a line has the shape of a MySQL-family audit line (for content detection).
pub fn looks_like(line: &str) -> bool {
    let Some((ts, rest)) = line.split_once(',') else {
        return false;
    };
    let ts_ok =
        (ts.len() == 16 && ts.bytes().all(|b| b.is_ascii_digit())) || time::parse_mysql_compact(ts).is_some();
    ts_ok && rest.bytes().filter(|&b| b == b',').count() >= 8
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn parse(line: &str) -> (Result<Parsed<'_>, ParseError>, Warnings) {
        let rec = RawRecord {
            text: line,
            origin: Origin::default(),
            source: None,
            envelope_time: None,
            aws: crate::envelope::AwsContext::default(),
        };
        let mut w = Vec::new();
        let mut p = MysqlAuditParser::new(1024);
        (p.parse(&rec, &mut w), w)
    }

    fn event(line: &str) -> Event<'_> {
        match parse(line) {
            (Ok(Parsed::Event(e)), w) if w.is_empty() => *e,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn rds_mysql_query_with_tail() {
        let e =
            event("20230501 10:02:19,ip-10-1-0-50,rdsadmin,localhost,7,585281,QUERY,,'select \\'x\\'',0,,");
        let Kind::Statement(st) = &e.kind else { panic!() };
        assert_eq!(st.text.as_deref(), Some("select 'x'"));
        assert_eq!(st.return_code, Some(0));
        assert!(st.succeeded);
        assert_eq!(e.actor.host.as_deref(), Some("localhost"));
        assert_eq!(e.time.to_string(), "2023-05-01T10:02:19Z");
    }

    #[test]
    fn connection_type_and_aurora_time() {
        let e = event("20221201 14:07:05,ip-10-22-1-51,rdsadmin,localhost,821,0,CONNECT,,,0,SOCKET");
        let Kind::Connect(s) = &e.kind else { panic!() };
        assert_eq!(s.connection_type.as_deref(), Some("SOCKET"));
        let e =
            event("1603439251354761,database-1-instance-1,admin,1.34.6.81,30,966941,CREATE,world,customers,");
        let Kind::ObjectAccess(o) = &e.kind else { panic!() };
        assert_eq!(o.object, "world.customers");
        assert_eq!(e.time.to_string(), "2020-10-23T07:47:31.354761Z");
    }

    #[test]
    fn failed_connect_and_mariadb12_host_port() {
        let e = event("20261128 00:25:20,vm,app,127.0.0.5,6,0,FAILED_CONNECT,,,1045");
        assert!(matches!(
            e.kind,
            Kind::FailedConnect(Session {
                return_code: Some(1045),
                ..
            })
        ));
        let e = event("20260731 09:14:22,mdb1,root,192.168.1.24:54312,7,0,CONNECT,mysql,TLSv1.3,0");
        assert_eq!(e.actor.port, Some(54312));
        let Kind::Connect(s) = &e.kind else { panic!() };
        assert_eq!(s.detail.as_deref(), Some("TLSv1.3"));
    }

    #[test]
    fn truncation_is_recognised() {
        let long = "a".repeat(1100);
        let line = format!(
            "20261128 00:25:23,vm,root,localhost,8,19,QUERY,,'SELECT \\'{}',0",
            &long[..1015]
        );
        let e = event(&line);
        let Kind::Statement(st) = &e.kind else { panic!() };
        assert!(st.truncated);
        let e = event("20261128 00:25:23,vm,root,localhost,8,19,QUERY,,'SELECT 1',0");
        let Kind::Statement(st) = &e.kind else { panic!() };
        assert!(!st.truncated);
    }

    #[test]
    fn bad_lines() {
        assert!(parse("hello").0.is_err());
        assert!(
            parse("20261128 00:25:23,vm,root,localhost,8,19,QUERY,,'unterminated,0")
                .0
                .is_err()
        );
        assert!(
            parse("20261128 00:25:23,vm,root,localhost,8,19,BOGUS,,x,0")
                .0
                .is_err()
        );
        let (r, w) = parse("TIME,HOSTNAME,root,localhost,CONNECTION_ID,QUERY_ID,QUERY,,'select 1',0,,");
        assert!(matches!(r, Ok(Parsed::Event(_))));
        assert_eq!(w[0].0, DiagnosticKind::Timestamp);
    }

    #[test]
    fn detection() {
        assert!(looks_like("20261128 00:25:20,vm,root,localhost,3,0,CONNECT,,,0"));
        assert!(looks_like(
            "1526951139360429,server-name,username,localhost,70558,0,CONNECT,,,0"
        ));
        assert!(!looks_like(
            "2 123456789010 eni-1 1.1.1.1 2.2.2.2 1 2 6 1 1 1 1 ACCEPT OK"
        ));
    }
}
