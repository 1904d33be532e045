//! Line files: bounded line reading and the framing of lines into records.
//!
//! One line is one record, except PostgreSQL entries, whose continuation lines (a multi-line
//! statement, `DETAIL:` lines) have no prefix — and a pgaudit CSV with an open quote always
//! continues. A flow-log header line sets the field order of what follows; a CloudWatch Logs
//! export's `<time> ` prefix is stripped. The framing feeds any [`RecordSink`]: it needs only
//! the PostgreSQL line prefix to know where entries start.

use std::io::{self, BufRead};

use super::{InputOptions, report_read_error};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::envelope::{RawRecord, RecordSink, Skip};
use crate::event::{Origin, Source};
use crate::sources::{self, FlowFormat, csv::rfc4180_open_quote, pgaudit};

/// Outcome of reading one line with a size bound.
pub(super) enum Line {
    /// A line (without its newline) is in the buffer.
    Ok,
    /// The line was longer than the bound and was skipped; its length.
    TooLong(usize),
    /// End of input.
    Eof,
}

/// Read one line into `buf` (cleared first) without ever holding more than `max` bytes of it.
pub(super) fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
    buf.clear();
    let mut total = 0usize;
    let mut too_long = false;
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok(match (total, too_long) {
                (0, _) => Line::Eof,
                (n, true) => Line::TooLong(n),
                _ => Line::Ok,
            });
        }
        let (chunk, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (&available[..i], Some(i + 1)),
            None => (available, None),
        };
        total += chunk.len();
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        let consumed = done.unwrap_or(chunk.len());
        r.consume(consumed);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(if too_long { Line::TooLong(total) } else { Line::Ok });
        }
    }
}

/// Decode a line as UTF-8, lossily with a diagnostic when it is not.
pub(super) fn utf8_line<'b>(
    bytes: &'b [u8],
    sink: &mut dyn RecordSink,
    origin: &Origin<'_>,
) -> std::borrow::Cow<'b, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(e) => {
            sink.diagnostic(Diagnostic::new(
                DiagnosticKind::Utf8,
                origin,
                format!("invalid UTF-8 at byte {} of the line; replaced", e.valid_up_to()),
            ));
            String::from_utf8_lossy(bytes)
        }
    }
}

pub(super) fn read_lines(name: &str, mut r: impl BufRead, options: &InputOptions, sink: &mut dyn RecordSink) {
    let max = options.limits.max_record;
    let mut line = Vec::with_capacity(4096);
    let mut line_no = 0u64;
    let mut source = options.source;
    let mut decided = source.is_some();
    let mut exported: Option<bool> = None;
    // A PostgreSQL entry being assembled: its text and first line.
    let mut entry = String::new();
    let mut entry_line = 0u64;
    loop {
        line_no += 1;
        let o = super::at(name, line_no);
        match read_line_bounded(&mut r, &mut line, max) {
            Ok(Line::Ok) => {}
            Ok(Line::TooLong(n)) => {
                sink.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    format!("line of {n} bytes exceeds the record limit of {max} bytes; skipped"),
                ));
                continue;
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                report_read_error(sink, &o, e);
                break;
            }
        }
        let decoded = utf8_line(&line, sink, &o);
        // CloudWatch Logs exports to S3 write `<event time> <message>` per event: decided on the
        // first meaningful line, then stripped wherever present (continuation lines lack it).
        if exported.is_none() && !decoded.trim().is_empty() && !decoded.starts_with('#') {
            exported = Some(export_prefix(&decoded).is_some());
        }
        let (text, export_time) = match export_prefix(&decoded).filter(|_| exported == Some(true)) {
            Some((n, t)) => (&decoded[n..], Some(t)),
            None => (&decoded[..], None),
        };
        let is_pg = source == Some(Source::Pgaudit);
        let continuation = is_pg
            && !entry.is_empty()
            && (entry_open_quote(&entry)
                || !(options.pg_prefix.is_record_start(text) || pgaudit::is_bare_record_start(text)));
        if continuation {
            if entry.len() + text.len() < max {
                entry.push('\n');
                entry.push_str(text);
            } else {
                sink.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    "continuation line dropped: the entry exceeds the record limit",
                ));
            }
            continue;
        }
        if !entry.is_empty() {
            flush_entry(name, &mut entry, entry_line, source, sink);
        }
        if text.trim().is_empty() {
            sink.skipped(Skip::Empty, &o);
            continue;
        }
        if text.starts_with('#') {
            sink.skipped(Skip::Comment, &o);
            continue;
        }
        if !decided || source == Some(Source::VpcFlow) {
            if let Some(format) = FlowFormat::from_header(text) {
                sink.flow_format(format);
                sink.skipped(Skip::Header, &o);
                source = Some(Source::VpcFlow);
                decided = true;
                continue;
            }
        }
        if !decided {
            source = sources::detect_content(text, &options.pg_prefix);
            decided = true;
        }
        if source == Some(Source::Pgaudit) {
            entry.push_str(text);
            entry_line = line_no;
            continue;
        }
        sink.record(RawRecord {
            text,
            origin: o,
            source,
            envelope_time: export_time,
            aws: crate::envelope::AwsContext::default(),
        });
    }
    if !entry.is_empty() {
        flush_entry(name, &mut entry, entry_line, source, sink);
    }
}

/// The `2019-08-08T00:49:34.000Z ` prefix a CloudWatch Logs export to S3 puts before each
/// message: its length and time.
fn export_prefix(line: &str) -> Option<(usize, jiff::Timestamp)> {
    let b = line.as_bytes();
    if b.len() < 21 || b[4] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    let end = memchr::memchr(b' ', &b[..b.len().min(40)])?;
    if end < 20 || b[end - 1] != b'Z' {
        return None;
    }
    let t = crate::time::parse_rfc3339(&line[..end])?;
    Some((end + 1, t))
}

/// A pgaudit entry whose CSV has an open quote continues on the next line whatever it looks like.
fn entry_open_quote(entry: &str) -> bool {
    entry
        .find("AUDIT: ")
        .is_some_and(|i| rfc4180_open_quote(&entry[i..]))
}

fn flush_entry(name: &str, entry: &mut String, line: u64, source: Option<Source>, sink: &mut dyn RecordSink) {
    let o = super::at(name, line);
    sink.record(RawRecord {
        text: entry,
        origin: o,
        source,
        envelope_time: None,
        aws: crate::envelope::AwsContext::default(),
    });
    entry.clear();
}

#[cfg(test)]
mod tests {
    use super::export_prefix;

    #[test]
    fn export_prefixes() {
        assert_eq!(
            export_prefix("2019-08-08T00:49:34.000Z msg").map(|(n, _)| n),
            Some(25)
        );
        assert_eq!(
            export_prefix("2019-08-08T00:49:34Z msg").map(|(n, _)| n),
            Some(21)
        );
        for bad in [
            " 123-5678T12:4 Z",
            "    -     T  :          Z x",
            "2019-08-08T00:49:34.000 msg",
            "2019-08-08 00:49:34 UTC:x",
            "é",
        ] {
            assert_eq!(export_prefix(bad), None, "{bad:?}");
        }
    }
}
