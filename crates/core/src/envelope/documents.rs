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

use super::das::SealedRecord;
use super::decode::{self, Limits};
use super::{AwsContext, RawRecord, RecordSink, Skip};
use crate::diagnostic::{Diagnostic, DiagnosticKind};
use crate::event::{CompactJson, Origin, Source};
use crate::time;

/// What the caller knows about the documents it decodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct DocContext {
    /// Size limits.
    pub limits: Limits,
    /// Source forced by the caller (`--source`, or the Lambda function's own source).
    pub source: Option<Source>,
}

/// The account a subscription payload's `owner` names (`CloudwatchLogs` in a control message
/// is not one).
fn owner_account(owner: Option<&str>) -> Option<&str> {
    owner.filter(|o| o.len() == 12 && o.bytes().all(|b| b.is_ascii_digit()))
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
    /// The account of a subscription payload's log group.
    #[serde(borrow)]
    owner: Option<Cow<'a, str>>,
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
    /// Database Activity Streams: a record (`databaseActivityEvents`, base64 when encrypted, the
    /// document itself when decrypted), its data key and version, a decrypted document's list,
    /// or one activity record (`serverType`, `dbUserName`).
    #[serde(rename = "databaseActivityEvents", borrow)]
    das: Option<&'a RawValue>,
    #[serde(borrow)]
    key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<&'a RawValue>,
    #[serde(rename = "databaseActivityEventList", borrow)]
    das_list: Option<&'a RawValue>,
    #[serde(rename = "serverType", borrow)]
    server_type: Option<&'a RawValue>,
    #[serde(rename = "dbUserName", borrow)]
    db_user_name: Option<&'a RawValue>,
    /// A Kinesis event source mapping's on-failure record: a description of the batch (shard,
    /// sequence numbers), not its records.
    #[serde(rename = "KinesisBatchInfo", borrow)]
    kinesis_batch_info: Option<&'a RawValue>,
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

/// A record of a Lambda Kinesis event (`kinesis.data`), or of a Kinesis `GetRecords` answer
/// (`Data`, `SequenceNumber`), as `aws kinesis get-records` prints it.
#[derive(Deserialize)]
struct KinesisRecord<'a> {
    #[serde(borrow, default)]
    kinesis: Option<KinesisData<'a>>,
    #[serde(rename = "eventID", borrow, default)]
    event_id: Option<Cow<'a, str>>,
    #[serde(rename = "eventSourceARN", borrow, default)]
    event_source_arn: Option<Cow<'a, str>>,
    #[serde(rename = "Data", borrow, default)]
    api_data: Option<Cow<'a, str>>,
    #[serde(rename = "SequenceNumber", borrow, default)]
    api_sequence_number: Option<Cow<'a, str>>,
    #[serde(rename = "ApproximateArrivalTimestamp", borrow, default)]
    api_arrival: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct KinesisData<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
    #[serde(rename = "sequenceNumber", borrow, default)]
    sequence_number: Option<Cow<'a, str>>,
    #[serde(rename = "approximateArrivalTimestamp", borrow, default)]
    arrival: Option<&'a RawValue>,
}

/// What the Kinesis envelope says about the record inside it (an encrypted Database Activity
/// Streams record needs the stream, which names its resource; diagnostics name the sequence
/// number).
#[derive(Clone, Copy, Debug, Default)]
struct KinesisMeta<'a> {
    stream: Option<&'a str>,
    sequence_number: Option<&'a str>,
    arrival: Option<jiff::Timestamp>,
}

impl<'a> KinesisMeta<'a> {
    /// The account and region of the stream ARN.
    fn aws(&self) -> AwsContext<'a> {
        self.stream.map(AwsContext::of_arn).unwrap_or_default()
    }
}

/// An arrival time as Kinesis writes it: epoch seconds (a number, Lambda events and the API),
/// or RFC 3339 text (the AWS CLI's rendering).
fn arrival_time(raw: Option<&RawValue>) -> Option<jiff::Timestamp> {
    let text = raw?.get().trim();
    if let Ok(secs) = text.parse::<f64>() {
        return time::from_epoch_millis((secs * 1000.0) as i64);
    }
    serde_json::from_str::<&str>(text)
        .ok()
        .and_then(time::parse_rfc3339)
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
        Ok(d) => dispatch(d, doc, origin, ctx, KinesisMeta::default(), sink),
        Err(e) => json_diag(sink, origin, "invalid JSON document", &e),
    }
}

/// Decode the plaintext of an opened Database Activity Streams record (a
/// `DatabaseActivityMonitoringRecord`), with the record's origin and arrival time.
pub fn decode_opened(text: &str, record: &SealedRecord<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    let meta = KinesisMeta {
        stream: record.stream,
        sequence_number: record.sequence_number,
        arrival: record.arrival,
    };
    match serde_json::from_str::<Document<'_>>(text) {
        Ok(d) if d.das_list.is_some() => dispatch(d, text, &record.origin, ctx, meta, sink),
        Ok(_) => sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Json,
            &record.origin,
            format!(
                "{}: the decrypted payload is not a DatabaseActivityMonitoringRecord",
                record.name()
            ),
        )),
        Err(e) => json_diag(
            sink,
            &record.origin,
            &format!("{}: the decrypted payload is not JSON", record.name()),
            &e,
        ),
    }
}

/// Unwrap a document read into `d`; `doc` is its text.
fn dispatch(
    d: Document<'_>,
    doc: &str,
    origin: &Origin<'_>,
    ctx: &DocContext,
    meta: KinesisMeta<'_>,
    sink: &mut dyn RecordSink,
) {
    if let (Some(payload), Some(_)) = (d.request_payload, d.request_context) {
        // `laneguard redrive` and replay of a failure-queue dump: the original event.
        decode_document(payload.get(), origin, ctx, sink);
    } else if let Some(info) = d.kinesis_batch_info {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Unsupported,
            origin,
            format!(
                "a Kinesis batch that failed after its retries is described, not carried: {}; read that range of \
                 the stream (aws kinesis get-records) while it is retained and replay it with --kms",
                CompactJson(info).to_string_lossy()
            ),
        ));
    } else if let Some(awslogs) = d.awslogs {
        decode_blob(
            &awslogs.data,
            origin,
            ctx,
            KinesisMeta::default(),
            sink,
            "awslogs.data",
        );
    } else if let Some(message_type) = d.message_type {
        let events = d.log_events.unwrap_or_default();
        let stream = CwlStream {
            group: d.log_group.as_deref().and_then(non_empty),
            stream: d.log_stream.as_deref().and_then(non_empty),
            // A payload names its account; a Kinesis stream it came through is of its region.
            aws: AwsContext {
                account: owner_account(d.owner.as_deref()),
                region: None,
            }
            .or(meta.aws()),
        };
        decode_payload(&message_type, stream, &events, origin, ctx, sink);
    } else if let Some(records) = d.records_upper {
        decode_records_array(doc, &records, origin, ctx, sink);
    } else if let (Some(records), Some(_)) = (d.records, d.invocation_id) {
        decode_firehose(records, origin, ctx, sink);
    } else if let Some(events) = d.events {
        decode_cwl_events(doc, events, origin, ctx, sink);
    } else if d.digest_start_time.is_some() {
        sink.skipped(Skip::CloudTrailDigest, origin);
    } else if let Some(das) = d.das {
        das_record(das, d.key, d.version, doc, origin, ctx, meta, sink);
    } else if d.das_list.is_some() || d.server_type.is_some() || d.db_user_name.is_some() {
        // A decrypted document, or one activity record: the DAS parser reads it.
        sink.record(RawRecord {
            text: doc,
            origin: origin.clone(),
            source: Some(ctx.source.unwrap_or(Source::Das)),
            envelope_time: meta.arrival,
            aws: meta.aws(),
        });
    } else if d.event_version.is_some() || d.event_name.is_some() || d.event_type.is_some() {
        sink.record(RawRecord {
            text: doc,
            origin: origin.clone(),
            source: Some(ctx.source.unwrap_or(Source::CloudTrail)),
            envelope_time: None,
            aws: meta.aws(),
        });
    } else if d.message.is_some() {
        match serde_json::from_str::<CwlEvent<'_>>(doc) {
            Ok(ev) => {
                let stream = CwlStream {
                    aws: meta.aws(),
                    ..CwlStream::default()
                };
                emit_cwl_event(&ev, stream, origin, None, ctx, sink)
            }
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
fn decode_blob(
    data: &str,
    origin: &Origin<'_>,
    ctx: &DocContext,
    meta: KinesisMeta<'_>,
    sink: &mut dyn RecordSink,
    what: &str,
) {
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
        decode_concatenated_in(trimmed, origin, ctx, meta, sink);
    } else {
        // A record of an activity stream (`aws-rds-das-…`) is read as one whatever it holds, so
        // garbage there is the DAS parser's diagnostic, not an unknown source.
        let source = ctx.source.or_else(|| {
            meta.stream
                .and_then(super::das::EncryptionContext::of_stream)
                .map(|_| Source::Das)
        });
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
                source,
                envelope_time: None,
                aws: meta.aws(),
            });
        }
    }
}

/// One or more JSON documents back to back (Firehose → S3 objects have no delimiter); a bad
/// document loses only itself: reading resumes at the next document start.
pub fn decode_concatenated(text: &str, origin: &Origin<'_>, ctx: &DocContext, sink: &mut dyn RecordSink) {
    decode_concatenated_in(text, origin, ctx, KinesisMeta::default(), sink);
}

fn decode_concatenated_in(
    text: &str,
    origin: &Origin<'_>,
    ctx: &DocContext,
    meta: KinesisMeta<'_>,
    sink: &mut dyn RecordSink,
) {
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
                dispatch(d, &start[..consumed], &o, ctx, meta, sink);
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

/// What a subscription payload says of all its events: their log group and stream, and the
/// account that owns them.
#[derive(Clone, Copy, Debug, Default)]
struct CwlStream<'s> {
    group: Option<&'s str>,
    stream: Option<&'s str>,
    aws: AwsContext<'s>,
}

fn decode_payload(
    message_type: &str,
    stream: CwlStream<'_>,
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
    for (i, ev) in events.iter().enumerate() {
        emit_cwl_event(ev, stream, origin, u32::try_from(i).ok(), ctx, sink);
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn emit_cwl_event(
    ev: &CwlEvent<'_>,
    s: CwlStream<'_>,
    origin: &Origin<'_>,
    index: Option<u32>,
    ctx: &DocContext,
    sink: &mut dyn RecordSink,
) {
    let o = Origin {
        file: origin.file,
        line: origin.line,
        log_group: s.group.or(ev.log_group.as_deref()).or(origin.log_group),
        log_stream: s.stream.or(ev.log_stream.as_deref()).or(origin.log_stream),
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
        aws: s.aws,
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
            Ok(ev) => emit_cwl_event(&ev, CwlStream::default(), &o, u32::try_from(i).ok(), ctx, sink),
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
        serde_json::from_str::<KinesisRecord<'_>>(first.get())
            .is_ok_and(|k| k.kinesis.is_some() || k.api_data.is_some())
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
                aws: AwsContext::default(),
            });
            continue;
        }
        match serde_json::from_str::<KinesisRecord<'_>>(raw.get()) {
            Ok(r) => {
                let (data, sequence_number, arrival) = match (&r.kinesis, &r.api_data) {
                    (Some(k), _) => (&k.data, k.sequence_number.as_deref(), k.arrival),
                    (None, Some(data)) => (data, r.api_sequence_number.as_deref(), r.api_arrival),
                    (None, None) => {
                        sink.diagnostic(Diagnostic::new(
                            DiagnosticKind::Json,
                            &o,
                            "a record of a Kinesis event without `kinesis.data`",
                        ));
                        continue;
                    }
                };
                let o = Origin {
                    event_id: r.event_id.as_deref().or(sequence_number).or(o.event_id),
                    ..o
                };
                let meta = KinesisMeta {
                    stream: r.event_source_arn.as_deref(),
                    sequence_number,
                    arrival: arrival_time(arrival),
                };
                decode_blob(data, &o, ctx, meta, sink, "kinesis.data");
            }
            Err(e) => json_diag(sink, &o, "Kinesis record", &e),
        }
    }
}

/// `databaseActivityEvents` of a Database Activity Streams record: base64 (encrypted) with its
/// `key` → the sink opens it ([`RecordSink::sealed`]); an object (a decrypted record, as AWS's
/// documentation prints them) → the DAS parser reads the record.
#[allow(clippy::too_many_arguments)]
fn das_record(
    das: &RawValue,
    key: Option<Cow<'_, str>>,
    version: Option<&RawValue>,
    doc: &str,
    origin: &Origin<'_>,
    ctx: &DocContext,
    meta: KinesisMeta<'_>,
    sink: &mut dyn RecordSink,
) {
    let Ok(message) = serde_json::from_str::<Cow<'_, str>>(das.get()) else {
        sink.record(RawRecord {
            text: doc,
            origin: origin.clone(),
            source: Some(ctx.source.unwrap_or(Source::Das)),
            envelope_time: meta.arrival,
            aws: meta.aws(),
        });
        return;
    };
    let name = meta.sequence_number.map_or_else(
        || "an encrypted activity record".to_owned(),
        |s| format!("Kinesis record {s}"),
    );
    let Some(key) = key.filter(|k| !k.trim().is_empty()) else {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Json,
            origin,
            format!("{name}: `databaseActivityEvents` without its data `key`"),
        ));
        return;
    };
    let version = version.and_then(|v| serde_json::from_str::<&str>(v.get()).ok());
    if let Some(v) = version
        && !v.starts_with("1.")
    {
        sink.diagnostic(Diagnostic::new(
            DiagnosticKind::Field,
            origin,
            format!("{name}: record version {v:?} (laneguard reads 1.0 to 1.2); read as 1.x"),
        ));
    }
    sink.sealed(
        SealedRecord {
            origin: origin.clone(),
            sequence_number: meta.sequence_number,
            stream: meta.stream,
            version,
            key: &key,
            message: &message,
            arrival: meta.arrival,
        },
        ctx,
    );
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
        decode_blob(
            &r.data,
            &o,
            ctx,
            KinesisMeta::default(),
            sink,
            "Firehose record data",
        );
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
