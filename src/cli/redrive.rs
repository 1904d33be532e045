//! `laneguard redrive`: re-run detection on the batches the functions could not deliver, and
//! deliver their findings.
//!
//! Each message of the on-failure queue is a Lambda destination record holding the original
//! event (`requestPayload`). It goes through the same pipeline as replay with the same
//! configuration as the functions (`--config`), its findings go to SNS and the SIEM log group,
//! and only then is the message deleted. Finding ids are deterministic, so a finding that did
//! reach a sink before the failure is not a new alert (FIFO topics drop it; the SIEM keeps one
//! record per id). A message that is not a destination record is counted and left in the queue.

use std::process::ExitCode;

use clap::Args;

use laneguard_aws::redrive::{self, QueuedBatch};
use laneguard_aws::{RetryPolicy, SiemRecord, SiemSink, SnsSink, aws_sdk_cloudwatchlogs, aws_sdk_sns, sdk};
use laneguard_core::engine::Engine;
use laneguard_core::envelope::{DocContext, RecordSink, decode_document};
use laneguard_core::event::{Event, Origin};
use laneguard_core::finding::Finding;
use laneguard_core::pipeline::{Output, Pipeline};
use laneguard_core::sources::ParseOptions;

use super::replay::SeverityArg;
use super::rules::ConfigArgs;

/// Arguments of `laneguard redrive`.
#[derive(Debug, Args)]
pub struct RedriveArgs {
    /// The on-failure queue (the template's `FailureQueueUrl` output).
    #[arg(long, value_name = "URL")]
    pub queue: String,
    /// Publish the findings to this SNS topic (the alert topic).
    #[arg(long, value_name = "TOPIC_ARN")]
    pub sns: Option<String>,
    /// With `--sns`: publish only findings at or above this severity.
    #[arg(long, value_enum, default_value = "low")]
    pub sns_min_severity: SeverityArg,
    /// Write OCSF findings to this CloudWatch Logs group (the SIEM log group).
    #[arg(long, value_name = "LOG_GROUP")]
    pub siem: Option<String>,
    /// Read and re-detect, deliver nothing, delete nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop after this many messages.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub max_messages: usize,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Default)]
struct Collect(Vec<Finding>);

impl Output for Collect {
    fn event(&mut self, _event: &Event<'_>, _matched: &[String]) {}
    fn findings(&mut self, findings: &[Finding]) {
        self.0.extend_from_slice(findings);
    }
}

/// Counters of a redrive.
#[derive(Debug, Default)]
struct Tally {
    messages: usize,
    not_records: usize,
    records: u64,
    diagnostics: u64,
    findings: usize,
    published: u64,
    siem: u64,
    deleted: usize,
    failed: usize,
}

/// The findings of one destination record.
fn detect(engine: &mut Engine, batch: &QueuedBatch, tally: &mut Tally) -> Vec<Finding> {
    let mut out = Collect::default();
    let mut pipeline = Pipeline::new(&ParseOptions::default(), engine, &mut out);
    let origin = Origin {
        event_id: Some(&batch.message_id),
        ..Origin::default()
    };
    decode_document(&batch.body, &origin, &DocContext::default(), &mut pipeline);
    RecordSink::end_stream(&mut pipeline);
    tally.records += pipeline.stats().records;
    let d = pipeline.diagnostics_mut();
    tally.diagnostics += d.total();
    for diag in d.take_kept().iter().take(5) {
        eprintln!("laneguard redrive: message {}: {diag}", batch.message_id);
    }
    drop(pipeline);
    out.0
}

/// Run `laneguard redrive`.
pub fn run(args: &RedriveArgs) -> anyhow::Result<ExitCode> {
    let config = match args.config.load().and_then(|c| Ok(c.require_all_rules()?)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("laneguard: {e:#}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut engine = config.engine();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tally = runtime.block_on(async {
        let conf = sdk::load(&RetryPolicy::default()).await;
        let sqs = redrive::client(&conf);
        let sns = args
            .sns
            .as_ref()
            .map(|t| SnsSink::new(aws_sdk_sns::Client::new(&conf), t, args.sns_min_severity.into()));
        let siem = args.siem.as_ref().map(|g| {
            let stream = format!(
                "laneguard-redrive/{}/{:08x}",
                jiff::Timestamp::now().strftime("%Y/%m/%d"),
                std::process::id()
            );
            SiemSink::new(aws_sdk_cloudwatchlogs::Client::new(&conf), g, stream)
        });
        let mut tally = Tally::default();
        while tally.messages < args.max_messages {
            let batches = redrive::receive(&sqs, &args.queue, 1, 300).await?;
            if batches.is_empty() {
                break;
            }
            for batch in batches {
                tally.messages += 1;
                if !redrive::is_destination_record(&batch.body) {
                    tally.not_records += 1;
                    eprintln!(
                        "laneguard redrive: message {} is not a Lambda on-failure record; left in the queue",
                        batch.message_id
                    );
                    continue;
                }
                let findings = detect(&mut engine, &batch, &mut tally);
                tally.findings += findings.len();
                if args.dry_run {
                    continue;
                }
                let mut ok = true;
                if let Some(s) = &sns {
                    match s.send(&findings).await {
                        Ok(r) => tally.published += r.published,
                        Err(e) => {
                            eprintln!("laneguard redrive: message {}: {e}", batch.message_id);
                            ok = false;
                        }
                    }
                }
                if let Some(s) = &siem {
                    let records: Vec<SiemRecord> = findings
                        .iter()
                        .filter_map(|f| {
                            Some(SiemRecord {
                                key: format!("finding\u{1f}{}", f.id),
                                timestamp_ms: f.time.as_millisecond(),
                                message: serde_json::to_string(&laneguard_core::ocsf::detection_finding(f))
                                    .ok()?,
                            })
                        })
                        .collect();
                    match s.send(records, jiff::Timestamp::now().as_millisecond()).await {
                        Ok(r) => tally.siem += r.written,
                        Err(e) => {
                            eprintln!("laneguard redrive: message {}: {e}", batch.message_id);
                            ok = false;
                        }
                    }
                }
                if ok {
                    redrive::delete(&sqs, &args.queue, &batch).await?;
                    tally.deleted += 1;
                } else {
                    tally.failed += 1;
                }
            }
        }
        anyhow::Ok(tally)
    })?;
    eprintln!(
        "laneguard redrive: {} messages ({} not on-failure records, left), {} records, {} diagnostics, {} findings; {} published, {} SIEM records; {} deleted, {} left after a delivery failure{}",
        tally.messages,
        tally.not_records,
        tally.records,
        tally.diagnostics,
        tally.findings,
        tally.published,
        tally.siem,
        tally.deleted,
        tally.failed,
        if args.dry_run { " (dry run)" } else { "" }
    );
    Ok(if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
