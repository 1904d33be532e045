//! Reading replay inputs: files, directories, standard input — plain or gzip, any envelope.
//!
//! This is one of the few modules that do I/O (with sinks, the CLI and the Lambda functions). It
//! recognises an input by its first bytes, never by its name: gzip (one or many members) is
//! unwrapped through the capped decoder; JSON is read as JSON lines when its first line is a whole
//! document (streamed), else as one or more concatenated documents (held in memory, capped);
//! anything else is read as log lines (streamed, never held whole), framed into records by the
//! source's rules — one line per record, except PostgreSQL entries whose continuation lines have
//! no prefix.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::envelope::decode::{self, Limits};
use crate::envelope::{DocContext, RawRecord, RecordSink, Skip, decode_concatenated, decode_document};
use crate::event::{Origin, Source};
use crate::pipeline::Pipeline;
use crate::sources::{self, FlowFormat, csv::rfc4180_open_quote, pgaudit};

/// A named input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl Input {
    /// The name shown in origins (`-` for standard input).
    pub fn display_name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".to_owned(),
        }
    }
}

/// A named input that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct InputError {
    /// The path as given.
    pub path: String,
    /// Cause.
    #[source]
    pub source: io::Error,
}

/// How inputs are read.
#[derive(Clone, Copy, Debug, Default)]
pub struct InputOptions {
    /// Size limits.
    pub limits: Limits,
    /// Source forced by the operator; `None` detects it.
    pub source: Option<Source>,
}

/// File extensions skipped when walking a directory (documentation and configuration that lives
/// beside corpora). Files named explicitly are always read.
const SKIPPED_EXTENSIONS: &[&str] = &["md", "toml", "yaml", "yml", "sh", "py", "rs", "tsv"];

/// Expand paths into inputs: directories recursively, in a stable (sorted) order.
pub fn expand(paths: &[PathBuf]) -> (Vec<Input>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Stdin);
            continue;
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                let walk = walkdir::WalkDir::new(path).follow_links(true).sort_by_file_name();
                for entry in walk {
                    match entry {
                        Ok(e) if e.file_type().is_file() => {
                            let p = e.path();
                            let hidden = p
                                .file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| n.starts_with('.'));
                            let skipped = p
                                .extension()
                                .and_then(|x| x.to_str())
                                .is_some_and(|x| SKIPPED_EXTENSIONS.contains(&x));
                            if !hidden && !skipped {
                                inputs.push(Input::File(p.to_path_buf()));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => errors.push(InputError {
                            path: e
                                .path()
                                .map_or_else(|| path.display().to_string(), |p| p.display().to_string()),
                            source: e
                                .into_io_error()
                                .unwrap_or_else(|| io::Error::other("directory loop")),
                        }),
                    }
                }
            }
            Ok(_) => inputs.push(Input::File(path.clone())),
            Err(e) => errors.push(InputError {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }
    (inputs, errors)
}

/// Counts bytes read from the underlying input (compressed bytes), for progress reporting.
#[derive(Debug)]
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Read one input into the pipeline. Errors opening a named input are returned; everything that
/// goes wrong after that is a diagnostic.
pub fn read_input(
    input: &Input,
    options: &InputOptions,
    pipeline: &mut Pipeline<'_>,
    bytes_read: &Arc<AtomicU64>,
) -> Result<(), InputError> {
    let name = input.display_name();
    let reader: Box<dyn Read> = match input {
        Input::File(p) => Box::new(File::open(p).map_err(|e| InputError {
            path: p.display().to_string(),
            source: e,
        })?),
        Input::Stdin => Box::new(io::stdin().lock()),
    };
    let counting = Counting {
        inner: reader,
        counter: Arc::clone(bytes_read),
    };
    read_stream(&name, counting, options, pipeline);
    pipeline.end_stream();
    Ok(())
}

/// Read one stream (already opened) into the pipeline.
pub fn read_stream(name: &str, reader: impl Read, options: &InputOptions, pipeline: &mut Pipeline<'_>) {
    let mut raw = BufReader::with_capacity(256 * 1024, reader);
    let origin = Origin {
        file: Some(name),
        ..Origin::default()
    };
    let head = match raw.fill_buf() {
        Ok(h) => h,
        Err(e) => {
            pipeline.diagnostic(Diagnostic::new(DiagnosticKind::Io, &origin, e.to_string()));
            return;
        }
    };
    if decode::is_gzip(head) {
        let gz = decode::gunzip_reader(raw, options.limits.max_stream);
        let buffered = BufReader::with_capacity(256 * 1024, gz);
        read_plain(name, buffered, options, pipeline);
    } else {
        read_plain(name, raw, options, pipeline);
    }
}

fn report_read_error(pipeline: &mut Pipeline<'_>, origin: &Origin<'_>, e: io::Error) {
    let d = decode::classify_io_error(e);
    let kind = match d {
        decode::DecodeError::Gzip(_) | decode::DecodeError::TooLarge { .. } => DiagnosticKind::Decompress,
        decode::DecodeError::Base64(_) => DiagnosticKind::Base64,
    };
    pipeline.diagnostic(Diagnostic::new(kind, origin, format!("reading stopped: {d}")));
}

fn read_plain(name: &str, mut r: impl BufRead, options: &InputOptions, pipeline: &mut Pipeline<'_>) {
    let origin = Origin {
        file: Some(name),
        ..Origin::default()
    };
    // Skip a UTF-8 byte-order mark and leading whitespace to see the first meaningful byte.
    let first = loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) => return report_read_error(pipeline, &origin, e),
        };
        if buf.is_empty() {
            return; // empty input: nothing to do
        }
        if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            r.consume(3);
            continue;
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(p) => break buf[p],
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    };
    if first == b'{' || first == b'[' {
        read_json(name, r, options, pipeline);
    } else {
        read_lines(name, r, options, pipeline);
    }
}

/// Outcome of reading one line with a size bound.
enum Line {
    /// A line (without its newline) is in the buffer.
    Ok,
    /// The line was longer than the bound and was skipped; its length.
    TooLong(usize),
    /// End of input.
    Eof,
}

/// Read one line into `buf` (cleared first) without ever holding more than `max` bytes of it.
fn read_line_bounded(r: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Line> {
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
fn utf8_line<'b>(
    bytes: &'b [u8],
    pipeline: &mut Pipeline<'_>,
    origin: &Origin<'_>,
) -> std::borrow::Cow<'b, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(e) => {
            pipeline.diagnostic(Diagnostic::new(
                DiagnosticKind::Utf8,
                origin,
                format!("invalid UTF-8 at byte {} of the line; replaced", e.valid_up_to()),
            ));
            String::from_utf8_lossy(bytes)
        }
    }
}

fn read_json(name: &str, mut r: impl BufRead, options: &InputOptions, pipeline: &mut Pipeline<'_>) {
    let ctx = DocContext {
        limits: options.limits,
        source: options.source,
    };
    let mut line = Vec::new();
    let mut line_no = 0u64;
    // JSON lines when the first line is a whole document; otherwise one or more documents.
    let first = loop {
        line_no += 1;
        match read_line_bounded(
            &mut r,
            &mut line,
            usize::try_from(options.limits.max_document).unwrap_or(usize::MAX),
        ) {
            Ok(Line::Ok) if line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Ok) => break std::mem::take(&mut line),
            Ok(Line::TooLong(n)) => {
                let o = Origin {
                    file: Some(name),
                    line: Some(line_no),
                    ..Origin::default()
                };
                pipeline.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    format!("a first line of {n} bytes exceeds the document cap"),
                ));
                return;
            }
            Ok(Line::Eof) => return,
            Err(e) => {
                let o = Origin {
                    file: Some(name),
                    line: Some(line_no),
                    ..Origin::default()
                };
                return report_read_error(pipeline, &o, e);
            }
        }
    };
    let first_is_document = serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok();
    if first_is_document {
        let mut current = first;
        loop {
            let o = Origin {
                file: Some(name),
                line: Some(line_no),
                ..Origin::default()
            };
            if !current.iter().all(u8::is_ascii_whitespace) {
                let text = utf8_line(&current, pipeline, &o);
                decode_json_value(&text, &o, &ctx, pipeline);
            }
            line_no += 1;
            match read_line_bounded(
                &mut r,
                &mut current,
                usize::try_from(options.limits.max_document).unwrap_or(usize::MAX),
            ) {
                Ok(Line::Ok) => {}
                Ok(Line::TooLong(n)) => {
                    let o = Origin {
                        file: Some(name),
                        line: Some(line_no),
                        ..Origin::default()
                    };
                    pipeline.diagnostic(Diagnostic::new(
                        DiagnosticKind::TooLarge,
                        &o,
                        format!("JSON line of {n} bytes skipped"),
                    ));
                    current.clear();
                }
                Ok(Line::Eof) => return,
                Err(e) => {
                    let o = Origin {
                        file: Some(name),
                        line: Some(line_no),
                        ..Origin::default()
                    };
                    return report_read_error(pipeline, &o, e);
                }
            }
        }
    }
    // Whole-document mode: hold the document(s) in memory, capped.
    let mut doc = first;
    doc.push(b'\n');
    let cap = options.limits.max_document;
    let mut limited = r.take(cap.saturating_sub(doc.len() as u64) + 1);
    let start_line = line_no;
    let o = Origin {
        file: Some(name),
        line: Some(start_line),
        ..Origin::default()
    };
    if let Err(e) = limited.read_to_end(&mut doc) {
        return report_read_error(pipeline, &o, e);
    }
    if doc.len() as u64 > cap {
        pipeline.diagnostic(Diagnostic::new(
            DiagnosticKind::TooLarge,
            &o,
            format!("JSON document exceeds the cap of {cap} bytes (--max-document)"),
        ));
        return;
    }
    let text = utf8_line(&doc, pipeline, &o);
    decode_json_value(&text, &o, &ctx, pipeline);
}

/// One JSON value of a file: an array of documents, or one or more concatenated documents.
fn decode_json_value(text: &str, origin: &Origin<'_>, ctx: &DocContext, pipeline: &mut Pipeline<'_>) {
    let t = text.trim_start();
    if t.starts_with('[') {
        match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(t) {
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    let o = Origin {
                        index: u32::try_from(i).ok(),
                        ..origin.clone()
                    };
                    decode_document(item.get(), &o, ctx, pipeline);
                }
            }
            Err(e) => pipeline.diagnostic(Diagnostic::new(
                DiagnosticKind::Json,
                origin,
                format!("invalid JSON array: {e}"),
            )),
        }
    } else {
        decode_concatenated(t, origin, ctx, pipeline);
    }
}

fn read_lines(name: &str, mut r: impl BufRead, options: &InputOptions, pipeline: &mut Pipeline<'_>) {
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
        let o = Origin {
            file: Some(name),
            line: Some(line_no),
            ..Origin::default()
        };
        match read_line_bounded(&mut r, &mut line, max) {
            Ok(Line::Ok) => {}
            Ok(Line::TooLong(n)) => {
                pipeline.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    format!("line of {n} bytes exceeds the record limit of {max} bytes; skipped"),
                ));
                continue;
            }
            Ok(Line::Eof) => break,
            Err(e) => {
                report_read_error(pipeline, &o, e);
                break;
            }
        }
        let decoded = utf8_line(&line, pipeline, &o);
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
                || !(pipeline.parsers_mut().pg_prefix().is_record_start(text)
                    || pgaudit::is_bare_record_start(text)));
        if continuation {
            if entry.len() + text.len() < max {
                entry.push('\n');
                entry.push_str(text);
            } else {
                pipeline.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    "continuation line dropped: the entry exceeds the record limit",
                ));
            }
            continue;
        }
        if !entry.is_empty() {
            flush_entry(name, &mut entry, entry_line, source, pipeline);
        }
        if text.trim().is_empty() {
            pipeline.skipped(Skip::Empty, &o);
            continue;
        }
        if text.starts_with('#') {
            pipeline.skipped(Skip::Comment, &o);
            continue;
        }
        if !decided || source == Some(Source::VpcFlow) {
            if let Some(format) = FlowFormat::from_header(text) {
                pipeline.parsers_mut().set_vpc_format(format);
                pipeline.skipped(Skip::Header, &o);
                source = Some(Source::VpcFlow);
                decided = true;
                continue;
            }
        }
        if !decided {
            source = sources::detect_content(text, pipeline.parsers_mut().pg_prefix());
            decided = true;
        }
        if source == Some(Source::Pgaudit) {
            entry.push_str(text);
            entry_line = line_no;
            continue;
        }
        pipeline.record(RawRecord {
            text,
            origin: o,
            source,
            envelope_time: export_time,
        });
    }
    if !entry.is_empty() {
        flush_entry(name, &mut entry, entry_line, source, pipeline);
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

fn flush_entry(
    name: &str,
    entry: &mut String,
    line: u64,
    source: Option<Source>,
    pipeline: &mut Pipeline<'_>,
) {
    let o = Origin {
        file: Some(name),
        line: Some(line),
        ..Origin::default()
    };
    pipeline.record(RawRecord {
        text: entry,
        origin: o,
        source,
        envelope_time: None,
    });
    entry.clear();
}

/// Read a whole file or directory tree (helper for tests and `tune`).
pub fn read_paths(paths: &[PathBuf], options: &InputOptions, pipeline: &mut Pipeline<'_>) -> Vec<InputError> {
    let (inputs, mut errors) = expand(paths);
    let counter = Arc::new(AtomicU64::new(0));
    for input in &inputs {
        if let Err(e) = read_input(input, options, pipeline, &counter) {
            errors.push(e);
        }
    }
    errors
}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
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
