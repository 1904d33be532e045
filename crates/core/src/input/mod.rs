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
use crate::envelope::{AwsContext, DocContext, RecordSink, WithAws, decode_concatenated, decode_document};
use crate::event::{Origin, Source};
use crate::sources::LinePrefix;

mod lines;

use lines::{Line, read_line_bounded, read_lines, utf8_line};

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
#[derive(Clone, Debug, Default)]
pub struct InputOptions {
    /// Size limits.
    pub limits: Limits,
    /// Source forced by the operator; `None` detects it.
    pub source: Option<Source>,
    /// PostgreSQL `log_line_prefix` that starts a record (continuation lines lack it); the same
    /// prefix the parsers are given (`ParseOptions::pg_prefix`).
    pub pg_prefix: LinePrefix,
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

/// The origin of line `line` of input `name`.
fn at(name: &str, line: u64) -> Origin<'_> {
    Origin {
        file: Some(name),
        line: Some(line),
        ..Origin::default()
    }
}

/// Read one input into the sink. Errors opening a named input are returned; everything that
/// goes wrong after that is a diagnostic.
pub fn read_input(
    input: &Input,
    options: &InputOptions,
    sink: &mut dyn RecordSink,
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
    read_stream(&name, counting, options, sink);
    sink.end_stream();
    Ok(())
}

/// Read one stream (already opened) into the sink. A stream whose name is an AWS log archive's
/// key or path (`…/AWSLogs/<account>/vpcflowlogs/<region>/…`) gives its records that account and
/// region where they name none, in an S3 replay and in a replay of a local copy alike.
pub fn read_stream(name: &str, reader: impl Read, options: &InputOptions, sink: &mut dyn RecordSink) {
    let aws = AwsContext::of_archive_path(name);
    if aws == AwsContext::default() {
        read_opened(name, reader, options, sink);
    } else {
        read_opened(name, reader, options, &mut WithAws { sink, aws });
    }
}

fn read_opened(name: &str, reader: impl Read, options: &InputOptions, sink: &mut dyn RecordSink) {
    let mut raw = BufReader::with_capacity(256 * 1024, reader);
    let origin = Origin {
        file: Some(name),
        ..Origin::default()
    };
    let head = match raw.fill_buf() {
        Ok(h) => h,
        Err(e) => {
            sink.diagnostic(Diagnostic::new(DiagnosticKind::Io, &origin, e.to_string()));
            return;
        }
    };
    if decode::is_gzip(head) {
        let gz = decode::gunzip_reader(raw, options.limits.max_stream);
        let buffered = BufReader::with_capacity(256 * 1024, gz);
        read_plain(name, buffered, options, sink);
    } else {
        read_plain(name, raw, options, sink);
    }
}

fn report_read_error(sink: &mut dyn RecordSink, origin: &Origin<'_>, e: io::Error) {
    let d = decode::classify_io_error(e);
    let kind = match d {
        decode::DecodeError::Gzip(_) | decode::DecodeError::TooLarge { .. } => DiagnosticKind::Decompress,
        decode::DecodeError::Base64(_) => DiagnosticKind::Base64,
    };
    sink.diagnostic(Diagnostic::new(kind, origin, format!("reading stopped: {d}")));
}

fn read_plain(name: &str, mut r: impl BufRead, options: &InputOptions, sink: &mut dyn RecordSink) {
    let origin = Origin {
        file: Some(name),
        ..Origin::default()
    };
    // Skip a UTF-8 byte-order mark and leading whitespace to see the first meaningful byte.
    let first = loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) => return report_read_error(sink, &origin, e),
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
        read_json(name, r, options, sink);
    } else {
        read_lines(name, r, options, sink);
    }
}

fn read_json(name: &str, mut r: impl BufRead, options: &InputOptions, sink: &mut dyn RecordSink) {
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
                let o = at(name, line_no);
                sink.diagnostic(Diagnostic::new(
                    DiagnosticKind::TooLarge,
                    &o,
                    format!("a first line of {n} bytes exceeds the document cap"),
                ));
                return;
            }
            Ok(Line::Eof) => return,
            Err(e) => {
                let o = at(name, line_no);
                return report_read_error(sink, &o, e);
            }
        }
    };
    let first_is_document = serde_json::from_slice::<serde::de::IgnoredAny>(&first).is_ok();
    if first_is_document {
        let mut current = first;
        loop {
            let o = at(name, line_no);
            if !current.iter().all(u8::is_ascii_whitespace) {
                let text = utf8_line(&current, sink, &o);
                decode_json_value(&text, &o, &ctx, sink);
            }
            line_no += 1;
            match read_line_bounded(
                &mut r,
                &mut current,
                usize::try_from(options.limits.max_document).unwrap_or(usize::MAX),
            ) {
                Ok(Line::Ok) => {}
                Ok(Line::TooLong(n)) => {
                    let o = at(name, line_no);
                    sink.diagnostic(Diagnostic::new(
                        DiagnosticKind::TooLarge,
                        &o,
                        format!("JSON line of {n} bytes skipped"),
                    ));
                    current.clear();
                }
                Ok(Line::Eof) => return,
                Err(e) => {
                    let o = at(name, line_no);
                    return report_read_error(sink, &o, e);
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
    let o = at(name, start_line);
    if let Err(e) = limited.read_to_end(&mut doc) {
        return report_read_error(sink, &o, e);
    }
    if doc.len() as u64 > cap {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::TooLarge,
            &o,
            format!("JSON document exceeds the cap of {cap} bytes (--max-document)"),
        ));
        return;
    }
    let text = utf8_line(&doc, sink, &o);
    decode_json_value(&text, &o, &ctx, sink);
}

/// One JSON value of a file: an array of documents, or one or more concatenated documents.
fn decode_json_value(text: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    let t = text.trim_start();
    if t.starts_with('[') {
        match serde_json::from_str::<Vec<&serde_json::value::RawValue>>(t) {
            Ok(items) => {
                for (i, item) in items.iter().enumerate() {
                    let o = Origin {
                        index: u32::try_from(i).ok(),
                        ..origin.clone()
                    };
                    decode_document(item.get(), &o, ctx, sink);
                }
            }
            Err(e) => sink.diagnostic(Diagnostic::new(
                DiagnosticKind::Json,
                origin,
                format!("invalid JSON array: {e}"),
            )),
        }
    } else {
        decode_concatenated(t, origin, ctx, sink);
    }
}

/// Read a whole file or directory tree (helper for tests and `tune`).
pub fn read_paths(paths: &[PathBuf], options: &InputOptions, sink: &mut dyn RecordSink) -> Vec<InputError> {
    let (inputs, mut errors) = expand(paths);
    let counter = Arc::new(AtomicU64::new(0));
    for input in &inputs {
        if let Err(e) = read_input(input, options, sink, &counter) {
            errors.push(e);
        }
    }
    errors
}

/// Whether `path` names standard input.
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}
