//! PostgreSQL log entries: pgaudit `AUDIT:` lines, connection and authentication lines,
//! `log_statement` lines, and `ERROR` + `STATEMENT` pairs (FORMATS.md §4).
//!
//! Every entry starts with `log_line_prefix` — on RDS the fixed `%t:%r:%u@%d:[%p]:` — then
//! `SEVERITY:`, spaces and the message; continuation lines of a multi-line entry have no prefix.
//! The prefix is compiled from its `%` template once ([`LinePrefix`]), so non-RDS prefixes work
//! too, and the regression-output form without any prefix (`NOTICE:  AUDIT: …`) is accepted.
//!
//! A statement refused by a permission check leaves no `AUDIT` line, only `ERROR:` and then
//! `STATEMENT:` from the same backend; the parser keeps the last error per backend and turns the
//! `STATEMENT` into a failed-statement event — a denied attempt is evidence too.

use std::borrow::Cow;
use std::collections::HashMap;

use super::csv::split_rfc4180;
use super::{ParseError, Parsed, Warnings, datastore_of, split_host, time_or_fallback};
use crate::diagnostic::DiagnosticKind;
use crate::envelope::{RawRecord, Skip};
use crate::event::{Actor, Event, Kind, Session, Source, Statement, Target};
use crate::time;

/// One element of a compiled `log_line_prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// `%t` / `%m` / `%n`: a timestamp.
    Time,
    /// `%r`: `host(port)` or `[local]`.
    Remote,
    /// `%h`: host.
    Host,
    /// `%u`: user.
    User,
    /// `%d`: database.
    Database,
    /// `%p`: backend pid.
    Pid,
    /// `%a`: application name.
    App,
    /// Any other escape: read and ignored.
    Other,
}

/// A compiled PostgreSQL `log_line_prefix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinePrefix {
    template: String,
    parts: Vec<Part>,
}

impl Default for LinePrefix {
    /// RDS's prefix, `%t:%r:%u@%d:[%p]:`.
    fn default() -> Self {
        // The RDS template only uses escapes this parser knows.
        LinePrefix::compile(RDS_PREFIX).unwrap_or_else(|_| LinePrefix {
            template: String::new(),
            parts: Vec::new(),
        })
    }
}

/// The `log_line_prefix` RDS and Aurora PostgreSQL use.
pub const RDS_PREFIX: &str = "%t:%r:%u@%d:[%p]:";

/// The fields a prefix gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PrefixFields<'a> {
    time: Option<&'a str>,
    remote: Option<&'a str>,
    host: Option<&'a str>,
    user: Option<&'a str>,
    database: Option<&'a str>,
    pid: Option<&'a str>,
    app: Option<&'a str>,
}

const LEVELS: &[&str] = &[
    "LOG",
    "ERROR",
    "FATAL",
    "STATEMENT",
    "DETAIL",
    "HINT",
    "WARNING",
    "NOTICE",
    "INFO",
    "CONTEXT",
    "QUERY",
    "LOCATION",
    "PANIC",
    "DEBUG1",
    "DEBUG2",
    "DEBUG3",
    "DEBUG4",
    "DEBUG5",
    "DEBUG",
];

impl LinePrefix {
    /// Compile a `log_line_prefix` template (`%t:%r:%u@%d:[%p]:`).
    pub fn compile(template: &str) -> Result<LinePrefix, String> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut chars = template.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                lit.push(c);
                continue;
            }
            let Some(e) = chars.next() else {
                return Err("log_line_prefix ends with a lone %".into());
            };
            // `%-10u` style padding is not used by RDS; reject rather than misparse.
            let part = match e {
                '%' => {
                    lit.push('%');
                    continue;
                }
                't' | 'm' | 'n' => Part::Time,
                'r' => Part::Remote,
                'h' => Part::Host,
                'u' => Part::User,
                'd' => Part::Database,
                'p' => Part::Pid,
                'a' => Part::App,
                'q' => {
                    // `%q`: stop here in non-session processes; the rest is optional. Keep the
                    // template up to here: the fields after it are informational.
                    break;
                }
                'l' | 'e' | 's' | 'v' | 'x' | 'c' | 'i' | 'b' | 'Q' | 'P' | 'L' => Part::Other,
                other => return Err(format!("unsupported log_line_prefix escape %{other}")),
            };
            if !lit.is_empty() {
                parts.push(Part::Literal(std::mem::take(&mut lit)));
            }
            parts.push(part);
        }
        if !lit.is_empty() {
            parts.push(Part::Literal(lit));
        }
        if parts.is_empty() {
            return Err("empty log_line_prefix".into());
        }
        Ok(LinePrefix {
            template: template.to_owned(),
            parts,
        })
    }

    /// The template this was compiled from.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Match the prefix at the start of `line`; returns the fields and the rest of the line.
    pub fn strip<'a>(&self, line: &'a str) -> Option<(PrefixFields<'a>, &'a str)> {
        let mut f = PrefixFields::default();
        let mut rest = line;
        for (i, part) in self.parts.iter().enumerate() {
            let next_lit = match self.parts.get(i + 1) {
                Some(Part::Literal(l)) => l.chars().next(),
                _ => None,
            };
            match part {
                Part::Literal(l) => rest = rest.strip_prefix(l.as_str())?,
                Part::Time => {
                    let n = time_len(rest)?;
                    f.time = Some(&rest[..n]);
                    rest = &rest[n..];
                }
                Part::Remote => {
                    let n = remote_len(rest, next_lit);
                    f.remote = Some(&rest[..n]);
                    rest = &rest[n..];
                }
                Part::Pid => {
                    let n = rest.bytes().take_while(u8::is_ascii_digit).count();
                    f.pid = Some(&rest[..n]);
                    rest = &rest[n..];
                }
                Part::Host | Part::User | Part::Database | Part::App | Part::Other => {
                    let n = match next_lit {
                        Some(c) => rest.find(c).unwrap_or(rest.len()),
                        None => rest.find(' ').unwrap_or(rest.len()),
                    };
                    if memchr::memchr(b'\n', &rest.as_bytes()[..n]).is_some() {
                        return None;
                    }
                    let v = &rest[..n];
                    match part {
                        Part::Host => f.host = Some(v),
                        Part::User => f.user = Some(v),
                        Part::Database => f.database = Some(v),
                        Part::App => f.app = Some(v),
                        _ => {}
                    }
                    rest = &rest[n..];
                }
            }
        }
        Some((f, rest))
    }

    /// Whether `line` starts a new log entry (prefix, then `SEVERITY:`).
    pub fn is_record_start(&self, line: &str) -> bool {
        self.strip(line).and_then(|(_, rest)| split_level(rest)).is_some()
    }
}

/// Length of a `%t`/`%m` timestamp at the start of `s`: `YYYY-MM-DD HH:MM:SS[.fff] ZONE`, or an
/// epoch `%n` (`1234567890.123`).
fn time_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    // Digits where digits belong, so the 19 bytes are ASCII and `s[..n]` is a char boundary
    // (a multi-byte character there panicked; found by the `sources` fuzz target).
    let shape = b"dddd-dd-dd dd:dd:dd";
    let matches_shape = b.len() >= 19
        && shape.iter().zip(b).all(|(want, got)| {
            if *want == b'd' {
                got.is_ascii_digit()
            } else {
                want == got
            }
        });
    if matches_shape {
        let mut n = 19;
        if b.get(n) == Some(&b'.') {
            n += 1;
            while b.get(n).is_some_and(u8::is_ascii_digit) {
                n += 1;
            }
        }
        if b.get(n) == Some(&b' ') {
            let z = b[n + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-'))
                .count();
            n += 1 + z;
        }
        return Some(n);
    }
    let n = b.iter().take_while(|c| c.is_ascii_digit() || **c == b'.').count();
    (n >= 10).then_some(n)
}

/// Length of a `%r` value: `host(port)`, `[local]`, or empty (background processes).
fn remote_len(s: &str, next_lit: Option<char>) -> usize {
    if s.starts_with("[local]") {
        return "[local]".len();
    }
    // `host(port)`: the host may be IPv6 and contain ':', so anchor on `(digits)`.
    let line_end = memchr::memchr(b'\n', s.as_bytes()).unwrap_or(s.len());
    if let Some(open) = s[..line_end].find('(') {
        let after = &s[open + 1..line_end];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && after.as_bytes().get(digits) == Some(&b')') && !s[..open].contains(' ') {
            return open + 1 + digits + 1;
        }
    }
    match next_lit {
        Some(c) => s.find(c).unwrap_or(s.len()),
        None => 0,
    }
}

/// Split `SEVERITY:  message` into the level and the message.
fn split_level(s: &str) -> Option<(&str, &str)> {
    let colon = memchr::memchr(b':', &s.as_bytes()[..s.len().min(12)])?;
    let level = &s[..colon];
    if !LEVELS.contains(&level) {
        return None;
    }
    let rest = &s[colon + 1..];
    Some((level, rest.trim_start_matches([' ', '\t'])))
}

/// Whether a line is a prefix-less entry (`NOTICE:  AUDIT: …`, pgaudit's regression output).
pub fn is_bare_record_start(line: &str) -> bool {
    split_level(line).is_some_and(|(_, msg)| msg.starts_with("AUDIT: "))
}

/// Parser for PostgreSQL log entries; remembers the last error of each backend.
#[derive(Debug)]
pub struct PgParser {
    prefix: LinePrefix,
    /// Last `ERROR`/`FATAL` message per backend pid, waiting for its `STATEMENT` line.
    pending_errors: HashMap<String, String>,
}

/// At most this many backends with a pending error are remembered (bounded memory).
const MAX_PENDING_ERRORS: usize = 4096;

impl PgParser {
    /// A parser for entries with `prefix`.
    pub fn new(prefix: LinePrefix) -> Self {
        PgParser {
            prefix,
            pending_errors: HashMap::new(),
        }
    }

    /// The prefix matcher.
    pub fn prefix(&self) -> &LinePrefix {
        &self.prefix
    }

    /// Forget pending errors (end of a file or batch).
    pub fn end_stream(&mut self) {
        self.pending_errors.clear();
    }

    /// Prefix fields, severity and message of an entry (`None`: not an entry of this log).
    fn split_entry<'a>(&self, text: &'a str) -> Option<(PrefixFields<'a>, &'a str, &'a str)> {
        let text = text.trim_end_matches(['\r', '\n']);
        let (prefix, rest) = match self.prefix.strip(text) {
            Some((p, rest)) if split_level(rest).is_some() => (p, rest),
            _ if is_bare_record_start(text) => (PrefixFields::default(), text),
            _ => return None,
        };
        let (level, msg) = split_level(rest)?;
        Some((prefix, level, msg))
    }

    /// Keep a backend's error until its `STATEMENT` line (bounded: the oldest are forgotten
    /// all at once past [`MAX_PENDING_ERRORS`]).
    fn remember_error(&mut self, pid: &str, msg: &str) {
        if self.pending_errors.len() >= MAX_PENDING_ERRORS {
            self.pending_errors.clear();
        }
        self.pending_errors.insert(pid.to_owned(), msg.to_owned());
    }

    /// Follow an entry's effect on the pending errors without parsing it (what [`PgParser::parse`]
    /// would remember or consume), so a reader that hands parts of one stream to several
    /// parsers can give each the errors still waiting where its part starts.
    pub fn track(&mut self, text: &str) {
        let Some((prefix, level, msg)) = self.split_entry(text) else {
            return;
        };
        if msg.starts_with("AUDIT: ") {
            return;
        }
        let pid = prefix.pid.unwrap_or("");
        match level {
            "ERROR" | "FATAL" | "PANIC" if auth_failure(msg).is_none() => self.remember_error(pid, msg),
            "STATEMENT" => {
                self.pending_errors.remove(pid);
            }
            _ => {}
        }
    }

    /// The errors waiting for their `STATEMENT` line, by backend pid.
    pub fn pending_errors(&self) -> &HashMap<String, String> {
        &self.pending_errors
    }

    /// Continue a stream whose earlier part left these errors waiting.
    pub fn set_pending_errors(&mut self, pending: HashMap<String, String>) {
        self.pending_errors = pending;
    }

    /// Parse one log entry (possibly multi-line).
    pub fn parse<'a>(
        &mut self,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        let Some((prefix, level, msg)) = self.split_entry(record.text) else {
            return Err(ParseError::format(format!(
                "line does not start with the log_line_prefix {:?} and a severity",
                self.prefix.template()
            )));
        };
        let time = match prefix.time {
            Some(raw) => time_or_fallback(time::parse_pg(raw), raw, record, warnings),
            None => record.envelope_time.unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        };
        let mut actor = Actor {
            user: prefix
                .user
                .filter(|u| !u.is_empty() && *u != "[unknown]")
                .map(Cow::Borrowed),
            session: prefix.pid.filter(|p| !p.is_empty()).map(Cow::Borrowed),
            user_agent: prefix
                .app
                .filter(|a| !a.is_empty() && *a != "[unknown]")
                .map(Cow::Borrowed),
            ..Actor::default()
        };
        set_remote(&mut actor, prefix.remote.or(prefix.host));
        let target = Target {
            datastore: datastore_of(record),
            database: prefix
                .database
                .filter(|d| !d.is_empty() && *d != "[unknown]")
                .map(Cow::Borrowed),
            ..Target::default()
        };
        let pid = prefix.pid.unwrap_or("");

        let kind = if let Some(csv) = msg.strip_prefix("AUDIT: ") {
            self.audit(csv, warnings)?
        } else {
            match level {
                "ERROR" | "FATAL" | "PANIC" => {
                    if let Some(session) = auth_failure(msg) {
                        Kind::FailedConnect(session)
                    } else {
                        self.remember_error(pid, msg);
                        return Ok(Parsed::Skip(Skip::NoActivity));
                    }
                }
                "STATEMENT" => match self.pending_errors.remove(pid) {
                    Some(error) => Kind::Statement(Statement {
                        text: Some(Cow::Borrowed(msg)),
                        engine_class: Some(Cow::Borrowed("ERROR")),
                        error: Some(Cow::Owned(error)),
                        succeeded: false,
                        ..Statement::default()
                    }),
                    // Context of a non-error line (temporary file, statistics): the statement
                    // itself was logged elsewhere.
                    None => return Ok(Parsed::Skip(Skip::NoActivity)),
                },
                "LOG" => match log_message(msg) {
                    Some(kind) => kind,
                    None => return Ok(Parsed::Skip(Skip::NoActivity)),
                },
                _ => return Ok(Parsed::Skip(Skip::NoActivity)),
            }
        };
        let mut event = Event::new(time, Source::Pgaudit, record.origin.clone(), kind);
        event.actor = actor;
        event.target = target;
        Ok(Parsed::Event(Box::new(event)))
    }

    fn audit<'a>(&mut self, csv: &'a str, warnings: &mut Warnings) -> Result<Kind<'a>, ParseError> {
        let mut fields = Vec::with_capacity(10);
        let well_formed = split_rfc4180(csv, &mut fields);
        audit_fields(&mut fields, well_formed, warnings)
    }
}

fn audit_fields<'a>(
    fields: &mut Vec<Cow<'a, str>>,
    well_formed: bool,
    warnings: &mut Warnings,
) -> Result<Kind<'a>, ParseError> {
    if fields.len() < 9 {
        return Err(ParseError::format(format!(
            "pgaudit AUDIT entry has {} CSV fields, expected 9 or 10",
            fields.len()
        )));
    }
    if !well_formed {
        warnings.push((
            DiagnosticKind::Format,
            "pgaudit CSV has an unterminated quote".into(),
        ));
    }
    if fields.len() > 10 {
        warnings.push((
            DiagnosticKind::Format,
            format!("pgaudit entry has {} CSV fields", fields.len()),
        ));
    }
    let mut it = fields.drain(..);
    let mut next = || it.next().unwrap_or(Cow::Borrowed(""));
    let audit_type = next();
    let statement_id = next();
    let substatement_id = next();
    let class = next();
    let command = next();
    let object_type = next();
    let object_name = next();
    let statement = next();
    let parameter = next();
    let rows = next();
    drop(it);
    let num = |s: &str, what: &str, warnings: &mut Warnings| -> Option<u64> {
        if s.is_empty() {
            return None;
        }
        match s.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                warnings.push((
                    DiagnosticKind::Field,
                    format!("pgaudit {what} {s:?} is not a number"),
                ));
                None
            }
        }
    };
    let statement_id = num(&statement_id, "statement id", warnings);
    let substatement_id = num(&substatement_id, "substatement id", warnings);
    let rows = num(&rows, "rows", warnings);
    let text = match &*statement {
        "<not logged>" | "<previously logged>" | "" => None,
        _ => Some(statement),
    };
    let parameter = match &*parameter {
        "<not logged>" | "<previously logged>" | "<none>" | "" => None,
        _ => Some(parameter),
    };
    let some = |c: Cow<'a, str>| (!c.is_empty()).then_some(c);
    Ok(Kind::Statement(Statement {
        text,
        engine_class: some(class),
        engine_command: some(command),
        audit_type: some(audit_type),
        object_type: some(object_type),
        object_name: some(object_name),
        statement_id,
        substatement_id,
        parameter,
        rows,
        succeeded: true,
        ..Statement::default()
    }))
}

fn set_remote<'a>(actor: &mut Actor<'a>, remote: Option<&'a str>) {
    let Some(r) = remote.filter(|r| !r.is_empty()) else {
        return;
    };
    if r == "[local]" {
        actor.host = Some(Cow::Borrowed(r));
        return;
    }
    let (host, port) = match r.strip_suffix(')').and_then(|s| s.rsplit_once('(')) {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (r, None),
    };
    let (ip, _, name) = split_host(host);
    actor.ip = ip;
    actor.port = port;
    actor.host = name.map(Cow::Borrowed);
}

/// `FATAL` messages that are failed logins.
fn auth_failure(msg: &str) -> Option<Session<'_>> {
    const FAILURES: &[&str] = &[
        "password authentication failed for user",
        "no pg_hba.conf entry for",
        "pg_hba.conf rejects connection",
        "PAM authentication failed for user",
        "authentication failed for user",
        "role \"",
        "database \"",
    ];
    let first_line = msg.lines().next().unwrap_or(msg);
    let is_failure = FAILURES.iter().any(|f| first_line.starts_with(f))
        && (!first_line.starts_with("role \"") || first_line.ends_with("does not exist"))
        && (!first_line.starts_with("database \"") || first_line.ends_with("does not exist"));
    is_failure.then(|| Session {
        detail: Some(Cow::Borrowed(first_line)),
        operation: Some(Cow::Borrowed("authentication failed")),
        ..Session::default()
    })
}

/// `LOG` messages that are database activity.
fn log_message(msg: &str) -> Option<Kind<'_>> {
    if msg.starts_with("connection authorized: ") || msg.starts_with("replication connection authorized: ") {
        return Some(Kind::Connect(Session {
            operation: Some(Cow::Borrowed("connection authorized")),
            detail: Some(Cow::Borrowed(msg.split_once(": ").map_or(msg, |(_, d)| d))),
            ..Session::default()
        }));
    }
    if let Some(d) = msg.strip_prefix("disconnection: ") {
        return Some(Kind::Disconnect(Session {
            operation: Some(Cow::Borrowed("disconnection")),
            detail: Some(Cow::Borrowed(d)),
            ..Session::default()
        }));
    }
    // `duration: 1.2 ms  statement: …` / `duration: … execute <name>: …` / `statement: …` /
    // `execute <name>: …`
    let body = match msg.strip_prefix("duration: ") {
        Some(d) => d.split_once("  ").map(|(_, rest)| rest)?,
        None => msg,
    };
    let sql = if let Some(s) = body.strip_prefix("statement: ") {
        s
    } else if let Some(s) = body.strip_prefix("execute ") {
        s.split_once(": ").map(|(_, s)| s)?
    } else {
        return None;
    };
    Some(Kind::Statement(Statement {
        text: Some(Cow::Borrowed(sql.trim_start())),
        engine_class: Some(Cow::Borrowed("LOG")),
        succeeded: true,
        ..Statement::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn parse_all(lines: &[&str]) -> Vec<Result<String, ParseError>> {
        let mut p = PgParser::new(LinePrefix::default());
        lines
            .iter()
            .map(|l| {
                let rec = RawRecord {
                    text: l,
                    origin: Origin::default(),
                    source: None,
                    envelope_time: None,
                    aws: crate::envelope::AwsContext::default(),
                };
                let mut w = Vec::new();
                p.parse(&rec, &mut w).map(|r| match r {
                    Parsed::Skip(s) => format!("skip {}", s.as_str()),
                    Parsed::Many(_) => "many".to_owned(),
                    Parsed::Event(e) => format!(
                        "{} user={:?} db={:?} ip={:?} port={:?} host={:?} {}",
                        e.kind.name(),
                        e.actor.user,
                        e.target.database,
                        e.actor.ip,
                        e.actor.port,
                        e.actor.host,
                        match &e.kind {
                            Kind::Statement(s) => format!(
                                "{:?} {:?} {:?} ok={}",
                                s.text, s.engine_command, s.error, s.succeeded
                            ),
                            Kind::Connect(s) | Kind::FailedConnect(s) | Kind::Disconnect(s) =>
                                format!("{:?}", s.detail),
                            _ => String::new(),
                        }
                    ),
                })
            })
            .collect()
    }

    /// Fuzzing regression (`sources`): a multi-byte character inside the timestamp was sliced
    /// through and panicked. Such a line is not a record start; it never panics.
    #[test]
    fn multibyte_timestamp_is_not_a_prefix() {
        let p = LinePrefix::default();
        for line in [
            "2026-11-30 03:18:4\u{fffd} UTC:127.16.0.5(43771):shop_app@shop:[9740]:STATEMENT:  SELECT 1",
            "2026-11-30 03:18:\u{e9}9 UTC:127.16.0.5(1):a@b:[1]:LOG:  x",
            "\u{e9}026-11-30 03:18:49 UTC:127.16.0.5(1):a@b:[1]:LOG:  x",
        ] {
            assert!(p.strip(line).is_none(), "{line}");
            assert!(!p.is_record_start(line), "{line}");
        }
        let parsed = parse_all(&[
            "2026-11-30 03:18:4\u{fffd} UTC:127.16.0.5(1):a@b:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>",
        ]);
        assert!(parsed[0].is_err());
    }

    #[test]
    fn prefix_forms() {
        let p = LinePrefix::default();
        let (f, rest) = p
            .strip("2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[20041]:LOG:  x")
            .unwrap();
        assert_eq!(
            (f.remote, f.user, f.database, f.pid),
            (Some("127.0.0.5(51159)"), Some("app"), Some("shop"), Some("20041"))
        );
        assert_eq!(rest, "LOG:  x");
        let (f, _) = p
            .strip("2022-10-05 19:08:07 UTC::@:[355]:LOG: checkpoint")
            .unwrap();
        assert_eq!((f.remote, f.user, f.database), (Some(""), Some(""), Some("")));
        let (f, _) = p
            .strip("2026-01-01 00:00:00 UTC:2001:db8::1(5432):u@d:[1]:LOG:  x")
            .unwrap();
        assert_eq!(f.remote, Some("2001:db8::1(5432)"));
        let (f, _) = p
            .strip("2026-11-28 00:25:41 UTC:[local]:[unknown]@[unknown]:[20008]:LOG:  x")
            .unwrap();
        assert_eq!(f.remote, Some("[local]"));
        assert!(!p.is_record_start("FROM support,aws_comprehend.detect_sentiment(feedback, 'en') s"));
        assert!(!p.is_record_start("! 0.017355 s user"));
        let m = LinePrefix::compile("%m [%p] ").unwrap();
        let (f, rest) = m
            .strip("2022-03-07 21:44:53.978 UTC [16641] LOG: connection authorized: user=labtek")
            .unwrap();
        assert_eq!(f.pid, Some("16641"));
        assert!(rest.starts_with("LOG:"));
        assert!(LinePrefix::compile("%Z").is_err());
    }

    #[test]
    fn entries() {
        let got = parse_all(&[
            "2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[20041]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,TABLE,public.users,\"SELECT id, email FROM users WHERE id = $1\",1",
            "2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[20041]:ERROR:  must be owner of table users",
            "2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[20041]:STATEMENT:  DROP TABLE users",
            "2023-02-06 23:48:35 UTC:205.251.233.182(12456):adminuser@postgres:[31236]:STATEMENT:  select 1;",
            "2026-11-28 00:25:41 UTC:127.0.0.5(59005):app@shop:[20045]:FATAL:  password authentication failed for user \"app\"",
            "2026-11-28 00:25:41 UTC:[local]:postgres@shop:[20021]:LOG:  connection authorized: user=postgres database=shop application_name=psql",
            "2024-01-19 13:20:43 UTC:223.233.86.169(31944):postgresql@postgres:[3075]:LOG:  duration: 2001.036 ms  statement: SELECT * from large_table",
            "2021-05-12 07:34:38 UTC:10.100.31.68(49430):entityservices_app@conceptdb:[30241]:LOG:  duration: 5547.893 ms  execute <unnamed>: select",
            "2022-10-05 19:08:07 UTC::@:[355]:LOG: checkpoint starting: time",
            "NOTICE:  AUDIT: SESSION,2,1,ROLE,CREATE ROLE,,,CREATE USER regress_user1 password <REDACTED>,<not logged>",
            "2022-10-05 22:05:52 UTC:52.95.4.1(11335):postgres@labdb:[3639]:LOG: statement: SELECT a\nFROM b;",
            "hello",
        ]);
        let got: Vec<String> = got
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| format!("error {}", e.reason)))
            .collect();
        let want = [
            r#"statement user=Some("app") db=Some("shop") ip=Some(127.0.0.5) port=Some(51159) host=None Some("SELECT id, email FROM users WHERE id = $1") Some("SELECT") None ok=true"#,
            "skip no_activity",
            r#"statement user=Some("app") db=Some("shop") ip=Some(127.0.0.5) port=Some(51159) host=None Some("DROP TABLE users") None Some("must be owner of table users") ok=false"#,
            "skip no_activity",
            r#"failed_connect user=Some("app") db=Some("shop") ip=Some(127.0.0.5) port=Some(59005) host=None Some("password authentication failed for user \"app\"")"#,
            r#"connect user=Some("postgres") db=Some("shop") ip=None port=None host=Some("[local]") Some("user=postgres database=shop application_name=psql")"#,
            r#"statement user=Some("postgresql") db=Some("postgres") ip=Some(223.233.86.169) port=Some(31944) host=None Some("SELECT * from large_table") None None ok=true"#,
            r#"statement user=Some("entityservices_app") db=Some("conceptdb") ip=Some(10.100.31.68) port=Some(49430) host=None Some("select") None None ok=true"#,
            "skip no_activity",
            r#"statement user=None db=None ip=None port=None host=None Some("CREATE USER regress_user1 password <REDACTED>") Some("CREATE ROLE") None ok=true"#,
            r#"statement user=Some("postgres") db=Some("labdb") ip=Some(52.95.4.1) port=Some(11335) host=None Some("SELECT a\nFROM b;") None None ok=true"#,
            r#"error line does not start with the log_line_prefix "%t:%r:%u@%d:[%p]:" and a severity"#,
        ];
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w);
        }
        assert_eq!(got.len(), want.len());
    }
}
