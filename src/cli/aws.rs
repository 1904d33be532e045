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
