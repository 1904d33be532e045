//! Record parsers, one module per log source, and source detection.
//!
//! A parser turns one [`RawRecord`] into at most one [`Event`] that borrows from the record text.
//! It never fails a batch: a record it cannot read is a [`ParseError`] (the pipeline makes it a
//! diagnostic), a record that is readable but carries no database activity is a [`Skip`], and
//! problems that still leave an event (an unreadable timestamp, say) are warnings.
//!
//! Detection follows FORMATS.md §1.6: the log group name decides for RDS groups
//! (`/aws/rds/{instance,cluster}/<id>/{audit,postgresql}`); CloudTrail and flow-log group names
//! are chosen by users, so elsewhere the record's shape decides.

pub mod cloudtrail;
pub mod csv;
pub mod das;
pub mod mysql_audit;
pub mod pgaudit;
pub mod vpc_flow;

use std::borrow::Cow;
use std::net::IpAddr;

use jiff::Timestamp;

use crate::diagnostic::DiagnosticKind;
use crate::envelope::{AwsContext, RawRecord, Skip};
use crate::event::{Event, Origin, Source};

pub use pgaudit::LinePrefix;
pub use vpc_flow::FlowFormat;

/// What a parser made of a record.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// An event.
    Event(Box<Event<'a>>),
    /// A record deliberately not turned into an event.
    Skip(Skip),
    /// A record holding many: a Database Activity Streams document has one outcome per
    /// activity record, each with its own origin (the record's, with the element's index).
    Many(Vec<Outcome<'a>>),
}

/// One element of a record that holds many ([`Parsed::Many`]).
#[derive(Debug)]
pub struct Outcome<'a> {
    /// The element's origin.
    pub origin: Origin<'a>,
    /// What the element became (never [`Parsed::Many`] again).
    pub parsed: Result<Parsed<'a>, ParseError>,
}

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Diagnostic kind.
    pub kind: DiagnosticKind,
    /// Why.
    pub reason: String,
}

impl ParseError {
    /// A format error (the record does not have its source's layout).
    pub fn format(reason: impl Into<String>) -> Self {
        ParseError {
            kind: DiagnosticKind::Format,
            reason: reason.into(),
        }
    }
}

/// Problems that did not prevent an event (collected per record, reused between records).
pub type Warnings = Vec<(DiagnosticKind, String)>;

/// Options of the parsers.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// VPC flow-log field order for records that come without a header line.
    pub vpc_format: Option<FlowFormat>,
    /// PostgreSQL `log_line_prefix` (default: RDS's `%t:%r:%u@%d:[%p]:`).
    pub pg_prefix: Option<LinePrefix>,
    /// MySQL `server_audit_query_log_limit`: statements logged at this length were cut by the
    /// audit engine (default 1024).
    pub mysql_query_log_limit: Option<usize>,
    /// Database Activity Streams: analyse the activity of `rdsadmin` (AWS's maintenance user)
    /// instead of counting and skipping it.
    pub keep_rdsadmin: bool,
    /// Account and region of records that name none and whose envelope names none (a Lambda
    /// function's region): the last resort, for findings a SIEM joins on account and region.
    pub aws: AwsContext<'static>,
}

/// The per-stream state of [`Parsers`] at one point of a stream.
#[derive(Clone, Debug, Default)]
pub struct StreamCarry {
    pg_pending: std::collections::HashMap<String, String>,
    vpc_format: FlowFormat,
}

/// The parsers of all sources, with their per-stream state.
#[derive(Debug)]
pub struct Parsers {
    mysql: mysql_audit::MysqlAuditParser,
    pg: pgaudit::PgParser,
    vpc: vpc_flow::VpcFlowParser,
    das: das::DasParser,
    aws: AwsContext<'static>,
}

impl Parsers {
    /// Parsers configured by `options`.
    pub fn new(options: &ParseOptions) -> Self {
        Parsers {
            mysql: mysql_audit::MysqlAuditParser::new(options.mysql_query_log_limit.unwrap_or(1024)),
            pg: pgaudit::PgParser::new(options.pg_prefix.clone().unwrap_or_default()),
            vpc: vpc_flow::VpcFlowParser::new(options.vpc_format.clone().unwrap_or_default()),
            das: das::DasParser::new(options.keep_rdsadmin),
            aws: options.aws,
        }
    }

    /// Use `format` for flow records until [`Parsers::reset_vpc_format`] (a file's header line).
    pub fn set_vpc_format(&mut self, format: FlowFormat) {
        self.vpc.set_format(format);
    }

    /// Back to the configured flow-log format.
    pub fn reset_vpc_format(&mut self) {
        self.vpc.reset_format();
    }

    /// The PostgreSQL line-prefix matcher (file framing needs it to find record starts).
    pub fn pg_prefix(&self) -> &LinePrefix {
        self.pg.prefix()
    }

    /// Forget per-stream state (pending PostgreSQL errors) at the end of a file or batch.
    pub fn end_stream(&mut self) {
        self.pg.end_stream();
    }

    /// Follow a record's effect on the per-stream state without parsing it (PostgreSQL errors
    /// waiting for their statement; see [`Parsers::carry`]).
    pub fn track(&mut self, source: Source, text: &str) {
        if source == Source::Pgaudit {
            self.pg.track(text);
        }
    }

    /// The per-stream state at this point of a stream: what a parser that continues the stream
    /// elsewhere needs ([`Parsers::resume`]) to parse the rest exactly as this one would.
    pub fn carry(&self) -> StreamCarry {
        StreamCarry {
            pg_pending: self.pg.pending_errors().clone(),
            vpc_format: self.vpc.format().clone(),
        }
    }

    /// Continue a stream from the state another parser had at this point ([`Parsers::carry`]).
    pub fn resume(&mut self, carry: StreamCarry) {
        self.pg.set_pending_errors(carry.pg_pending);
        self.vpc.set_format(carry.vpc_format);
    }

    /// Parse one record of `source`.
    pub fn parse<'a>(
        &mut self,
        source: Source,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        let mut parsed = match source {
            Source::CloudTrail => cloudtrail::parse(record, warnings),
            Source::MysqlAudit => self.mysql.parse(record, warnings),
            Source::Pgaudit => self.pg.parse(record, warnings),
            Source::VpcFlow => self.vpc.parse(record, warnings),
            Source::Das => self.das.parse(record, warnings),
        };
        let aws = record.aws.or(self.aws);
        if aws != AwsContext::default() {
            match &mut parsed {
                Ok(Parsed::Event(event)) => complete_aws(event, aws),
                Ok(Parsed::Many(outcomes)) => {
                    for o in outcomes {
                        if let Ok(Parsed::Event(event)) = &mut o.parsed {
                            complete_aws(event, aws);
                        }
                    }
                }
                _ => {}
            }
        }
        parsed
    }
}

/// Give an event the account and region its envelope (or the deployment) names, where the
/// record itself names none (the record's own `recipientAccountId`, `account-id` or `region`
/// win).
fn complete_aws<'a>(event: &mut Event<'a>, aws: AwsContext<'a>) {
    if event.target.account.is_none() {
        event.target.account = aws.account.map(Cow::Borrowed);
    }
    if event.target.region.is_none() {
        event.target.region = aws.region.map(Cow::Borrowed);
    }
}

/// The source of a record, from its log group when that is an RDS group, else from its shape.
pub fn detect(log_group: Option<&str>, text: &str, pg_prefix: &LinePrefix) -> Option<Source> {
    if let Some(source) = log_group.and_then(source_of_log_group) {
        return Some(source);
    }
    detect_content(text, pg_prefix)
}

/// The source implied by an RDS log group name (`/aws/rds/instance/db1/audit` → MySQL audit).
pub fn source_of_log_group(group: &str) -> Option<Source> {
    let (_, kind) = rds_log_group(group)?;
    match kind {
        "audit" => Some(Source::MysqlAudit),
        "postgresql" => Some(Source::Pgaudit),
        _ => None,
    }
}

/// `(datastore id, log type)` of an RDS log group `/aws/rds/{instance,cluster}/<id>/<type>`.
pub fn rds_log_group(group: &str) -> Option<(&str, &str)> {
    let rest = group
        .strip_prefix("/aws/rds/instance/")
        .or_else(|| group.strip_prefix("/aws/rds/cluster/"))?;
    let (id, kind) = rest.split_once('/')?;
    (!id.is_empty()).then_some((id, kind))
}

/// The source of a record from its text alone.
pub fn detect_content(text: &str, pg_prefix: &LinePrefix) -> Option<Source> {
    let t = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    let b = t.as_bytes();
    if b.first() == Some(&b'{') {
        return Some(Source::CloudTrail);
    }
    if mysql_audit::looks_like(t) {
        return Some(Source::MysqlAudit);
    }
    if pg_prefix.is_record_start(t) || pgaudit::is_bare_record_start(t) {
        return Some(Source::Pgaudit);
    }
    if vpc_flow::looks_like(t) {
        return Some(Source::VpcFlow);
    }
    None
}

/// The datastore named by an RDS log group, for records that do not name their server.
pub fn datastore_of<'a>(record: &RawRecord<'a>) -> Option<Cow<'a, str>> {
    record
        .origin
        .log_group
        .and_then(rds_log_group)
        .map(|(id, _)| Cow::Borrowed(id))
}

/// Split a logged client host into an IP address, a port and a non-IP host name.
///
/// Accepts `10.0.0.1`, `10.0.0.1:5432` (MariaDB ≥ 12.0.1), `[2001:db8::1]:5432`, `2001:db8::1`
/// and names (`localhost`, `[local]`, `rds.amazonaws.com`).
pub fn split_host(host: &str) -> (Option<IpAddr>, Option<u16>, Option<&str>) {
    if host.is_empty() {
        return (None, None, None);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return (Some(ip), None, None);
    }
    if let Some(rest) = host.strip_prefix('[')
        && let Some((ip, port)) = rest.split_once("]:")
        && let (Ok(ip), Ok(port)) = (ip.parse::<IpAddr>(), port.parse::<u16>())
    {
        return (Some(ip), Some(port), None);
    }
    if let Some((ip, port)) = host.rsplit_once(':')
        && let (Ok(ip), Ok(port)) = (ip.parse::<std::net::Ipv4Addr>(), port.parse::<u16>())
    {
        return (Some(IpAddr::V4(ip)), Some(port), None);
    }
    (None, None, Some(host))
}

/// The event time, or the envelope's time with a warning, or the epoch with a warning.
pub(crate) fn time_or_fallback(
    parsed: Option<Timestamp>,
    raw: &str,
    record: &RawRecord<'_>,
    warnings: &mut Warnings,
) -> Timestamp {
    match parsed {
        Some(t) => t,
        None => {
            let fallback = record.envelope_time.unwrap_or(Timestamp::UNIX_EPOCH);
            warnings.push((
                DiagnosticKind::Timestamp,
                format!(
                    "unreadable timestamp {:?}; using {}",
                    truncate_for_message(raw, 40),
                    if record.envelope_time.is_some() {
                        "the envelope time"
                    } else {
                        "the Unix epoch"
                    }
                ),
            ));
            fallback
        }
    }
}

/// At most `max` bytes of `s` (on a char boundary), for error messages.
pub(crate) fn truncate_for_message(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(split_host("10.0.0.1").0, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(split_host("192.168.1.24:54312").1, Some(54312));
        assert_eq!(split_host("[2001:db8::1]:5432").1, Some(5432));
        assert_eq!(split_host("2001:db8::1").0, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(split_host("localhost").2, Some("localhost"));
        assert_eq!(split_host("08.1.250.216").2, Some("08.1.250.216"));
    }

    #[test]
    fn log_groups() {
        assert_eq!(
            source_of_log_group("/aws/rds/instance/db1/audit"),
            Some(Source::MysqlAudit)
        );
        assert_eq!(
            source_of_log_group("/aws/rds/cluster/c1/postgresql"),
            Some(Source::Pgaudit)
        );
        assert_eq!(source_of_log_group("/aws/rds/instance/db1/error"), None);
        assert_eq!(source_of_log_group("CloudTrail/logs"), None);
        assert_eq!(rds_log_group("/aws/rds/cluster/c1/audit"), Some(("c1", "audit")));
    }
}
