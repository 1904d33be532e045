//! JSON documents: recognise which AWS envelope a document is, and unwrap it into records.
//!
//! A document is read **once**, into [`Document`]: the keys of every envelope it could be, the
//! values the envelope needs borrowed or kept as raw JSON slices (so nothing of a record is
//! copied), unknown keys skipped. Which keys are present then says what it is: `awslogs` (Lambda
//! subscription event), `messageType` (decoded subscription payload), `Records` (CloudTrail
//! archive, or a Kinesis event when its items carry `kinesis`), `records` + `invocationId`
//! (Firehose transformation event), `events` (a CloudWatch Logs API page), `message` (one
//! exported CloudWatch Logs event), `eventVersion`/`eventName` (one CloudTrail record), and
//! `requestContext` + `requestPayload` (a Lambda on-failure destination record: the original
//! event is read). In a
//! run of documents back to back (Firehose objects) the same read also finds where each ends.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::decode::{self, Limits};
use super::{RawRecord, RecordSink, Skip};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::event::{Origin, Source};
use crate::time;

/// What the caller knows about the documents it decodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct DocContext {
    /// Size limits.
    pub limits: Limits,
    /// Source forced by the caller (`--source`, or the Lambda function's own source).
    pub source: Option<Source>,
}

/// Every envelope's keys, read in the one pass over a document. A key of a shape its envelope
/// never has makes the document unreadable (a diagnostic), as it would in that envelope.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Document<'a> {
    #[serde(borrow)]
    awslogs: Option<AwsLogs<'a>>,
    #[serde(rename = "messageType", borrow)]
    message_type: Option<Cow<'a, str>>,
    #[serde(rename = "logGroup", borrow)]
    log_group: Option<Cow<'a, str>>,
    #[serde(rename = "logStream", borrow)]
    log_stream: Option<Cow<'a, str>>,
    #[serde(rename = "logEvents", borrow)]
    log_events: Option<Vec<CwlEvent<'a>>>,
    #[serde(rename = "Records", borrow)]
    records_upper: Option<Vec<&'a RawValue>>,
    #[serde(borrow)]
    records: Option<&'a RawValue>,
    #[serde(rename = "invocationId", borrow)]
    invocation_id: Option<&'a RawValue>,
    #[serde(borrow)]
    events: Option<&'a RawValue>,
    /// One exported log event (`{"timestamp":…,"message":…}`): its keys are common words other
    /// documents use with other types, so only the key is probed here and the event is read as
    /// such (a small document) when it is one.
    #[serde(borrow)]
    message: Option<&'a RawValue>,
    #[serde(rename = "eventVersion", borrow)]
    event_version: Option<&'a RawValue>,
    #[serde(rename = "eventName", borrow)]
    event_name: Option<&'a RawValue>,
    #[serde(rename = "eventType", borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(rename = "digestStartTime", borrow)]
    digest_start_time: Option<&'a RawValue>,
    #[serde(rename = "databaseActivityEvents", borrow)]
    das: Option<&'a RawValue>,
    #[serde(rename = "databaseActivityEventList", borrow)]
    das_list: Option<&'a RawValue>,
    /// A Lambda on-failure destination record: the original event, parked after the retries.
    #[serde(rename = "requestPayload", borrow)]
    request_payload: Option<&'a RawValue>,
    #[serde(rename = "requestContext", borrow)]
    request_context: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// One event of a subscription payload, of an API page or of an export.
#[derive(Deserialize)]
struct CwlEvent<'a> {
    #[serde(alias = "eventId", borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(default)]
    timestamp: Option<i64>,
    #[serde(borrow)]
    message: Cow<'a, str>,
    #[serde(rename = "logStreamName", borrow, default)]
    log_stream: Option<Cow<'a, str>>,
    #[serde(rename = "logGroupName", borrow, default)]
    log_group: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow, default)]
    kinesis: Option<KinesisData<'a>>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct KinesisData<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
struct FirehoseRecord<'a> {
    #[serde(rename = "recordId", borrow, default)]
    record_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Cow<'a, str>,
}

/// Line number of `sub` (a slice of `doc`) given that `doc` starts at line `doc_line`.
fn line_in(doc: &str, sub: &str, doc_line: Option<u64>) -> Option<u64> {
    let base = doc_line?;
    let offset = (sub.as_ptr() as usize).checked_sub(doc.as_ptr() as usize)?;
    let prefix = doc.as_bytes().get(..offset)?;
    Some(base + memchr::memchr_iter(b'\n', prefix).count() as u64)
}

fn json_diag(sink: &mut dyn RecordSink, origin: &Origin<'_>, what: &str, e: &serde_json::Error) {
    sink.diagnostic(Diagnostic::new(
        DiagnosticKind::Json,
        origin,
        format!("{what}: {e}"),
    ));
}

/// Decode a Lambda event delivered by a CloudWatch Logs subscription
/// (`{"awslogs":{"data":…}}`), the hot path of the Lambda functions.
pub fn decode_lambda_event(event: &[u8], origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    let text = match std::str::from_utf8(event) {
        Ok(t) => t,
        Err(e) => {
            sink.diagnostic(Diagnostic::new(
                DiagnosticKind::Utf8,
                origin,
                format!("Lambda event is not UTF-8: {e}"),
            ));
            return;
        }
    };
    decode_document(text, origin, ctx, sink);
}

/// Decode one JSON document of any recognised envelope into records.
///
/// `origin` locates the document (file and first line, or the Lambda request); records get it
/// refined with log group, stream, event id and index.
pub fn decode_document(doc: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    match serde_json::from_str::<Document<'_>>(doc) {
        Ok(d) => dispatch(d, doc, origin, ctx, sink),
        Err(e) => json_diag(sink, origin, "invalid JSON document", &e),
    }
}

/// Unwrap a document read into `d`; `doc` is its text.
fn dispatch(d: Document<'_>, doc: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    if let (Some(payload), Some(_)) = (d.request_payload, d.request_context) {
        // `laneguard redrive` and replay of a failure-queue dump: the original event.
        decode_document(payload.get(), origin, ctx, sink);
    } else if let Some(awslogs) = d.awslogs {
        decode_blob(&awslogs.data, origin, ctx, sink, "awslogs.data");
    } else if let Some(message_type) = d.message_type {
        let events = d.log_events.unwrap_or_default();
        decode_payload(
            &message_type,
            d.log_group,
            d.log_stream,
            &events,
            origin,
            ctx,
            sink,
        );
    } else if let Some(records) = d.records_upper {
        decode_records_array(doc, &records, origin, ctx, sink);
    } else if let (Some(records), Some(_)) = (d.records, d.invocation_id) {
        decode_firehose(records, origin, ctx, sink);
    } else if let Some(events) = d.events {
        decode_cwl_events(doc, events, origin, ctx, sink);
    } else if d.digest_start_time.is_some() {
        sink.skipped(Skip::CloudTrailDigest, origin);
    } else if d.das.is_some() || d.das_list.is_some() {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Unsupported,
            origin,
            "Database Activity Streams records are not read yet",
        ));
    } else if d.event_version.is_some() || d.event_name.is_some() || d.event_type.is_some() {
        sink.record(RawRecord {
            text: doc,
            origin: origin.clone(),
            source: Some(ctx.source.unwrap_or(Source::CloudTrail)),
            envelope_time: None,
        });
    } else if d.message.is_some() {
        match serde_json::from_str::<CwlEvent<'_>>(doc) {
            Ok(ev) => emit_cwl_event(&ev, None, None, origin, None, ctx, sink),
            Err(e) => json_diag(sink, origin, "exported log event", &e),
        }
    } else {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Json,
            origin,
            "JSON document of an unrecognised shape (expected a CloudWatch Logs, Kinesis, Firehose or CloudTrail envelope)",
        ));
    }
}

/// base64 → (gzip) → a payload, a document or plain lines.
fn decode_blob(data: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink, what: &str) {
    let mut scratch = Vec::new();
    let bytes = match decode::base64_maybe_gunzip(data, ctx.limits.max_document, &mut scratch) {
        Ok(b) => b,
        Err(e) => {
            let kind = match e {
                decode::DecodeError::Base64(_) => DiagnosticKind::Base64,
                _ => DiagnosticKind::Decompress,
            };
            sink.diagnostic(Diagnostic::new(kind, origin, format!("{what}: {e}")));
            return;
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    if let Cow::Owned(_) = text {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Utf8,
            origin,
            format!("{what}: invalid UTF-8 replaced"),
        ));
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        decode_concatenated(trimmed, origin, ctx, sink);
    } else {
        // Firehose with its own decompression / message extraction: newline-delimited records.
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut o = origin.clone();
            o.index = u32::try_from(i).ok();
            sink.record(RawRecord {
                text: line,
                origin: o,
                source: ctx.source,
                envelope_time: None,
            });
        }
    }
}

/// One or more JSON documents back to back (Firehose → S3 objects have no delimiter); a bad
/// document loses only itself: reading resumes at the next document start.
pub fn decode_concatenated(text: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    let mut rest = text;
    let mut offset_line = origin.line;
    loop {
        let start = rest.trim_start();
        if start.is_empty() {
            return;
        }
        if let Some(l) = offset_line {
            offset_line = Some(
                l + memchr::memchr_iter(b'\n', &rest.as_bytes()[..rest.len() - start.len()]).count() as u64,
            );
        }
        let mut stream = serde_json::Deserializer::from_str(start).into_iter::<Document<'_>>();
        let mut o = origin.clone();
        o.line = offset_line;
        match stream.next() {
            Some(Ok(d)) => {
                // The document and where it ends, from the same read.
                let consumed = stream.byte_offset();
                dispatch(d, &start[..consumed], &o, ctx, sink);
                if let Some(l) = offset_line {
                    offset_line =
                        Some(l + memchr::memchr_iter(b'\n', &start.as_bytes()[..consumed]).count() as u64);
                }
                rest = &start[consumed..];
            }
            Some(Err(e)) => {
                json_diag(sink, &o, "invalid JSON in a sequence of documents", &e);
                // Resynchronise on the next document start, so one bad member loses only itself:
                // the next subscription payload, else the next line that opens an object.
                // Skip the first character whole: the text after a document can be anything.
                let skip = start.chars().next().map_or(1, char::len_utf8);
                let next = start[skip..]
                    .find("{\"messageType\"")
                    .or_else(|| start[skip..].find("\n{").map(|p| p + 1))
                    .map(|p| p + skip);
                match next {
                    Some(next) => {
                        if let Some(l) = offset_line {
                            offset_line = Some(
                                l + memchr::memchr_iter(b'\n', &start.as_bytes()[..next]).count() as u64,
                            );
                        }
                        rest = &start[next..];
                    }
                    None => return,
                }
            }
            None => return,
        }
    }
}

fn decode_payload(
    message_type: &str,
    log_group: Option<Cow<'_, str>>,
    log_stream: Option<Cow<'_, str>>,
    events: &[CwlEvent<'_>],
    origin: &Origin<'_>,
    ctx: &DocContext,
    sink: &mut dyn RecordSink,
) {
    if message_type == "CONTROL_MESSAGE" {
        sink.skipped(Skip::ControlMessage, origin);
        return;
    }
    if message_type != "DATA_MESSAGE" {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Json,
            origin,
            format!("unknown messageType {message_type:?}; events read as data"),
        ));
    }
    let group = log_group.as_deref().and_then(non_empty);
    let stream = log_stream.as_deref().and_then(non_empty);
    for (i, ev) in events.iter().enumerate() {
        emit_cwl_event(ev, group, stream, origin, u32::try_from(i).ok(), ctx, sink);
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn emit_cwl_event(
    ev: &CwlEvent<'_>,
    group: Option<&str>,
    stream: Option<&str>,
    origin: &Origin<'_>,
    index: Option<u32>,
    ctx: &DocContext,
    sink: &mut dyn RecordSink,
) {
    let o = Origin {
        file: origin.file,
        line: origin.line,
        log_group: group.or(ev.log_group.as_deref()).or(origin.log_group),
        log_stream: stream.or(ev.log_stream.as_deref()).or(origin.log_stream),
        event_id: ev.id.as_deref().filter(|s| !s.is_empty()).or(origin.event_id),
        index: index.or(origin.index),
    };
    if ev.message.len() > ctx.limits.max_record {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::TooLarge,
            &o,
            format!(
                "log event of {} bytes exceeds the record limit of {} bytes",
                ev.message.len(),
                ctx.limits.max_record
            ),
        ));
        return;
    }
    sink.record(RawRecord {
        text: &ev.message,
        origin: o,
        source: ctx.source,
        envelope_time: ev.timestamp.and_then(time::from_epoch_millis),
    });
}

fn decode_cwl_events(
    doc: &str,
    events: &RawValue,
    origin: &Origin<'_>,
    ctx: &DocContext,
    sink: &mut dyn RecordSink,
) {
    let list: Vec<&RawValue> = match serde_json::from_str(events.get()) {
        Ok(l) => l,
        Err(e) => return json_diag(sink, origin, "events is not an array", &e),
    };
    for (i, raw) in list.iter().enumerate() {
        let mut o = origin.clone();
        o.line = line_in(doc, raw.get(), origin.line);
        match serde_json::from_str::<CwlEvent<'_>>(raw.get()) {
            Ok(ev) => emit_cwl_event(&ev, None, None, &o, u32::try_from(i).ok(), ctx, sink),
            Err(e) => {
                o.index = u32::try_from(i).ok();
                json_diag(sink, &o, "log event", &e);
            }
        }
    }
}

/// `{"Records":[…]}`: a CloudTrail archive object, or a Lambda Kinesis event — told apart by
/// the first item (an array is one or the other). CloudTrail records go to the sink as the raw
/// slices the document read left (the CloudTrail parser skips Insights records).
fn decode_records_array(
    doc: &str,
    list: &[&RawValue],
    origin: &Origin<'_>,
    ctx: &DocContext,
    sink: &mut dyn RecordSink,
) {
    let kinesis = list.first().is_some_and(|first| {
        serde_json::from_str::<KinesisRecord<'_>>(first.get()).is_ok_and(|k| k.kinesis.is_some())
    });
    for (i, raw) in list.iter().enumerate() {
        let o = Origin {
            line: line_in(doc, raw.get(), origin.line),
            index: u32::try_from(i).ok(),
            ..origin.clone()
        };
        if !kinesis {
            sink.record(RawRecord {
                text: raw.get(),
                origin: o,
                source: Some(ctx.source.unwrap_or(Source::CloudTrail)),
                envelope_time: None,
            });
            continue;
        }
        match serde_json::from_str::<KinesisRecord<'_>>(raw.get()) {
            Ok(KinesisRecord {
                kinesis: Some(k),
                event_id,
            }) => {
                let o = Origin {
                    event_id: event_id.as_deref().or(o.event_id),
                    ..o
                };
                decode_blob(&k.data, &o, ctx, sink, "kinesis.data");
            }
            Ok(_) => sink.diagnostic(Diagnostic::new(
                DiagnosticKind::Json,
                &o,
                "a record of a Kinesis event without `kinesis.data`",
            )),
            Err(e) => json_diag(sink, &o, "Kinesis record", &e),
        }
    }
}

/// A Firehose data-transformation event: `records[].data` are base64 (usually gzip) payloads.
fn decode_firehose(records: &RawValue, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    let list: Vec<FirehoseRecord<'_>> = match serde_json::from_str(records.get()) {
        Ok(l) => l,
        Err(e) => return json_diag(sink, origin, "Firehose records", &e),
    };
    for (i, r) in list.iter().enumerate() {
        let o = Origin {
            event_id: r.record_id.as_deref().or(origin.event_id),
            index: u32::try_from(i).ok(),
            ..origin.clone()
        };
        decode_blob(&r.data, &o, ctx, sink, "Firehose record data");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        records: Vec<(String, String)>,
        skipped: Vec<Skip>,
        diags: Vec<Diagnostic>,
    }

    impl RecordSink for Collect {
        fn record(&mut self, r: RawRecord<'_>) {
            self.records.push((r.text.to_owned(), r.origin.to_string()));
        }
        fn skipped(&mut self, reason: Skip, _: &Origin<'_>) {
            self.skipped.push(reason);
        }
        fn diagnostic(&mut self, d: Diagnostic) {
            self.diags.push(d);
        }
    }

    fn run(doc: &str) -> Collect {
        let mut c = Collect::default();
        let origin = Origin {
            file: Some("t.json"),
            line: Some(1),
            ..Origin::default()
        };
        decode_document(doc, &origin, &DocContext::default(), &mut c);
        c
    }

    #[test]
    fn lambda_event_fixture() {
        let c = run(
            r#"{"awslogs":{"data":"H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK+smZBEUgXoLCdMhFtKV3akI8d0bLYmibvPPN3wz00CJxmQnTO41whwWQRIctmEcB6sQbFC3CjW3XW8kxpOpP+OC22d1Wml1qZkQGtoMsScxaczKN3plG8zlaHIta5KqWsozoTYw3/djzwhpLwivWFGHGpAFe7DL68JlBUk+l7KSN7tCOEJ4M3/qOI49vMHj+zCKdlFqLaU2ZHV2a4Ct/an0/ivdX8oYc1UVX860fQDQiMdxRQEAAA=="}}"#,
        );
        assert!(c.diags.is_empty(), "{:?}", c.diags);
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.records[0].0, "[ERROR] First test message");
        assert_eq!(
            c.records[1].1,
            "t.json:1 testLogGroup/testLogStream event eventId2 record #1"
        );
    }

    #[test]
    fn control_message_and_unknown_keys() {
        let c = run(
            r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1600110003794,"message":"CWL CONTROL MESSAGE"}]}"#,
        );
        assert_eq!(c.skipped, vec![Skip::ControlMessage]);
        let c = run(
            r#"{"messageType":"DATA_MESSAGE","policyLevel":"ACCOUNT_LEVEL_POLICY","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"1","timestamp":1,"message":"m","extractedFields":{"a":"b"}}]}"#,
        );
        assert_eq!(c.records.len(), 1);
        assert!(c.diags.is_empty());
    }

    #[test]
    fn bad_inputs_are_diagnostics() {
        assert_eq!(run("{").diags[0].kind, DiagnosticKind::Json);
        assert_eq!(
            run(r#"{"awslogs":{"data":"!!!"}}"#).diags[0].kind,
            DiagnosticKind::Base64
        );
        assert_eq!(
            run(r#"{"awslogs":{"data":"H4sIAAAA"}}"#).diags[0].kind,
            DiagnosticKind::Decompress
        );
        assert_eq!(run(r#"{"hello":1}"#).diags[0].kind, DiagnosticKind::Json);
    }

    #[test]
    fn concatenated_payloads_resync_after_a_bad_one() {
        let mut c = Collect::default();
        let text = "{\"messageType\":\"DATA_MESSAGE\",\"logGroup\":\"g\",\"logStream\":\"s\",\"logEvents\":[{\"id\":\"1\",\"timestamp\":1,\"message\":\"a\"}]}{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[{\"id\":\"2\",\"timest\n{\"messageType\":\"DATA_MESSAGE\",\"logGroup\":\"g\",\"logStream\":\"s\",\"logEvents\":[{\"id\":\"3\",\"timestamp\":1,\"message\":\"c\"}]}";
        let origin = Origin {
            file: Some("f"),
            line: Some(1),
            ..Origin::default()
        };
        decode_concatenated(text, &origin, &DocContext::default(), &mut c);
        let texts: Vec<_> = c.records.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(texts, ["a", "c"]);
        assert_eq!(c.diags.len(), 1);
        assert_eq!(c.records[1].1, "f:2 g/s event 3 record #0");
    }

    #[test]
    fn garbage_between_documents_never_panics() {
        for text in [
            "{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}é{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}",
            "{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}€€€",
            "{é",
            "{\"a\":1}\n\n𝄞{\"b\"",
        ] {
            let mut c = Collect::default();
            decode_concatenated(text, &Origin::default(), &DocContext::default(), &mut c);
            assert!(!c.diags.is_empty(), "{text}");
        }
    }

    #[test]
    fn cloudtrail_archive_lines() {
        // Insights records pass through the envelope: the CloudTrail parser skips them.
        let doc = "{\"Records\": [\n  {\"eventVersion\":\"1.0\",\"eventName\":\"A\"},\n  {\"eventVersion\":\"1.07\",\"eventType\":\"AwsCloudTrailInsight\"}\n]}";
        let c = run(doc);
        assert_eq!(c.records.len(), 2);
        assert_eq!(c.records[0].1, "t.json:2 record #0");
        assert_eq!(c.records[1].1, "t.json:3 record #1");
        assert!(c.diags.is_empty() && c.skipped.is_empty());
    }

    #[test]
    fn an_on_failure_destination_record_yields_its_original_event() {
        let inner = r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":[],"logEvents":[{"id":"7","timestamp":1,"message":"m"}]}"#;
        let doc = format!(
            r#"{{"version":"1.0","timestamp":"2026-11-28T00:26:01.512Z","requestContext":{{"requestId":"r","condition":"RetriesExhausted"}},"requestPayload":{inner},"responseContext":{{"statusCode":200}},"responsePayload":{{"errorMessage":"x"}}}}"#
        );
        let c = run(&doc);
        assert!(c.diags.is_empty(), "{:?}", c.diags);
        assert_eq!(
            c.records,
            vec![("m".to_owned(), "t.json:1 g/s event 7 record #0".to_owned())]
        );
    }

    #[test]
    fn kinesis_event_is_told_from_an_archive_by_its_first_record() {
        let c = run(r#"{"Records":[{"kinesis":{"data":"!!"},"eventID":"e1"},{"eventID":"e2"}]}"#);
        assert!(c.records.is_empty());
        let kinds: Vec<_> = c.diags.iter().map(|d| d.kind).collect();
        assert_eq!(kinds, [DiagnosticKind::Base64, DiagnosticKind::Json]);
    }
}
