//! VPC flow logs (FORMATS.md §7): space-separated values whose order is the flow log's format.
//!
//! Records carry no field names, so the format comes from an S3 file's header line, from a
//! `--vpc-format` string (`${version} ${srcaddr} …` or plain names), or is the default v2 format.
//! `-` means "not applicable" in any column, and `NODATA`/`SKIPDATA` records have `-` in most.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use super::{ParseError, Parsed, Warnings, time_or_fallback};
use crate::diagnostic::DiagnosticKind;
use crate::envelope::RawRecord;
use crate::event::{Actor, Event, Flow, Kind, Source, Target};
use crate::time;

/// A flow-log field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// A field laneguard reads, by its AWS name.
    Known(&'static str),
    /// A field laneguard does not know (newer versions); its value is ignored.
    Unknown(String),
}

/// Field names laneguard understands (versions 2 to 8).
const KNOWN: &[&str] = &[
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "tcp-flags",
    "type",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "region",
    "az-id",
    "sublocation-type",
    "sublocation-id",
    "pkt-src-aws-service",
    "pkt-dst-aws-service",
    "flow-direction",
    "traffic-path",
    "ecs-cluster-arn",
    "ecs-cluster-name",
    "ecs-container-instance-arn",
    "ecs-container-instance-id",
    "ecs-container-id",
    "ecs-second-container-id",
    "ecs-service-name",
    "ecs-task-definition-arn",
    "ecs-task-arn",
    "ecs-task-id",
    "reject-reason",
    "resource-id",
    "encryption-status",
];

/// The default (version 2) format.
pub const DEFAULT_FORMAT: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status";

/// The order of fields in flow records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowFormat {
    fields: Vec<Field>,
}

impl Default for FlowFormat {
    fn default() -> Self {
        FlowFormat::parse(DEFAULT_FORMAT).unwrap_or(FlowFormat { fields: Vec::new() })
    }
}

impl fmt::Display for FlowFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match field {
                Field::Known(n) => f.write_str(n)?,
                Field::Unknown(n) => f.write_str(n)?,
            }
        }
        Ok(())
    }
}

impl FlowFormat {
    /// Parse a format: `${version} ${srcaddr} …` (as in the AWS console) or plain names (as in an
    /// S3 header line). Unknown names are kept as placeholders; at least one known name is needed.
    pub fn parse(spec: &str) -> Result<FlowFormat, String> {
        let mut fields = Vec::new();
        for token in spec.split_ascii_whitespace() {
            let name = token
                .strip_prefix("${")
                .and_then(|t| t.strip_suffix('}'))
                .unwrap_or(token);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b.is_ascii_digit())
            {
                return Err(format!("{token:?} is not a flow-log field name"));
            }
            fields.push(match KNOWN.iter().find(|k| **k == name) {
                Some(k) => Field::Known(k),
                None => Field::Unknown(name.to_owned()),
            });
        }
        if !fields.iter().any(|f| matches!(f, Field::Known(_))) {
            return Err("a flow-log format needs at least one known field".into());
        }
        Ok(FlowFormat { fields })
    }

    /// Parse a header line; `None` when the line is not made of field names only.
    pub fn from_header(line: &str) -> Option<FlowFormat> {
        // Called on every line of a flow file (a header may come back): a record is refused at
        // its first value, before anything is allocated.
        if !line
            .split_ascii_whitespace()
            .map(|t| {
                t.strip_prefix("${")
                    .and_then(|t| t.strip_suffix('}'))
                    .unwrap_or(t)
            })
            .all(|t| KNOWN.contains(&t))
        {
            return None;
        }
        let format = FlowFormat::parse(line).ok()?;
        format
            .fields
            .iter()
            .all(|f| matches!(f, Field::Known(_)))
            .then_some(format)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the format has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Parser for flow records in one format at a time.
#[derive(Debug)]
pub struct VpcFlowParser {
    configured: FlowFormat,
    current: FlowFormat,
}

impl VpcFlowParser {
    /// A parser for records in `format` (until a file header says otherwise).
    pub fn new(format: FlowFormat) -> Self {
        VpcFlowParser {
            current: format.clone(),
            configured: format,
        }
    }

    /// Use `format` (a file's header line).
    pub fn set_format(&mut self, format: FlowFormat) {
        self.current = format;
    }

    /// The format of the next records.
    pub fn format(&self) -> &FlowFormat {
        &self.current
    }

    /// Back to the configured format.
    pub fn reset_format(&mut self) {
        self.current = self.configured.clone();
    }

    /// Parse one record.
    pub fn parse<'a>(
        &self,
        record: &RawRecord<'a>,
        warnings: &mut Warnings,
    ) -> Result<Parsed<'a>, ParseError> {
        let format = &self.current;
        let mut flow = Flow::default();
        let mut actor = Actor::default();
        let mut target = Target::default();
        let (mut start_raw, mut end_raw) = ("", "");
        let mut n = 0usize;
        for (i, value) in record.text.split_ascii_whitespace().enumerate() {
            n = i + 1;
            let Some(Field::Known(name)) = format.fields.get(i) else {
                continue;
            };
            if value == "-" {
                continue;
            }
            let v = Cow::Borrowed(value);
            let mut bad = |what: &str| {
                warnings.push((DiagnosticKind::Field, format!("{name} {value:?} is not {what}")))
            };
            match *name {
                "version" => {
                    flow.version = value.parse().ok().or_else(|| {
                        bad("a version");
                        None
                    })
                }
                "account-id" => target.account = Some(v),
                "interface-id" => flow.interface = Some(v),
                "srcaddr" => {
                    actor.ip = ip(value).or_else(|| {
                        bad("an IP address");
                        None
                    })
                }
                "dstaddr" => {
                    target.ip = ip(value).or_else(|| {
                        bad("an IP address");
                        None
                    })
                }
                "srcport" => {
                    actor.port = value.parse().ok().or_else(|| {
                        bad("a port");
                        None
                    })
                }
                "dstport" => {
                    target.port = value.parse().ok().or_else(|| {
                        bad("a port");
                        None
                    })
                }
                "protocol" => {
                    flow.protocol = value.parse().ok().or_else(|| {
                        bad("a protocol number");
                        None
                    })
                }
                "packets" => {
                    flow.packets = value.parse().ok().or_else(|| {
                        bad("a count");
                        None
                    })
                }
                "bytes" => {
                    flow.bytes = value.parse().ok().or_else(|| {
                        bad("a count");
                        None
                    })
                }
                "start" => start_raw = value,
                "end" => end_raw = value,
                "action" => flow.action = Some(v),
                "log-status" => flow.log_status = Some(v),
                "vpc-id" => flow.vpc = Some(v),
                "subnet-id" => flow.subnet = Some(v),
                "instance-id" => flow.instance = Some(v),
                "tcp-flags" => {
                    flow.tcp_flags = value.parse().ok().or_else(|| {
                        bad("a flag set");
                        None
                    })
                }
                "pkt-srcaddr" => {
                    flow.pkt_src = ip(value).or_else(|| {
                        bad("an IP address");
                        None
                    })
                }
                "pkt-dstaddr" => {
                    flow.pkt_dst = ip(value).or_else(|| {
                        bad("an IP address");
                        None
                    })
                }
                "region" => target.region = Some(v),
                "pkt-src-aws-service" => flow.pkt_src_service = Some(v),
                "pkt-dst-aws-service" => flow.pkt_dst_service = Some(v),
                "flow-direction" => flow.direction = Some(v),
                "traffic-path" => {
                    flow.traffic_path = value.parse().ok().or_else(|| {
                        bad("a path number");
                        None
                    })
                }
                "reject-reason" => flow.reject_reason = Some(v),
                _ => {}
            }
        }
        if n != format.len() {
            return Err(ParseError::format(format!(
                "flow record has {n} fields, its format has {} ({format})",
                format.len()
            )));
        }
        flow.start = time::parse_epoch_seconds(start_raw);
        flow.end = time::parse_epoch_seconds(end_raw);
        let time = match (flow.start, record.envelope_time) {
            (Some(t), _) => t,
            (None, Some(t)) => t,
            (None, None) if start_raw.is_empty() => jiff::Timestamp::UNIX_EPOCH,
            (None, None) => time_or_fallback(None, start_raw, record, warnings),
        };
        let mut event = Event::new(time, Source::VpcFlow, record.origin.clone(), Kind::Flow(flow));
        event.actor = actor;
        event.target = target;
        Ok(Parsed::Event(Box::new(event)))
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// Whether a line has the shape of a flow record (for content detection).
pub fn looks_like(line: &str) -> bool {
    let mut tokens = 0;
    let mut eni = false;
    for t in line.split_ascii_whitespace() {
        tokens += 1;
        eni |= t.starts_with("eni-");
    }
    eni && tokens >= 4 || FlowFormat::from_header(line).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Origin;

    fn parse_with<'a>(format: &str, line: &'a str) -> (Result<Parsed<'a>, ParseError>, Warnings) {
        let p = VpcFlowParser::new(FlowFormat::parse(format).unwrap());
        let rec = RawRecord {
            text: line,
            origin: Origin::default(),
            source: None,
            envelope_time: None,
            aws: crate::envelope::AwsContext::default(),
        };
        let mut w = Vec::new();
        (p.parse(&rec, &mut w), w)
    }

    #[test]
    fn default_format() {
        let (r, w) = parse_with(
            DEFAULT_FORMAT,
            "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
        );
        assert!(w.is_empty());
        let Ok(Parsed::Event(e)) = r else { panic!() };
        assert_eq!(e.target.port, Some(22));
        assert_eq!(e.time.to_string(), "2014-12-14T04:06:50Z");
        let (r, w) = parse_with(
            DEFAULT_FORMAT,
            "2 123456789010 eni-1235b8ca123456789 - - - - - - - 1431280876 1431280934 - NODATA",
        );
        assert!(w.is_empty());
        let Ok(Parsed::Event(e)) = r else { panic!() };
        let Kind::Flow(f) = &e.kind else { panic!() };
        assert_eq!(f.log_status.as_deref(), Some("NODATA"));
        assert!(e.actor.ip.is_none());
    }

    #[test]
    fn custom_formats() {
        let (r, w) = parse_with(
            "${instance-id} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr}",
            "- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5",
        );
        assert!(w.is_empty() && r.is_ok());
        let (r, _) = parse_with(DEFAULT_FORMAT, "2 1 eni-1 1.1.1.1");
        assert!(r.is_err());
        let (r, w) = parse_with(
            DEFAULT_FORMAT,
            "2 1 eni-1 1.1.1.x 2.2.2.2 1 2 6 1 1 1 1 ACCEPT OK",
        );
        assert!(r.is_ok());
        assert_eq!(w.len(), 1);
        assert!(FlowFormat::parse("${bogus!}").is_err());
        assert!(FlowFormat::from_header(DEFAULT_FORMAT).is_some());
        assert!(FlowFormat::from_header("2 123 eni-1").is_none());
    }
}
