//! Transport envelopes: how log records reach laneguard, and how they are unwrapped.
//!
//! CloudWatch Logs subscriptions deliver `{"awslogs":{"data": base64(gzip(payload))}}` to
//! Lambda, a Kinesis record holding gzip(payload), or a Firehose record; archives hold CloudTrail
//! `{"Records":[…]}` objects, Firehose objects of concatenated payloads, CloudWatch Logs exports,
//! flow-log files with a header line, or plain lines. All of them end as [`RawRecord`]s handed to
//! a [`RecordSink`] — one log record each, with the origin that finds it again.
//!
//! Encrypted Database Activity Streams records are recognised here and handed to the sink
//! ([`RecordSink::sealed`]), which alone knows whether it can get their data keys ([`das`]).
//!
//! Unknown keys are tolerated everywhere (AWS adds keys such as `policyLevel`); a document that
//! cannot be read becomes a diagnostic and the rest of the input goes on.

pub mod das;
pub mod decode;
mod documents;
pub mod subscription;

use jiff::Timestamp;

use crate::diagnostic::Diagnostic;
use crate::event::{Origin, Source};
use crate::sources::FlowFormat;

pub use das::SealedRecord;
pub use decode::{DecodeError, Limits};
pub use documents::{DocContext, decode_concatenated, decode_document, decode_lambda_event, decode_opened};

/// One log record as delivered: the raw text and where it came from.
#[derive(Clone, Debug)]
pub struct RawRecord<'a> {
    /// The record text (a log line, a multi-line PostgreSQL entry, a CloudTrail JSON record).
    pub text: &'a str,
    /// Where the record is.
    pub origin: Origin<'a>,
    /// The source when the caller knows it (`--source`, a whole file's detected source).
    pub source: Option<Source>,
    /// Event time given by the envelope (CloudWatch Logs timestamp), used when the record's own
    /// time cannot be read.
    pub envelope_time: Option<Timestamp>,
    /// The AWS account and region the envelope names (a subscription's `owner`, a Kinesis
    /// stream ARN), for records that do not name their own: what a SIEM or Security Lake joins
    /// findings on. The parsers complete it with [`crate::sources::ParseOptions::aws`].
    pub aws: AwsContext<'a>,
}

/// The AWS account and region a record belongs to, as its envelope or its deployment says
/// (the record's own fields win: CloudTrail's `recipientAccountId`, a flow log's `account-id`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AwsContext<'a> {
    /// Twelve-digit account id.
    pub account: Option<&'a str>,
    /// Region (`eu-west-1`).
    pub region: Option<&'a str>,
}

impl<'a> AwsContext<'a> {
    /// The account and region of an ARN (`arn:aws:kinesis:eu-west-1:111122223333:stream/…`),
    /// each when non-empty.
    pub fn of_arn(arn: &'a str) -> Self {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some(_service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return AwsContext::default();
        };
        AwsContext {
            account: (!account.is_empty()).then_some(account),
            region: (!region.is_empty()).then_some(region),
        }
    }

    /// The account and region an AWS log archive's path names: `…/AWSLogs/[<org id>/]<account>/
    /// {CloudTrail,vpcflowlogs}/<region>/…`, the layout CloudTrail and VPC flow logs deliver to
    /// S3 with (a flow log of the default format names no region: its key does). Any other path
    /// names nothing.
    pub fn of_archive_path(path: &'a str) -> Self {
        let mut parts = path.split('/').skip_while(|p| *p != "AWSLogs").skip(1).peekable();
        if parts.peek().is_some_and(|p| p.starts_with("o-")) {
            parts.next();
        }
        let (Some(account), Some(service), Some(region)) = (parts.next(), parts.next(), parts.next()) else {
            return AwsContext::default();
        };
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !(account_ok && region_ok && matches!(service, "CloudTrail" | "vpcflowlogs")) {
            return AwsContext::default();
        }
        AwsContext {
            account: Some(account),
            region: Some(region),
        }
    }

    /// This context, with what it lacks taken from `fallback`.
    pub fn or(self, fallback: AwsContext<'a>) -> Self {
        AwsContext {
            account: self.account.or(fallback.account),
            region: self.region.or(fallback.region),
        }
    }
}

/// A [`RecordSink`] that gives every record the account and region of where it was read from
/// (an archive's key, [`AwsContext::of_archive_path`]) when its envelope names none.
pub struct WithAws<'s, 'k> {
    /// Where the records go.
    pub sink: &'s mut dyn RecordSink,
    /// What the stream's location names.
    pub aws: AwsContext<'k>,
}

impl RecordSink for WithAws<'_, '_> {
    fn record(&mut self, record: RawRecord<'_>) {
        let aws = record.aws.or(self.aws);
        self.sink.record(RawRecord { aws, ..record });
    }
    fn skipped(&mut self, reason: Skip, origin: &Origin<'_>) {
        self.sink.skipped(reason, origin);
    }
    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.sink.diagnostic(diagnostic);
    }
    fn sealed(&mut self, record: SealedRecord<'_>, ctx: &DocContext) {
        self.sink.sealed(record, ctx);
    }
    fn flow_format(&mut self, format: FlowFormat) {
        self.sink.flow_format(format);
    }
    fn end_stream(&mut self) {
        self.sink.end_stream();
    }
}

/// Why an input record was deliberately not turned into an event (counted, not a diagnostic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// CloudWatch Logs `CONTROL_MESSAGE` (a reachability check): acknowledged.
    ControlMessage,
    /// A `#` note line in a replayed file.
    Comment,
    /// An empty line.
    Empty,
    /// A flow-log file's header line (it sets the field order).
    Header,
    /// A CloudTrail Insights record (no caller, no action).
    CloudTrailInsight,
    /// A CloudTrail digest file.
    CloudTrailDigest,
    /// A log line that records no database activity (checkpoints, start-up, statistics).
    NoActivity,
    /// A Database Activity Streams heartbeat (the stream is alive; no activity).
    Heartbeat,
    /// Activity of `rdsadmin`, AWS's own maintenance user on RDS (counted, not analysed, unless
    /// the operator keeps it: `--keep-rdsadmin`, `LANEGUARD_KEEP_RDSADMIN`).
    RdsAdmin,
    /// An Aurora MySQL `AUX` activity record joined to the `MAIN` record of its statement (its
    /// objects are that statement's event's).
    AuxJoined,
    /// An encrypted record left for Lambda to deliver again: an earlier record of the batch
    /// could not get its data key from KMS for a reason that may pass (throttling, 5xx), and a
    /// Kinesis batch resumes from the first record that failed.
    Deferred,
}

impl Skip {
    /// Name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::ControlMessage => "control_message",
            Skip::Comment => "comment",
            Skip::Empty => "empty",
            Skip::Header => "header",
            Skip::CloudTrailInsight => "cloudtrail_insight",
            Skip::CloudTrailDigest => "cloudtrail_digest",
            Skip::NoActivity => "no_activity",
            Skip::Heartbeat => "heartbeat",
            Skip::RdsAdmin => "rdsadmin",
            Skip::AuxJoined => "aux_joined",
            Skip::Deferred => "deferred",
        }
    }
}

/// Receives what an envelope or a framed file yields: records, skips, diagnostics, and the
/// stream-level facts that change how the following records read. The pipeline is one; the
/// tests, the fuzz targets and anything that only wants records are others.
pub trait RecordSink {
    /// One log record.
    fn record(&mut self, record: RawRecord<'_>);
    /// A record deliberately skipped.
    fn skipped(&mut self, reason: Skip, origin: &Origin<'_>);
    /// A record or document that could not be read.
    fn diagnostic(&mut self, diagnostic: Diagnostic);
    /// An encrypted Database Activity Streams record. A sink that can get data keys opens it
    /// ([`das::open`]) and decodes the plaintext ([`decode_opened`]); by default the record is
    /// a diagnostic saying how to read it.
    fn sealed(&mut self, record: SealedRecord<'_>, _ctx: &DocContext) {
        self.diagnostic(das::without_keys(&record));
    }
    /// A flow-log header line set the field order of the following flow records, until
    /// [`RecordSink::end_stream`].
    fn flow_format(&mut self, _format: FlowFormat) {}
    /// The stream (a file, a batch) ended: per-stream state is forgotten.
    fn end_stream(&mut self) {}
}
