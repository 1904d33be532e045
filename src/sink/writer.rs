//! A sink that writes findings to any `io::Write` (stdout for `replay`, a file): JSON lines for
//! machines, an aligned table for people.

use std::io::Write;

use super::{Sink, SinkError};
use crate::finding::Finding;

/// How findings are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingFormat {
    /// One JSON object per line (DESIGN.md §6 field names).
    Json,
    /// A table for a terminal.
    Table,
    /// One OCSF 1.8.0 Detection Finding (class 2004) per line, for SIEMs.
    Ocsf,
}

/// Writes findings to `out`.
#[derive(Debug)]
pub struct WriterSink<W: Write> {
    out: W,
    format: FindingFormat,
    header_written: bool,
}

impl<W: Write> WriterSink<W> {
    /// A sink writing `format` to `out`.
    pub fn new(out: W, format: FindingFormat) -> Self {
        WriterSink {
            out,
            format,
            header_written: false,
        }
    }

    /// The underlying writer (to interleave other output, e.g. events).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn io(e: std::io::Error) -> SinkError {
        SinkError::Io {
            sink: "stdout",
            source: e,
        }
    }

    fn write_table_row(&mut self, f: &Finding) -> std::io::Result<()> {
        if !self.header_written {
            writeln!(
                self.out,
                "{:<20}  {:<8}  {:<28}  {:<12}  {:<24}  {:<16}  WHAT",
                "TIME", "SEVERITY", "RULE", "ZONE", "ACTOR", "DATASTORE"
            )?;
            self.header_written = true;
        }
        let actor = match (&f.actor.user, &f.actor.ip, &f.actor.host) {
            (Some(u), Some(ip), _) => format!("{u}@{ip}"),
            (Some(u), None, Some(h)) => format!("{u}@{h}"),
            (Some(u), None, None) => u.clone(),
            (None, Some(ip), _) => ip.to_string(),
            (None, None, Some(h)) => h.clone(),
            (None, None, None) => "-".into(),
        };
        let what = if let Some(s) = &f.statement {
            format!("{} {}", s.command, s.normalized)
        } else if let Some(a) = &f.api {
            format!("{} {}", a.service, a.action)
        } else if let Some(fl) = &f.flow {
            format!(
                "{} port {}",
                fl.action.as_deref().unwrap_or("-"),
                fl.dst_port.map_or("-".to_string(), |p| p.to_string())
            )
        } else {
            f.title.clone()
        };
        let time = f.time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        writeln!(
            self.out,
            "{:<20}  {:<8}  {:<28}  {:<12}  {:<24}  {:<16}  {}",
            time,
            f.severity.as_str(),
            f.rule_id,
            f.zone.as_deref().unwrap_or("-"),
            actor,
            f.datastore.as_deref().unwrap_or("-"),
            what.chars().take(120).collect::<String>()
        )
    }
}

impl<W: Write> Sink for WriterSink<W> {
    fn name(&self) -> &'static str {
        "stdout"
    }

    fn send(&mut self, findings: &[Finding]) -> Result<(), SinkError> {
        for f in findings {
            match self.format {
                FindingFormat::Json => {
                    serde_json::to_writer(&mut self.out, f).map_err(|e| Self::io(e.into()))?;
                    self.out.write_all(b"\n").map_err(Self::io)?;
                }
                FindingFormat::Table => self.write_table_row(f).map_err(Self::io)?,
                FindingFormat::Ocsf => {
                    serde_json::to_writer(&mut self.out, &crate::ocsf::detection_finding(f))
                        .map_err(|e| Self::io(e.into()))?;
                    self.out.write_all(b"\n").map_err(Self::io)?;
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(Self::io)
    }
}
