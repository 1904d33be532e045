//! Writing findings to any `io::Write` — stdout for `replay`, a file, the function's own log —
//! as JSON lines for machines, an aligned table for people, or OCSF Detection Findings for a
//! SIEM. The AWS finding sinks (SNS, the SIEM log group) live in `laneguard-aws`: this is the one
//! way findings become bytes in the core.

use std::io::{self, Write};

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

/// Writes findings to `out` in one [`FindingFormat`].
#[derive(Debug)]
pub struct FindingWriter<W: Write> {
    out: W,
    format: FindingFormat,
    header_written: bool,
}

impl<W: Write> FindingWriter<W> {
    /// A writer of `format` to `out`.
    pub fn new(out: W, format: FindingFormat) -> Self {
        FindingWriter {
            out,
            format,
            header_written: false,
        }
    }

    /// The underlying writer (to interleave other output, e.g. events).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    fn write_table_row(&mut self, f: &Finding) -> io::Result<()> {
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
        write!(
            self.out,
            "{:<20}  {:<8}  {:<28}  {:<12}  {:<24}  {:<16}  {}",
            time,
            f.severity.as_str(),
            f.rule_id,
            f.zone.as_deref().unwrap_or("-"),
            actor,
            f.datastore.as_deref().unwrap_or("-"),
            what.chars().take(120).collect::<String>()
        )?;
        // A Sigma rule's matches name its author, never cut (the Detection Rule License asks).
        match &f.sigma {
            Some(s) => writeln!(self.out, "  [{}]", s.credit),
            None => writeln!(self.out),
        }
    }

    /// Write a batch of findings (call as often as needed; [`FindingWriter::flush`] at the end).
    pub fn write(&mut self, findings: &[Finding]) -> io::Result<()> {
        for f in findings {
            match self.format {
                FindingFormat::Json => {
                    serde_json::to_writer(&mut self.out, f)?;
                    self.out.write_all(b"\n")?;
                }
                FindingFormat::Table => self.write_table_row(f)?,
                FindingFormat::Ocsf => {
                    serde_json::to_writer(&mut self.out, &crate::ocsf::detection_finding(f))?;
                    self.out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    /// Flush the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
