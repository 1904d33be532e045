//! JSON renderings that must not leak or break lines: [`EventJson`] (an event for
//! `replay --events` and tests) writes raw SQL text and bind parameters only when the operator
//! opted in; [`CompactJson`] writes raw JSON kept from a log on one line.

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::{Event, Kind, Statement};

/// Raw JSON kept from the log (CloudTrail request parameters), written on one line: records of
/// pretty-printed archives keep their newlines in the raw slice, and SIEM output is one record
/// per line.
#[derive(Clone, Copy, Debug)]
pub struct CompactJson<'a>(pub &'a serde_json::value::RawValue);

impl Serialize for CompactJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.0.get();
        if !text.bytes().any(|b| matches!(b, b'\n' | b'\r' | b'\t' | b' ')) {
            return self.0.serialize(s);
        }
        let mut out = String::with_capacity(text.len());
        let mut in_string = false;
        let mut escaped = false;
        for c in text.chars() {
            if in_string {
                out.push(c);
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => in_string = false,
                    _ => {}
                }
            } else if c == '"' {
                in_string = true;
                out.push(c);
            } else if !c.is_ascii_whitespace() {
                out.push(c);
            }
        }
        match serde_json::value::RawValue::from_string(out) {
            Ok(compact) => compact.serialize(s),
            Err(_) => self.0.serialize(s),
        }
    }
}

impl CompactJson<'_> {
    /// The compact JSON text (for messages).
    pub fn to_string_lossy(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| self.0.get().to_owned())
    }
}

/// Serialize an optional raw JSON field on one line (see [`CompactJson`]).
pub(super) fn compact_json<S: Serializer>(
    raw: &Option<&serde_json::value::RawValue>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match raw {
        Some(r) => CompactJson(r).serialize(s),
        None => s.serialize_none(),
    }
}

/// JSON rendering of an event (for `replay --events` and the SIEM event stream).
///
/// Raw SQL text, bind parameters and engine error messages (which quote values) are written only
/// when `raw` is true: by default no literal leaves the process (DESIGN.md §2).
pub struct EventJson<'e, 'a> {
    /// The event.
    pub event: &'e Event<'a>,
    /// Include raw statement text and parameters.
    pub raw: bool,
    /// Ids of the rules the event matched (`--events` shows them).
    pub matched: &'e [&'e str],
}

impl Serialize for EventJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.event;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("time", &e.time)?;
        m.serialize_entry("source", &e.source)?;
        m.serialize_entry("origin", &e.origin)?;
        m.serialize_entry("kind", e.kind.name())?;
        m.serialize_entry("actor", &e.actor)?;
        m.serialize_entry("target", &e.target)?;
        match &e.kind {
            Kind::Statement(st) => m.serialize_entry("statement", &StatementJson { st, raw: self.raw })?,
            Kind::Connect(x) | Kind::Disconnect(x) | Kind::FailedConnect(x) => {
                m.serialize_entry("session", x)?
            }
            Kind::ObjectAccess(x) => m.serialize_entry("object_access", x)?,
            Kind::ApiCall(x) => m.serialize_entry("api", x)?,
            Kind::Flow(x) => m.serialize_entry("flow", x)?,
        }
        if let Some(sql) = &e.sql {
            m.serialize_entry("sql", sql)?;
        }
        if !e.enrichment.is_empty() {
            m.serialize_entry("enrichment", &e.enrichment)?;
        }
        m.serialize_entry("matched", self.matched)?;
        m.end()
    }
}

struct StatementJson<'e, 'a> {
    st: &'e Statement<'a>,
    raw: bool,
}

impl Serialize for StatementJson<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.st;
        let mut m = s.serialize_map(None)?;
        macro_rules! opt {
            ($name:literal, $v:expr) => {
                if let Some(v) = &$v {
                    m.serialize_entry($name, v)?;
                }
            };
        }
        if self.raw {
            opt!("text", st.text);
        }
        opt!("engine_class", st.engine_class);
        opt!("engine_command", st.engine_command);
        opt!("audit_type", st.audit_type);
        opt!("object_type", st.object_type);
        opt!("object_name", st.object_name);
        opt!("statement_id", st.statement_id);
        opt!("substatement_id", st.substatement_id);
        if self.raw {
            opt!("parameter", st.parameter);
        }
        opt!("rows", st.rows);
        opt!("return_code", st.return_code);
        opt!("exit_code", st.exit_code);
        // Error messages quote values ("Duplicate entry 'x@example.com'", "invalid input syntax
        // for type integer: \"…\""): literals, shown only on request.
        if self.raw {
            opt!("error", st.error);
        }
        m.serialize_entry("succeeded", &st.succeeded)?;
        if st.truncated {
            m.serialize_entry("truncated", &true)?;
        }
        m.end()
    }
}
