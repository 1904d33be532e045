//! The two comma-separated layouts of database audit logs, as small state machines.
//!
//! * MySQL/MariaDB audit lines: fields split on `,`; a field that *starts* with `'` runs to the
//!   matching unescaped `'`, and inside it `\\ \' \n \t \r \b \f` are escapes (FORMATS.md §3.4).
//! * pgaudit: RFC 4180 — a field is quoted with `"` when it holds `,`, `"` or a newline, and an
//!   embedded `"` is doubled (FORMATS.md §4.4).
//!
//! Both borrow from the line and allocate only when a field holds an escape. Neither uses a
//! general CSV library: the MySQL escaping is not CSV, and pgaudit's quoting is simple enough
//! that a library would cost more than it saves on this hot path.

use std::borrow::Cow;

/// Split a MySQL audit line into fields; quoted fields are unescaped.
///
/// Returns `Err` with a reason when a quoted field is not terminated or is followed by something
/// other than `,` or the end of the line. `fields` is cleared first and reused between lines.
pub fn split_mysql<'a>(line: &'a str, fields: &mut Vec<MysqlField<'a>>) -> Result<(), String> {
    fields.clear();
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'\'') {
            let start = i + 1;
            let mut j = start;
            let mut escaped = false;
            loop {
                match b.get(j) {
                    None => return Err(format!("unterminated quoted field starting at byte {i}")),
                    Some(b'\\') => {
                        escaped = true;
                        j += 2;
                    }
                    Some(b'\'') => break,
                    Some(_) => j += 1,
                }
            }
            let raw = line.get(start..j.min(line.len())).unwrap_or("");
            let value = if escaped {
                Cow::Owned(unescape_mysql(raw))
            } else {
                Cow::Borrowed(raw)
            };
            fields.push(MysqlField {
                value,
                quoted: true,
                raw_len: raw.len(),
            });
            i = j + 1;
            match b.get(i) {
                None => return Ok(()),
                Some(b',') => i += 1,
                Some(_) => return Err(format!("unexpected text after a quoted field at byte {i}")),
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |p| i + p);
            let raw = &line[i..end];
            fields.push(MysqlField {
                value: Cow::Borrowed(raw),
                quoted: false,
                raw_len: raw.len(),
            });
            if end == b.len() {
                return Ok(());
            }
            i = end + 1;
            if i == b.len() {
                fields.push(MysqlField {
                    value: Cow::Borrowed(""),
                    quoted: false,
                    raw_len: 0,
                });
                return Ok(());
            }
        }
    }
}

/// One field of a MySQL audit line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlField<'a> {
    /// Unescaped value.
    pub value: Cow<'a, str>,
    /// The field was single-quoted (a statement).
    pub quoted: bool,
    /// Length of the field as written (escaped), which is what the audit engine's length limit
    /// counts.
    pub raw_len: usize,
}

fn unescape_mysql(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('0') => out.push('\0'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Split an RFC 4180 record (pgaudit's CSV) into fields; quoted fields are unquoted.
///
/// Lenient by design: an unterminated quote takes the rest of the text (a record cut short is
/// still evidence), and the returned flag says the record was malformed.
pub fn split_rfc4180<'a>(text: &'a str, fields: &mut Vec<Cow<'a, str>>) -> bool {
    fields.clear();
    let b = text.as_bytes();
    let mut i = 0;
    let mut well_formed = true;
    loop {
        if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let mut doubled = false;
            let end;
            loop {
                match memchr::memchr(b'"', &b[j..]) {
                    None => {
                        well_formed = false;
                        end = b.len();
                        j = b.len();
                        break;
                    }
                    Some(p) => {
                        let q = j + p;
                        if b.get(q + 1) == Some(&b'"') {
                            doubled = true;
                            j = q + 2;
                        } else {
                            end = q;
                            j = q + 1;
                            break;
                        }
                    }
                }
            }
            let raw = &text[start..end];
            fields.push(if doubled {
                Cow::Owned(raw.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(raw)
            });
            match b.get(j) {
                None => return well_formed,
                Some(b',') => i = j + 1,
                Some(_) => {
                    // Text after a closing quote: keep it with the field rather than lose it.
                    well_formed = false;
                    let next = memchr::memchr(b',', &b[j..]).map_or(b.len(), |p| j + p);
                    if let Some(last) = fields.last_mut() {
                        last.to_mut().push_str(&text[j..next]);
                    }
                    if next == b.len() {
                        return well_formed;
                    }
                    i = next + 1;
                }
            }
            if i == b.len() {
                fields.push(Cow::Borrowed(""));
                return well_formed;
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map_or(b.len(), |p| i + p);
            fields.push(Cow::Borrowed(&text[i..end]));
            if end == b.len() {
                return well_formed;
            }
            i = end + 1;
            if i == b.len() {
                fields.push(Cow::Borrowed(""));
                return well_formed;
            }
        }
    }
}

/// Whether the quotes of an RFC 4180 text are balanced (no quoted field left open): a file
/// framer uses it to keep a multi-line pgaudit entry together even when a line inside the quoted
/// statement looks like the start of a new log entry.
pub fn rfc4180_open_quote(text: &str) -> bool {
    memchr::memchr_iter(b'"', text.as_bytes()).count() % 2 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mysql(line: &str) -> Vec<String> {
        let mut f = Vec::new();
        split_mysql(line, &mut f).unwrap();
        f.into_iter().map(|f| f.value.into_owned()).collect()
    }

    fn pg(line: &str) -> (Vec<String>, bool) {
        let mut f = Vec::new();
        let ok = split_rfc4180(line, &mut f);
        (f.into_iter().map(Cow::into_owned).collect(), ok)
    }

    #[test]
    fn mysql_table() {
        let cases: &[(&str, &[&str])] = &[
            ("a,b,c", &["a", "b", "c"]),
            ("a,,c,", &["a", "", "c", ""]),
            ("x,'it\\'s, ok',0", &["x", "it's, ok", "0"]),
            ("x,'select 1,\\n2',0,,", &["x", "select 1,\n2", "0", "", ""]),
            ("x,'a\\\\',1", &["x", "a\\", "1"]),
            ("x,'',0", &["x", "", "0"]),
            ("x,`u`@``,0", &["x", "`u`@``", "0"]),
            ("x,'tab\\there\\r\\b\\f\\q'", &["x", "tab\there\r\u{8}\u{c}q"]),
        ];
        for (line, want) in cases {
            assert_eq!(mysql(line), *want, "{line}");
        }
        let mut f = Vec::new();
        assert!(split_mysql("x,'open", &mut f).is_err());
        assert!(split_mysql("x,'a'b,c", &mut f).is_err());
        assert!(split_mysql("x,'ends with backslash\\", &mut f).is_err());
    }

    #[test]
    fn rfc4180_table() {
        assert_eq!(
            pg("SESSION,1,1,READ,SELECT,,,select 1,<none>"),
            (
                [
                    "SESSION", "1", "1", "READ", "SELECT", "", "", "select 1", "<none>"
                ]
                .map(String::from)
                .to_vec(),
                true
            )
        );
        assert_eq!(
            pg("a,\"b,\"\"c\"\"\nd\",e"),
            (vec!["a".into(), "b,\"c\"\nd".into(), "e".into()], true)
        );
        assert_eq!(
            pg("a,\"1,<long param suppressed>\""),
            (vec!["a".into(), "1,<long param suppressed>".into()], true)
        );
        assert_eq!(pg("a,"), (vec!["a".into(), "".into()], true));
        assert_eq!(pg("a,\"open"), (vec!["a".into(), "open".into()], false));
        assert!(rfc4180_open_quote("a,\"open\n"));
        assert!(!rfc4180_open_quote("a,\"x\"\"y\""));
    }

    fn escape_mysql(s: &str) -> String {
        let mut o = String::new();
        for c in s.chars() {
            match c {
                '\\' => o.push_str("\\\\"),
                '\'' => o.push_str("\\'"),
                '\n' => o.push_str("\\n"),
                '\t' => o.push_str("\\t"),
                '\r' => o.push_str("\\r"),
                c => o.push(c),
            }
        }
        o
    }

    fn quote_csv(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }

    proptest! {
        /// Whatever the statement, writing it as the audit plugin does and splitting gives it back.
        #[test]
        fn mysql_round_trip(stmt in "\\PC{0,40}", db in "[a-z]{0,8}") {
            let line = format!("20261128 00:25:20,h,u,10.0.0.1,1,2,QUERY,{db},'{}',0", escape_mysql(&stmt));
            let mut f = Vec::new();
            split_mysql(&line, &mut f).unwrap();
            prop_assert_eq!(f.len(), 10);
            prop_assert_eq!(&f[8].value, &stmt);
            prop_assert_eq!(&f[7].value, &db);
        }

        /// RFC 4180 round trip for arbitrary fields, newlines and quotes included.
        #[test]
        fn rfc4180_round_trip(fields in proptest::collection::vec("[a-z,\"\n ]{0,12}", 1..8)) {
            let line = fields.iter().map(|f| quote_csv(f)).collect::<Vec<_>>().join(",");
            let (got, ok) = pg(&line);
            prop_assert!(ok);
            prop_assert_eq!(got, fields);
        }

        /// Never panics on arbitrary input.
        #[test]
        fn never_panics(s in "\\PC{0,64}") {
            let mut f = Vec::new();
            let _ = split_mysql(&s, &mut f);
            let mut g = Vec::new();
            let _ = split_rfc4180(&s, &mut g);
        }
    }
}
