//! `laneguard envelope`: wrap raw log records into the Lambda event a CloudWatch Logs subscription
//! delivers (`{"awslogs":{"data": base64(gzip(payload))}}`), so a function can be run locally
//! (`cargo lambda watch` + `cargo lambda invoke --data-file`) on a user's own records.
//!
//! Records are one per line; a PostgreSQL entry that spans lines (a statement with newlines)
//! stays one record, recognised by its `log_line_prefix` as the replay framing does; a CloudTrail
//! `{"Records":[…]}` file becomes one log event per record, as the CloudTrail → CloudWatch Logs
//! integration writes them. Event ids are 56-digit, deterministic; timestamps start at
//! `--start` (default: now, so CloudWatch Logs and the SIEM accept them) one millisecond apart.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde::Deserialize;
use serde_json::value::RawValue;

use laneguard_core::envelope::subscription::{LogEventIn, subscription_event};
use laneguard_core::sources::LinePrefix;
use laneguard_core::sources::pgaudit::{RDS_PREFIX, is_bare_record_start};

/// `laneguard envelope`.
#[derive(Debug, Args)]
pub struct EnvelopeArgs {
    /// Log group the records claim to come from (it decides the source for rds-audit:
    /// `/aws/rds/instance/<id>/audit` or `/aws/rds/instance/<id>/postgresql`).
    #[arg(long, value_name = "NAME")]
    pub log_group: String,
    /// Log stream name.
    #[arg(long, value_name = "NAME", default_value = "laneguard-envelope")]
    pub log_stream: String,
    /// AWS account id of the owner.
    #[arg(long, value_name = "ACCOUNT", default_value = "123456789012")]
    pub owner: String,
    /// Subscription filter name.
    #[arg(long, value_name = "NAME", default_value = "laneguard")]
    pub filter_name: String,
    /// Timestamp of the first record (RFC 3339, e.g. `2026-11-28T00:25:11Z`; default: now).
    #[arg(long, value_name = "TIME")]
    pub start: Option<jiff::Timestamp>,
    /// PostgreSQL `log_line_prefix`, to keep multi-line entries together.
    #[arg(long, value_name = "PREFIX", default_value = RDS_PREFIX)]
    pub pg_prefix: String,
    /// File of raw records (`-`: standard input).
    pub input: PathBuf,
}

#[derive(Deserialize)]
struct Records<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// Split `text` into records: CloudTrail `Records` documents into their records, lines into
/// records, PostgreSQL continuation lines onto their entry.
pub fn frame<'t>(text: &'t str, prefix: &LinePrefix) -> Vec<std::borrow::Cow<'t, str>> {
    use std::borrow::Cow;
    let trimmed = text.trim_start_matches('\u{feff}').trim();
    if trimmed.starts_with('{')
        && let Ok(doc) = serde_json::from_str::<Records<'_>>(trimmed)
    {
        return doc.records.into_iter().map(|r| Cow::Borrowed(r.get())).collect();
    }
    let mut out: Vec<Cow<'t, str>> = Vec::new();
    let mut in_pg_entry = false;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let starts_pg = prefix.is_record_start(line) || is_bare_record_start(line);
        if !starts_pg && in_pg_entry && !line.is_empty() {
            if let Some(last) = out.last_mut() {
                let mut joined = last.clone().into_owned();
                joined.push('\n');
                joined.push_str(line);
                *last = Cow::Owned(joined);
                continue;
            }
        }
        in_pg_entry = starts_pg;
        // `#` note lines of sample files are not log records (replay skips them too).
        if !line.trim().is_empty() && !line.starts_with('#') {
            out.push(Cow::Borrowed(line));
        }
    }
    out
}

/// Run `laneguard envelope`: the event JSON on standard output.
pub fn run(args: &EnvelopeArgs) -> anyhow::Result<ExitCode> {
    let prefix = match LinePrefix::compile(&args.pg_prefix) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("laneguard: error: --pg-prefix: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut text = String::new();
    if laneguard_core::input::is_stdin(&args.input) {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading standard input")?;
    } else {
        text = std::fs::read_to_string(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?;
    }
    let records = frame(&text, &prefix);
    let start = args.start.unwrap_or_else(jiff::Timestamp::now).as_millisecond();
    let events: Vec<LogEventIn<'_>> = records
        .iter()
        .enumerate()
        .map(|(i, r)| LogEventIn {
            timestamp_ms: start + i as i64,
            message: r,
        })
        .collect();
    let event = subscription_event(
        &args.owner,
        &args.log_group,
        &args.log_stream,
        &args.filter_name,
        &events,
    )?;
    let mut out = std::io::stdout().lock();
    out.write_all(event.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    eprintln!(
        "laneguard envelope: {} records from {}",
        events.len(),
        args.input.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_lines_pg_entries_and_cloudtrail_documents() {
        let prefix = LinePrefix::compile(RDS_PREFIX).unwrap();
        let pg = "2026-11-28 00:25:11 UTC:10.0.16.5(5432):app@shop:[42]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,\"SELECT 1\n  FROM t\",<none>\n\
                  continued\n2026-11-28 00:25:12 UTC:10.0.16.5(5432):app@shop:[42]:LOG:  disconnection\n";
        let r = frame(pg, &prefix);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].contains("FROM t") && r[0].contains("continued"));
        let lines = frame("a\n\nb\n", &prefix);
        assert_eq!(lines, vec!["a", "b"]);
        let ct = frame(r#"{"Records":[{"eventName":"A"},{"eventName":"B"}]}"#, &prefix);
        assert_eq!(ct.len(), 2);
        assert_eq!(ct[1], r#"{"eventName":"B"}"#);
    }
}
