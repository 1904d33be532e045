//! `laneguard replay`: read files, directories or standard input through the same pipeline the
//! Lambda functions run, print findings (or every event with `--events`) on stdout and a summary
//! on stderr.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use laneguard_core::diagnostic::Diagnostics;
use laneguard_core::envelope::Limits;
use laneguard_core::envelope::RecordSink;
use laneguard_core::event::{Event, EventJson, Source};
use laneguard_core::finding::Finding;
use laneguard_core::input::{self, Input, InputOptions};
use laneguard_core::output::{FindingFormat, FindingWriter};
use laneguard_core::parallel::{MergedOutput, Parallel, Render};
use laneguard_core::pipeline::{Output, Pipeline, Stats};
use laneguard_core::rules::state::InMemoryState;
use laneguard_core::sources::{FlowFormat, LinePrefix, ParseOptions};

/// Source names accepted by `--source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    /// Detect from the log group name or the content.
    Auto,
    /// CloudTrail records.
    Cloudtrail,
    /// MySQL / MariaDB / Aurora MySQL audit lines.
    MysqlAudit,
    /// PostgreSQL log with pgaudit.
    Pgaudit,
    /// VPC flow logs.
    VpcFlow,
    /// Aurora / RDS Database Activity Streams (decrypted documents; encrypted records with --kms).
    Das,
}

impl SourceArg {
    fn source(self) -> Option<Source> {
        match self {
            SourceArg::Auto => None,
            SourceArg::Cloudtrail => Some(Source::CloudTrail),
            SourceArg::MysqlAudit => Some(Source::MysqlAudit),
            SourceArg::Pgaudit => Some(Source::Pgaudit),
            SourceArg::VpcFlow => Some(Source::VpcFlow),
            SourceArg::Das => Some(Source::Das),
        }
    }
}

/// Severity names on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    /// info
    Info,
    /// low
    Low,
    /// medium
    Medium,
    /// high
    High,
    /// critical
    Critical,
}

impl From<SeverityArg> for laneguard_core::finding::Severity {
    fn from(s: SeverityArg) -> Self {
        use laneguard_core::finding::Severity as S;
        match s {
            SeverityArg::Info => S::Info,
            SeverityArg::Low => S::Low,
            SeverityArg::Medium => S::Medium,
            SeverityArg::High => S::High,
            SeverityArg::Critical => S::Critical,
        }
    }
}

/// Output formats of findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// One JSON object per line.
    Json,
    /// An aligned table for a terminal.
    Table,
    /// OCSF 1.8.0 Detection Finding (class 2004) JSON lines.
    Ocsf,
}

/// Arguments of `laneguard replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Files or directories to read (recursively, in sorted order); `-` reads standard input;
    /// `s3://bucket/prefix` reads every object under the prefix, in key order (docs/REPLAY.md).
    /// Plain or gzip; CloudWatch Logs, Kinesis, Firehose and CloudTrail envelopes are unwrapped.
    #[arg(required_unless_present = "log_group", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// With `s3://` inputs: objects fetched ahead while one is processed.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub s3_concurrency: usize,
    /// With `s3://` inputs: a file of the objects already replayed (`s3://bucket/key<TAB>etag`
    /// per line). Objects it names are skipped; each object read is added once its findings are
    /// written, so an interrupted replay run again continues where it stopped. Runs on one thread.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Read this CloudWatch Logs group through the API (FilterLogEvents) instead of files; AWS
    /// credentials and region come from the environment as for the AWS CLI.
    #[arg(long, value_name = "NAME", conflicts_with = "paths", requires = "start")]
    pub log_group: Option<String>,
    /// With `--log-group`: only the log streams whose name starts with this.
    #[arg(long, value_name = "PREFIX", requires = "log_group")]
    pub log_stream_prefix: Option<String>,
    /// With `--log-group`: start of the time range, RFC 3339 or `now-2h`, `now-7d`. With
    /// `s3://` inputs: objects whose key names a day (`…/YYYY/MM/DD/…`) before this day are not
    /// read.
    #[arg(long, value_name = "TIME")]
    pub start: Option<String>,
    /// With `--log-group`: end of the time range (default: now). With `s3://` inputs: objects
    /// whose key names a later day are not read.
    #[arg(long, value_name = "TIME")]
    pub end: Option<String>,
    /// Decrypt encrypted Database Activity Streams records (Kinesis records, Lambda Kinesis
    /// events) with their data keys from KMS; AWS credentials and region as for `--log-group`.
    /// Without it such records are counted as unsupported; decrypted documents need no key.
    #[arg(long)]
    pub kms: bool,
    /// With `--kms`: the KMS key (ARN or alias) the activity streams use; KMS refuses data keys
    /// of any other key.
    #[arg(long, value_name = "KEY", requires = "kms")]
    pub kms_key_id: Option<String>,
    /// With `--kms`: the resource (`cluster-…`, `db-…`) whose stream records come from, for
    /// records that do not name their stream (no `eventSourceARN`).
    #[arg(long, value_name = "RESOURCE_ID", requires = "kms")]
    pub das_resource_id: Option<String>,
    /// Database Activity Streams: analyse the activity of `rdsadmin` (AWS's maintenance user)
    /// instead of counting and skipping it.
    #[arg(long)]
    pub keep_rdsadmin: bool,
    /// Publish the findings to this SNS topic after the run (off by default: a replay is a dry
    /// run). Shadow findings are never published.
    #[arg(long, value_name = "TOPIC_ARN")]
    pub sns: Option<String>,
    /// With `--sns`: publish only findings at or above this severity.
    #[arg(long, value_enum, default_value = "low", requires = "sns")]
    pub sns_min_severity: SeverityArg,
    /// Events per API page (tests use small pages to exercise pagination).
    #[arg(long, value_name = "N", hide = true)]
    pub page_size: Option<i32>,
    #[command(flatten)]
    pub config: super::rules::ConfigArgs,
    /// Run even when rule files are invalid, without them (each is reported as a warning and the
    /// summary counts them). By default an invalid rule file refuses the run (exit 2): a detector
    /// must not run silently on part of its rules.
    #[arg(long)]
    pub skip_invalid_rules: bool,
    /// Log source of the inputs; `auto` detects it from log group names or the content.
    #[arg(long, value_enum, default_value = "auto")]
    pub source: SourceArg,
    /// Output format of findings (default: `table` on a terminal, `json` otherwise; with
    /// `--ocsf-dir`, nothing on stdout unless a format is given).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Also write the findings as OCSF Detection Finding JSON lines under DIR, partitioned as
    /// Security Lake custom sources are: `DIR/ext/<source>/region=<region>/accountId=<account>/
    /// eventDay=<YYYYMMDD>/laneguard-<start>-<pid>.json` (`unknown` for an account or region no
    /// record named). `laneguard tune --compare` reads two such directories (docs/REPLAY.md).
    #[arg(long, value_name = "DIR", conflicts_with = "events")]
    pub ocsf_dir: Option<PathBuf>,
    /// With `--ocsf-dir`: the custom source name, the `<source>` of `ext/<source>/`.
    #[arg(long, value_name = "NAME", default_value = laneguard_core::ocsf::lake::DEFAULT_SOURCE, requires = "ocsf_dir")]
    pub ocsf_source: String,
    /// Print every parsed event as one JSON line (with the rules it matched) instead of findings.
    #[arg(long)]
    pub events: bool,
    /// Include raw SQL text and bind parameters in `--events` output. Off by default: only the
    /// normalized statement (literals replaced by `?`) leaves the process.
    #[arg(long)]
    pub show_literals: bool,
    /// VPC flow-log format for records without a header line, e.g.
    /// `${version} ${srcaddr} ${dstaddr} …` (default: the version 2 format).
    #[arg(long, value_name = "FORMAT")]
    pub vpc_format: Option<String>,
    /// PostgreSQL `log_line_prefix` of the logs.
    #[arg(long, value_name = "PREFIX", default_value = laneguard_core::sources::pgaudit::RDS_PREFIX)]
    pub pg_prefix: String,
    /// MySQL `server_audit_query_log_limit`: statements logged at this length are marked truncated.
    #[arg(long, value_name = "BYTES", default_value_t = 1024)]
    pub mysql_query_log_limit: usize,
    /// Cap on a decompressed document held in memory (JSON files, envelope payloads), e.g. `64MiB`.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_size)]
    pub max_document: u64,
    /// Cap on a decompressed, streamed line file, e.g. `4GiB`.
    #[arg(long, value_name = "SIZE", default_value = "4GiB", value_parser = parse_size)]
    pub max_stream: u64,
    /// Records larger than this are skipped with a diagnostic, e.g. `1MiB`.
    #[arg(long, value_name = "SIZE", default_value = "1MiB", value_parser = parse_size)]
    pub max_record: u64,
    /// Do not show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Do not print the summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Print at most this many diagnostics in full (all are counted).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub max_diagnostics: usize,
    /// Detection threads (default: every core). One thread reads and decompresses; the workers
    /// parse and detect batches of records; findings, events and counts come out in the same
    /// order, and the same, as with `--threads 1` (thresholds and suppression are decided in
    /// stream order). With more than one thread, output appears a batch (2,048 records) at a time.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
    /// Records per batch with more than one thread (tests cut streams into tiny batches).
    #[arg(long, value_name = "N", hide = true, default_value_t = laneguard_core::parallel::BATCH_RECORDS)]
    pub batch_records: usize,
}

/// The S3 side of a replay: `None` without `s3://` inputs.
#[cfg(feature = "aws")]
fn s3_query(args: &ReplayArgs, paths: &[PathBuf]) -> Result<Option<super::aws::S3Query>, String> {
    if paths.is_empty() {
        return Ok(None);
    }
    let uris = paths
        .iter()
        .map(|p| p.to_str().unwrap_or_default().parse())
        .collect::<Result<Vec<laneguard_aws::s3::S3Uri>, String>>()?;
    let now = jiff::Timestamp::now();
    let day = |t: &str| -> Result<jiff::civil::Date, String> {
        Ok(jiff::tz::TimeZone::UTC
            .to_datetime(super::aws::parse_time(t, now)?)
            .date())
    };
    let days = match (&args.start, &args.end) {
        (None, None) => None,
        (start, end) => Some((
            start
                .as_deref()
                .map(day)
                .transpose()?
                .unwrap_or(jiff::civil::Date::MIN),
            end.as_deref()
                .map(day)
                .transpose()?
                .unwrap_or(jiff::civil::Date::MAX),
        )),
    };
    Ok(Some(super::aws::S3Query {
        uris,
        days,
        concurrency: args.s3_concurrency.max(1),
        checkpoint: args.checkpoint.clone(),
        max_object: args.max_stream,
    }))
}

/// The `--log-group` query of the arguments, or a usage error.
#[cfg(feature = "aws")]
fn log_group_query(args: &ReplayArgs, group: &str) -> Result<super::aws::Query, String> {
    let now = jiff::Timestamp::now();
    let start = super::aws::parse_time(args.start.as_deref().unwrap_or("now-1h"), now)?;
    let end = super::aws::parse_time(args.end.as_deref().unwrap_or("now"), now)?;
    if end <= start {
        return Err(format!("--end {end} is not after --start {start}"));
    }
    Ok(super::aws::Query {
        log_group: group.to_owned(),
        stream_prefix: args.log_stream_prefix.clone(),
        start,
        end,
        source: args.source.source(),
        page_size: args.page_size,
    })
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("laneguard: error: {message}");
    ExitCode::from(2)
}

/// Parse `64MiB`, `4GiB`, `1024`, `10KB`.
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 64MiB)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        other => return Err(format!("unknown size unit {other:?} (use KiB, MiB, GiB)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{s:?} is too large"))
}

struct ReplayOutput<W: Write> {
    events: bool,
    lines: EventLines,
    /// Reused buffer of one event line (`--events`, single-threaded).
    line: Vec<u8>,
    /// Findings kept for `--sns`.
    keep: Option<Vec<Finding>>,
    /// `--ocsf-dir`.
    lake: Option<super::lake::LakeWriter>,
    /// Whether findings are printed on stdout (not with `--ocsf-dir` alone).
    print: bool,
    sink: FindingWriter<BufWriter<W>>,
    error: Option<io::Error>,
    progress: Option<(ProgressBar, Arc<AtomicU64>)>,
    ticks: u64,
}

impl<W: Write> ReplayOutput<W> {
    fn write(&mut self, f: impl FnOnce(&mut BufWriter<W>) -> io::Result<()>) {
        if self.error.is_none()
            && let Err(e) = f(self.sink.get_mut())
        {
            self.error = Some(e);
        }
    }

    fn tick(&mut self) {
        self.ticks += 1;
        if self.ticks % 4096 == 0
            && let Some((bar, bytes)) = &self.progress
        {
            bar.set_position(bytes.load(Ordering::Relaxed));
        }
    }
}

/// How `--events` prints an event: one JSON line (raw text only with `--show-literals`).
#[derive(Clone, Copy, Debug)]
struct EventLines {
    events: bool,
    raw: bool,
}

impl Render for EventLines {
    fn render(&self, event: &Event<'_>, matched: &[String], out: &mut Vec<u8>) {
        if !self.events {
            return;
        }
        let matched: Vec<&str> = matched.iter().map(String::as_str).collect();
        let json = EventJson {
            event,
            raw: self.raw,
            matched: &matched,
        };
        let start = out.len();
        // Serializing an event into memory cannot fail (string keys only); if it ever did,
        // the partial line is dropped rather than printed.
        if serde_json::to_writer(&mut *out, &json).is_ok() {
            out.push(b'\n');
        } else {
            out.truncate(start);
        }
    }
}

impl<W: Write> ReplayOutput<W> {
    fn write_findings(&mut self, findings: &[Finding]) {
        if let Some(keep) = &mut self.keep {
            keep.extend_from_slice(findings);
        }
        if self.events {
            return;
        }
        if let Some(lake) = &mut self.lake
            && self.error.is_none()
            && let Err(e) = lake.write(findings)
        {
            self.error = Some(e);
        }
        if self.print
            && self.error.is_none()
            && let Err(e) = self.sink.write(findings)
        {
            self.error = Some(e);
        }
    }

    /// Flush stdout and the `--ocsf-dir` files.
    fn flush_all(&mut self) {
        self.write(|out| out.flush());
        if let Some(lake) = &mut self.lake
            && self.error.is_none()
            && let Err(e) = lake.flush()
        {
            self.error = Some(e);
        }
    }
}

impl<W: Write> MergedOutput for ReplayOutput<W> {
    fn event(&mut self, rendered: &[u8]) {
        if !rendered.is_empty() {
            self.write(|out| out.write_all(rendered));
        }
        self.tick();
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.write_findings(findings);
    }
}

impl<W: Write> Output for ReplayOutput<W> {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        if self.events {
            let mut line = std::mem::take(&mut self.line);
            line.clear();
            self.lines.render(event, matched, &mut line);
            self.write(|out| out.write_all(&line));
            self.line = line;
        }
        self.tick();
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.write_findings(findings);
    }

    fn flush(&mut self) {
        self.flush_all();
    }
}

/// Run `laneguard replay`.
pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    // Invalid configuration is a usage error (exit 2), not a runtime failure.
    let vpc_format = match args.vpc_format.as_deref().map(FlowFormat::parse).transpose() {
        Ok(f) => f,
        Err(e) => return Ok(usage_error(&format!("--vpc-format: {e}"))),
    };
    let pg_prefix = match LinePrefix::compile(&args.pg_prefix) {
        Ok(p) => p,
        Err(e) => return Ok(usage_error(&format!("--pg-prefix: {e}"))),
    };
    let parse_options = ParseOptions {
        vpc_format,
        pg_prefix: Some(pg_prefix),
        mysql_query_log_limit: Some(args.mysql_query_log_limit),
        keep_rdsadmin: args.keep_rdsadmin,
        // Files name no region of their own; `--log-group` records carry the one read from.
        ..ParseOptions::default()
    };
    let limits = Limits {
        max_document: args.max_document,
        max_stream: args.max_stream,
        max_record: usize::try_from(args.max_record).context("--max-record")?,
    };
    let input_options = InputOptions {
        limits,
        source: args.source.source(),
        pg_prefix: parse_options.pg_prefix.clone().unwrap_or_default(),
    };
    let config = match super::rules::load_for_run(args.config.sources(), args.skip_invalid_rules, "") {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let skipped_rules = config.rejected.len();
    if !laneguard_core::ocsf::lake::valid_source_name(&args.ocsf_source) {
        return Ok(usage_error(&format!(
            "--ocsf-source {:?}: a source name is letters, digits, `-` and `_` (at most 64)",
            args.ocsf_source
        )));
    }
    #[cfg(not(feature = "aws"))]
    if args.log_group.is_some() || args.sns.is_some() || args.kms {
        return Ok(usage_error(
            "this laneguard was built without the `aws` feature: --log-group, --sns and --kms are not available",
        ));
    }
    #[cfg(feature = "aws")]
    let mut kms_keys = if args.kms {
        Some(super::aws::kms_keys(
            args.kms_key_id.clone(),
            args.das_resource_id.as_deref(),
        )?)
    } else {
        None
    };
    #[cfg(feature = "aws")]
    let log_query = match &args.log_group {
        None => None,
        Some(group) => match log_group_query(args, group) {
            Ok(q) => Some(q),
            Err(e) => return Ok(usage_error(&e)),
        },
    };
    let (s3_paths, local_paths): (Vec<PathBuf>, Vec<PathBuf>) = args
        .paths
        .iter()
        .cloned()
        .partition(|p| p.to_str().is_some_and(|s| s.starts_with("s3://")));
    if args.start.is_some() && args.log_group.is_none() && s3_paths.is_empty() {
        return Ok(usage_error("--start needs --log-group or s3:// inputs"));
    }
    if args.checkpoint.is_some() && s3_paths.is_empty() {
        return Ok(usage_error("--checkpoint needs s3:// inputs"));
    }
    #[cfg(not(feature = "aws"))]
    if !s3_paths.is_empty() {
        return Ok(usage_error(
            "this laneguard was built without the `aws` feature: s3:// inputs are not available",
        ));
    }
    #[cfg(feature = "aws")]
    let s3_query = match s3_query(args, &s3_paths) {
        Ok(q) => q,
        Err(e) => return Ok(usage_error(&e)),
    };
    let (inputs, input_errors) = input::expand(&local_paths);
    if args.log_group.is_none() && s3_paths.is_empty() && inputs.is_empty() && !input_errors.is_empty() {
        for e in &input_errors {
            eprintln!("laneguard: {e}");
        }
        return Ok(ExitCode::from(1));
    }
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Ok(usage_error("standard input (`-`) can be named only once"));
    }

    let stdout = io::stdout();
    let format = match args.format {
        Some(FormatArg::Json) => FindingFormat::Json,
        Some(FormatArg::Table) => FindingFormat::Table,
        Some(FormatArg::Ocsf) => FindingFormat::Ocsf,
        None if stdout.is_terminal() => FindingFormat::Table,
        None => FindingFormat::Json,
    };
    let total_bytes: u64 = inputs
        .iter()
        .filter_map(|i| match i {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        })
        .sum();
    let bytes_read = Arc::new(AtomicU64::new(0));
    let progress = (!args.no_progress && !args.quiet && io::stderr().is_terminal() && total_bytes > 8 << 20).then(|| {
        let bar = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        (bar, Arc::clone(&bytes_read))
    });
    let lines = EventLines {
        events: args.events,
        raw: args.show_literals,
    };
    let mut output = ReplayOutput {
        events: args.events,
        lines,
        line: Vec::new(),
        keep: args.sns.as_ref().map(|_| Vec::new()),
        lake: args
            .ocsf_dir
            .as_deref()
            .map(|dir| super::lake::LakeWriter::new(dir, &args.ocsf_source)),
        print: args.ocsf_dir.is_none() || args.format.is_some(),
        sink: FindingWriter::new(BufWriter::with_capacity(1 << 16, stdout.lock()), format),
        error: None,
        progress,
        ticks: 0,
    };
    let started = Instant::now();
    let mut failed = input_errors.len();
    for e in &input_errors {
        eprintln!("laneguard: {e}");
    }
    let threads = match args.threads {
        Some(n) => usize::from(n),
        // Encrypted activity-stream records are opened where they are parsed, with the data keys
        // of this run's one KMS client and key cache: `--kms` replays on one thread. A
        // checkpoint names an object once its findings are written: on one thread too.
        None if args.kms || args.checkpoint.is_some() => 1,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    if threads > 1 && args.kms {
        return Ok(usage_error(
            "--kms replays on one thread: leave out --threads or use --threads 1",
        ));
    }
    if threads > 1 && args.checkpoint.is_some() {
        return Ok(usage_error(
            "--checkpoint replays on one thread: leave out --threads or use --threads 1",
        ));
    }
    // Everything the input holds, fed to `sink`; the failures are counted in `failed`.
    let read = |sink: &mut dyn RecordSink| {
        let mut failed = 0;
        #[cfg(feature = "aws")]
        if let Some(query) = &log_query
            && let Err(e) = super::aws::read_log_group(query, sink, args.quiet || args.no_progress)
        {
            eprintln!("laneguard: {e:#}");
            failed += 1;
        }
        #[cfg(feature = "aws")]
        if let Some(query) = &s3_query {
            match super::aws::read_s3(query, &input_options, sink, args.quiet || args.no_progress) {
                Ok(s) => {
                    failed += s.failed as usize;
                    if !args.quiet {
                        eprintln!(
                            "laneguard replay: S3: {} objects listed, {} read ({} bytes), {} already in the checkpoint, {} outside --start/--end, {} failed",
                            s.listed, s.read, s.bytes, s.done_before, s.out_of_range, s.failed
                        );
                    }
                }
                Err(e) => {
                    eprintln!("laneguard: {e:#}");
                    failed += 1;
                }
            }
        }
        for input in &inputs {
            if let Err(e) = input::read_input(input, &input_options, sink, &bytes_read) {
                eprintln!("laneguard: {e}");
                failed += 1;
            }
        }
        failed
    };
    let sequences;
    let (stats, diagnostic_counts, total_diagnostics, kept) = if threads <= 1 {
        let mut engine = config.engine();
        let mut pipeline = Pipeline::new(&parse_options, &mut engine, &mut output);
        #[cfg(feature = "aws")]
        if let Some(keys) = kms_keys.as_mut() {
            pipeline = pipeline.with_data_keys(keys);
        }
        failed += read(&mut pipeline);
        // Every input read: sequence rules decide their absences now (exact: nothing more
        // can come).
        pipeline.finish(true);
        let stats = pipeline.stats().clone();
        let d = pipeline.diagnostics_mut();
        let out = (stats, d.counts().clone(), d.total(), d.take_kept());
        drop(pipeline);
        sequences = engine.sequence_counters();
        out
    } else {
        let parallel = Parallel {
            engines: (0..threads).map(|_| config.fork().engine()).collect(),
            parse: &parse_options,
            state: Box::new(InMemoryState::default()),
            render: &lines,
            keep_diagnostics: Diagnostics::default().keep(),
            batch_records: args.batch_records,
        };
        let (read_failed, mut summary) = parallel.run(&mut output, read);
        failed += read_failed;
        sequences = summary.sequences;
        let d = &mut summary.diagnostics;
        (summary.stats, d.counts().clone(), d.total(), d.take_kept())
    };
    if let Some((bar, _)) = &output.progress {
        bar.finish_and_clear();
    }
    output.flush_all();
    #[cfg(feature = "aws")]
    if let (Some(topic), Some(findings)) = (&args.sns, output.keep.take()) {
        match super::aws::publish(topic, args.sns_min_severity.into(), &findings) {
            Ok(report) => eprintln!(
                "laneguard replay: SNS {topic}: {} published, {} shadow and {} below the minimum severity not published{}",
                report.published,
                report.shadow,
                report.below_threshold,
                match report.parked {
                    0 => String::new(),
                    n => format!(
                        "; {n} parked (refused by SNS as the sender's fault, or too large: their ids are logged)"
                    ),
                }
            ),
            Err(e) => {
                eprintln!("laneguard: {e:#}");
                failed += 1;
            }
        }
    }
    let elapsed = started.elapsed();

    if !args.quiet {
        for d in kept.iter().take(args.max_diagnostics) {
            eprintln!("laneguard: {d}");
        }
        if total_diagnostics as usize > args.max_diagnostics.min(kept.len()) {
            eprintln!(
                "laneguard: … {} more diagnostics not shown (--max-diagnostics)",
                total_diagnostics as usize - args.max_diagnostics.min(kept.len())
            );
        }
        eprintln!(
            "{}",
            summary(
                inputs.len(),
                &stats,
                &diagnostic_counts,
                total_diagnostics,
                skipped_rules,
                elapsed
            )
        );
        if !sequences.is_empty() {
            eprintln!(
                "laneguard replay: sequences: {} step events without a join key value skipped, {} absences not raised (no absent-step event seen for their coverage key), {} keys and {} step events evicted by the state bounds (a key's oldest past 256: a late first step can no longer complete them), {} absence occurrences evicted undecided",
                sequences.no_key,
                sequences.not_covered,
                sequences.keys_evicted,
                sequences.occurrences_evicted,
                sequences.undecided
            );
        }
        #[cfg(feature = "aws")]
        if let Some(keys) = &kms_keys {
            eprintln!(
                "laneguard replay: KMS: {} Decrypt calls for data keys",
                keys.calls()
            );
        }
        if let (Some(lake), Some(dir)) = (&output.lake, &args.ocsf_dir) {
            eprintln!(
                "laneguard replay: OCSF: {} findings in {} partition files under {}",
                lake.findings,
                lake.files.len(),
                dir.display()
            );
        }
    }
    if let Some(e) = output.error {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(anyhow::Error::new(e).context("writing output"));
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn summary(
    inputs: usize,
    stats: &Stats,
    diagnostics: &std::collections::BTreeMap<laneguard_core::diagnostic::DiagnosticKind, u64>,
    total_diagnostics: u64,
    skipped_rules: usize,
    elapsed: Duration,
) -> String {
    let list = |items: Vec<(String, u64)>| {
        if items.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                items
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    };
    let events = stats.total_events();
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { events as f64 / secs } else { 0.0 };
    // Only with --skip-invalid-rules: the run did not have every rule, and says so last.
    let skipped_rules = match skipped_rules {
        0 => String::new(),
        n => format!("; {n} invalid rule files skipped"),
    };
    format!(
        "laneguard replay: {inputs} inputs, {} records, {events} events{}, {} skipped{}, {total_diagnostics} diagnostics{}, {} findings; {:.3} s, {:.0} events/s{skipped_rules}",
        stats.records,
        list(stats.events.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
        stats.total_skipped(),
        list(
            stats
                .skipped
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), *v))
                .collect()
        ),
        list(diagnostics.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
        stats.findings,
        secs,
        rate
    )
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("4 GiB"), Ok(4 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1PiB").is_err());
    }
}
