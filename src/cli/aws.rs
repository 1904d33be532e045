//! The AWS side of the command line (`replay --log-group`, `replay --sns`, `replay --kms`), built with the
//! default-on `aws` cargo feature. Each call runs on its own current-thread runtime: the CLI is
//! synchronous everywhere else, and these are the only network calls it makes.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use laneguard_aws::kms::{BlockingKeys, DataKeyClient};
use laneguard_aws::logs::{self, LogGroupQuery};
use laneguard_aws::{RetryPolicy, SnsReport, SnsSink, aws_sdk_cloudwatchlogs, aws_sdk_sns, sdk};
use laneguard_core::bundle::{Bundle, BundleLimits};
use laneguard_core::envelope::RecordSink;
use laneguard_core::event::Timestamp;
use laneguard_core::finding::{Finding, Severity};

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Publish findings to SNS (the same sink as the Lambda functions).
pub fn publish(topic: &str, min: Severity, findings: &[Finding]) -> anyhow::Result<SnsReport> {
    runtime()?.block_on(async {
        let sdk = sdk::load(&RetryPolicy::default()).await;
        let sink = SnsSink::new(aws_sdk_sns::Client::new(&sdk), topic, min);
        Ok(sink.send(findings).await?)
    })
}

/// Read a configuration bundle from S3 (`--config s3://…`): the same object and checks as the
/// functions.
pub fn fetch_bundle(uri: &str, limits: &BundleLimits) -> anyhow::Result<Bundle> {
    let parsed: laneguard_aws::s3::S3Uri = uri.parse().map_err(anyhow::Error::msg)?;
    runtime()?.block_on(async {
        let sdk = sdk::load(&RetryPolicy::default()).await;
        let client = laneguard_aws::s3::client(&sdk);
        Ok(laneguard_aws::s3::load_bundle(&client, &parsed, limits)
            .await?
            .bundle)
    })
}

/// `--start` / `--end` of `--log-group`: RFC 3339 or `now-2h`.
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, String> {
    logs::parse_time(s, now)
}

/// A log-group query for `replay --log-group`.
pub type Query = LogGroupQuery;

/// Page through a log group into `sink`, with a spinner (events, bytes) on a terminal.
pub fn read_log_group(query: &LogGroupQuery, sink: &mut dyn RecordSink, quiet: bool) -> anyhow::Result<()> {
    let bar = (!quiet && io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let stats = runtime()?.block_on(async {
        let sdk = sdk::load(&RetryPolicy::default()).await;
        let client = aws_sdk_cloudwatchlogs::Client::new(&sdk);
        logs::read_log_group(&client, query, sink, &mut |s| {
            if let Some(b) = &bar {
                b.set_message(format!(
                    "{}: {} pages, {} events, {} bytes",
                    query.log_group, s.pages, s.events, s.bytes
                ));
            }
        })
        .await
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    tracing::info!(
        pages = stats.pages,
        events = stats.events,
        bytes = stats.bytes,
        "log group read"
    );
    Ok(())
}

/// The data keys of encrypted activity records for `replay --kms`: KMS with credentials and
/// region as for `--log-group`, pinned to `key_id` when given; `resource_id` is the context of
/// records that carry no stream ARN.
pub fn kms_keys(key_id: Option<String>, resource_id: Option<&str>) -> anyhow::Result<BlockingKeys> {
    let runtime = runtime()?;
    let sdk = runtime.block_on(sdk::load(&RetryPolicy::default()));
    Ok(BlockingKeys::new(
        runtime,
        DataKeyClient::new(&sdk, key_id),
        resource_id,
    ))
}

/// What `replay s3://…` reads: prefixes, an optional range of days, a checkpoint.
#[derive(Debug)]
pub struct S3Query {
    /// `s3://bucket/prefix` URIs, read in the order given, each prefix in key order.
    pub uris: Vec<laneguard_aws::s3::S3Uri>,
    /// Objects whose key names a day (`…/YYYY/MM/DD/…`) outside this range are not read.
    pub days: Option<(jiff::civil::Date, jiff::civil::Date)>,
    /// Objects fetched ahead of the one being processed.
    pub concurrency: usize,
    /// A file of finished objects (`s3://bucket/key<TAB>etag`, one per line): skipped when
    /// listed, appended after each object is processed and the output flushed.
    pub checkpoint: Option<std::path::PathBuf>,
    /// Largest object read (bytes as stored).
    pub max_object: u64,
}

/// What a `replay s3://…` read.
#[derive(Debug, Default)]
pub struct S3Stats {
    /// Objects listed under the prefixes.
    pub listed: u64,
    /// Objects skipped: named in the checkpoint.
    pub done_before: u64,
    /// Objects skipped: their key names a day outside the range.
    pub out_of_range: u64,
    /// Objects read.
    pub read: u64,
    /// Bytes read (as stored).
    pub bytes: u64,
    /// Objects that could not be read (each reported on stderr); the replay goes on.
    pub failed: u64,
}

/// Read S3 archives into `sink`: list each prefix, skip what the checkpoint and the day range
/// exclude, fetch up to `concurrency` objects ahead, and decode each object with the same code
/// as a file (`input::read_stream`, gzip sniffed), named `s3://bucket/key` in every origin.
/// The end of each object is the end of a stream for `sink` (its output flushed) before the
/// object's checkpoint line is written.
pub fn read_s3(
    query: &S3Query,
    options: &laneguard_core::input::InputOptions,
    sink: &mut dyn RecordSink,
    quiet: bool,
) -> anyhow::Result<S3Stats> {
    use std::collections::HashSet;
    use std::io::Write as _;

    use anyhow::Context as _;
    use laneguard_aws::s3::{self, S3Uri};

    let runtime = runtime()?;
    let sdk = runtime.block_on(sdk::load(&RetryPolicy::default()));
    let client = s3::client(&sdk);
    let finished: HashSet<String> = match &query.checkpoint {
        Some(p) if p.exists() => std::fs::read_to_string(p)
            .with_context(|| format!("checkpoint {}", p.display()))?
            .lines()
            .map(str::to_owned)
            .collect(),
        _ => HashSet::new(),
    };
    let mut checkpoint = match &query.checkpoint {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("checkpoint {}", p.display()))?,
        ),
        None => None,
    };
    let mut stats = S3Stats::default();
    let mut todo: Vec<(S3Uri, String, u64)> = Vec::new();
    for uri in &query.uris {
        let listed = runtime.block_on(s3::list(&client, &uri.bucket, &uri.key))?;
        stats.listed += listed.len() as u64;
        for o in listed {
            let object = S3Uri {
                bucket: uri.bucket.clone(),
                key: o.key,
                version_id: None,
            };
            let line = format!("{object}\t{}", o.etag.as_deref().unwrap_or(""));
            if finished.contains(&line) {
                stats.done_before += 1;
            } else if let (Some((from, to)), Some(day)) = (query.days, s3::key_day(&object.key))
                && (day < from || day > to)
            {
                stats.out_of_range += 1;
            } else {
                todo.push((object, line, o.size));
            }
        }
    }
    let total: u64 = todo.iter().map(|(_, _, size)| size).sum();
    let bar = (!quiet && io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} ({bytes_per_sec}, {eta}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let objects = todo.len();
    let (uris, lines): (Vec<S3Uri>, Vec<String>) = todo.into_iter().map(|(uri, line, _)| (uri, line)).unzip();
    let mut lines = lines.into_iter();
    let mut done = 0;
    runtime.block_on(s3::fetch_in_order(
        &client,
        uris,
        query.concurrency,
        query.max_object,
        |uri, got| {
            let line = lines.next().unwrap_or_default();
            done += 1;
            match got {
                Ok(bytes) => {
                    stats.read += 1;
                    stats.bytes += bytes.len() as u64;
                    laneguard_core::input::read_stream(&uri.to_string(), &bytes[..], options, sink);
                    sink.end_stream();
                    if let Some(f) = checkpoint.as_mut() {
                        writeln!(f, "{line}").context("checkpoint")?;
                    }
                    if let Some(b) = &bar {
                        b.inc(bytes.len() as u64);
                        b.set_message(format!("{done}/{objects} objects"));
                    }
                }
                Err(e) => {
                    stats.failed += 1;
                    eprintln!("laneguard: {e}");
                }
            }
            anyhow::Ok(())
        },
    ))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(stats)
}
