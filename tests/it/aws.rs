//! The Lambda handler and the AWS sinks against real components on loopback: moto server (SNS,
//! SQS, CloudWatch Logs), a fault-injecting HTTP proxy in front of it, and the real function
//! binary behind `cargo lambda watch --only-lambda-apis` answering `cargo lambda invoke`.
//!
//! Every test starts what it needs and stops it on drop. Without moto or cargo-lambda a test
//! prints SKIP; with `CI=true` their absence fails it (`.ci/run` installs them).

mod das;
mod deploy;
mod fanout;
mod s3;
pub(crate) mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use laneguard_aws::sdk::sdk_retry_config;
use laneguard_aws::{DeliveryError, RetryPolicy};
use laneguard_core::envelope::subscription::{LogEventIn, control_message_event, subscription_event};
use laneguard_lambda::{FunctionConfig, FunctionKind, Handler};
use serde_json::Value;

use support::{Fault, FaultProxy, FaultRule, Moto, create_queue, drain_queue};

/// The raw literal of the MariaDB capture that must never leave the process.
const SECRET_LITERAL: &str = "x@example.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

async fn sdk(endpoint: &str, retry: &RetryPolicy) -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new(
            "testing", "testing", None, None, "static",
        ))
        .retry_config(sdk_retry_config(retry))
        .load()
        .await
}

/// A topic (FIFO when the name ends in `.fifo`) with a queue subscribed; the log group.
struct Destinations {
    topic_arn: String,
    queue_url: String,
    log_group: String,
}

async fn destinations(moto: &Moto, topic: &str, log_group: &str) -> Destinations {
    let conf = sdk(&moto.url, &RetryPolicy::default()).await;
    let sns = aws_sdk_sns::Client::new(&conf);
    let mut create = sns.create_topic().name(topic);
    if topic.ends_with(".fifo") {
        create = create.attributes("FifoTopic", "true");
    } else {
        create = create.attributes("KmsMasterKeyId", "alias/aws/sns");
    }
    let topic_arn = create.send().await.unwrap().topic_arn().unwrap().to_owned();
    let queue_name = topic.replace(".fifo", "-q.fifo");
    let queue_name = if queue_name.ends_with(".fifo") {
        queue_name
    } else {
        format!("{topic}-q")
    };
    let (queue_url, queue_arn) = create_queue(moto, &queue_name);
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
    logs.create_log_group()
        .log_group_name(log_group)
        .send()
        .await
        .unwrap();
    Destinations {
        topic_arn,
        queue_url,
        log_group: log_group.to_owned(),
    }
}

fn config(kind: FunctionKind, d: &Destinations, extra: &[(&str, &str)]) -> FunctionConfig {
    let mut vars: Vec<(String, String)> = vec![
        // The tests' records are those of the example estate.
        ("LANEGUARD_ALLOW_EXAMPLE_POLICY".into(), "true".into()),
        ("LANEGUARD_SNS_TOPIC_ARN".into(), d.topic_arn.clone()),
        ("LANEGUARD_SIEM_LOG_GROUP".into(), d.log_group.clone()),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            format!("laneguard-{}", kind.as_str()),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    FunctionConfig::from_vars(kind, |name| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap()
}

/// Every SIEM record in the group (all streams), as JSON.
async fn siem_records(moto: &Moto, group: &str) -> Vec<(String, Value)> {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk(&moto.url, &RetryPolicy::default()).await);
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = logs
            .filter_log_events()
            .log_group_name(group)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        for e in page.events() {
            let text = e.message().unwrap().to_owned();
            let json: Value = serde_json::from_str(&text).unwrap();
            out.push((text, json));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return out;
        }
    }
}

fn sample(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A CloudTrail subscription event from the reference records (one log event per record).
fn cloudtrail_event() -> String {
    let text = sample("samples/reference/cloudtrail-records.jsonl");
    let lines: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with('{')).collect();
    let t = now_ms() - 60_000;
    let events: Vec<LogEventIn<'_>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| LogEventIn {
            timestamp_ms: t + i as i64,
            message: l,
        })
        .collect();
    subscription_event(
        "123456789012",
        "aws-cloudtrail-logs-123456789012",
        "123456789012_CloudTrail_us-east-1",
        "laneguard",
        &events,
    )
    .unwrap()
}

/// Flow records (version-2 default format): internet → payments-db port, app → internet
/// database port, app → payments-db (allowed).
const FLOWS: [&str; 3] = [
    "2 123456789010 eni-0a1b2c3d4e5f60718 203.0.113.9 10.0.32.20 51515 5432 6 10 5120 1764320400 1764320460 ACCEPT OK",
    "2 123456789010 eni-0a1b2c3d4e5f60719 10.0.16.5 198.51.100.7 45000 3306 6 12 1880 1764320400 1764320460 ACCEPT OK",
    "2 123456789010 eni-0a1b2c3d4e5f60719 10.0.16.5 10.0.32.20 45000 3306 6 12 1880 1764320400 1764320460 ACCEPT OK",
];

fn flow_event() -> String {
    let t = now_ms() - 60_000;
    let events: Vec<LogEventIn<'_>> = FLOWS
        .iter()
        .enumerate()
        .map(|(i, m)| LogEventIn {
            timestamp_ms: t + i as i64,
            message: m,
        })
        .collect();
    subscription_event(
        "123456789012",
        "/vpc/flow-logs",
        "eni-0a1b2c3d4e5f60718-all",
        "laneguard",
        &events,
    )
    .unwrap()
}

fn attr<'a>(msg: &'a Value, name: &str) -> &'a str {
    msg["MessageAttributes"][name]["Value"]
        .as_str()
        .unwrap_or_else(|| panic!("no attribute {name} in {msg}"))
}

#[test]
fn rds_audit_alerts_siem_redaction_and_redelivery() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "laneguard-alerts", "/laneguard/siem").await;
        let retry = fast_retry(3);
        let conf = config(FunctionKind::RdsAudit, &d, &[("LANEGUARD_SIEM_EVENTS", "true")]);
        let handler = Handler::new(&conf, &sdk(&moto.url, &retry).await)
            .await
            .unwrap()
            .with_stdout(None);
        let event = sample("samples/envelopes/cwl-lambda-event-mariadb.json");
        let started = Instant::now();
        let report = handler.handle(event.as_bytes()).await.unwrap();
        eprintln!("rds-audit invocation: {:?}", started.elapsed());
        assert_eq!(
            (report.records, report.events, report.diagnostics),
            (41, 41, 0),
            "{report:?}"
        );
        assert_eq!(report.findings, 2, "{report:?}");
        let sns = report.sns.unwrap();
        assert_eq!((sns.published, sns.already_sent), (2, 0), "{sns:?}");

        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(alerts.len(), 2, "{alerts:#?}");
        for a in &alerts {
            assert_eq!(attr(a, "severity"), "critical");
            assert_eq!(attr(a, "severity_rank"), "5");
            assert_eq!(attr(a, "rule_id"), "sql.destructive-ddl");
            assert_eq!(attr(a, "source"), "mysql-audit");
            assert_eq!(attr(a, "zone"), "db-host");
            assert!(
                a["Subject"]
                    .as_str()
                    .unwrap()
                    .starts_with("[laneguard CRITICAL] sql.destructive-ddl: "),
                "{a}"
            );
            let body: Value = serde_json::from_str(a["Message"].as_str().unwrap()).unwrap();
            assert!(
                body["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("CRITICAL sql.destructive-ddl"),
                "{body}"
            );
            assert!(
                report
                    .finding_ids
                    .contains(&body["finding"]["id"].as_str().unwrap().to_owned())
            );
            assert_eq!(attr(a, "finding_id"), body["finding"]["id"].as_str().unwrap());
        }

        let siem = siem_records(&moto, &d.log_group).await;
        let findings: Vec<&Value> = siem
            .iter()
            .map(|(_, v)| v)
            .filter(|v| v["class_uid"] == 2004)
            .collect();
        let activity = siem.iter().filter(|(_, v)| v["class_uid"] == 6005).count();
        assert_eq!(findings.len(), 2);
        assert_eq!(activity, 41, "one Datastore Activity record per event");
        for f in &findings {
            assert_eq!(
                f["finding_info"]["analytic"]["uid"]
                    .as_str()
                    .map(|s| s.starts_with("sql.")),
                Some(true),
                "{f}"
            );
        }

        // Redaction: the capture's literal is in the input, and nowhere in SNS or the SIEM.
        let decoded = String::from_utf8(
            laneguard_core::envelope::decode::base64_maybe_gunzip(
                serde_json::from_str::<Value>(&event).unwrap()["awslogs"]["data"]
                    .as_str()
                    .unwrap(),
                1 << 26,
                &mut Vec::new(),
            )
            .unwrap(),
        )
        .unwrap();
        assert!(decoded.contains(SECRET_LITERAL));
        for a in &alerts {
            assert!(!a.to_string().contains(SECRET_LITERAL), "raw literal in SNS: {a}");
        }
        for (text, _) in &siem {
            assert!(!text.contains(SECRET_LITERAL), "raw literal in the SIEM: {text}");
        }

        // Redelivery of the same event to the same container: nothing published or written twice.
        let again = handler.handle(event.as_bytes()).await.unwrap();
        let sns = again.sns.unwrap();
        assert_eq!((sns.published, sns.already_sent), (0, 2), "{sns:?}");
        assert_eq!(again.siem.unwrap().written, 0);
        assert!(drain_queue(&moto, &d.queue_url).is_empty());
        assert_eq!(siem_records(&moto, &d.log_group).await.len(), siem.len());
    });
}

#[test]
fn cloudtrail_min_severity_and_control_message() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "ct-alerts", "/laneguard/siem-ct").await;
        let conf = config(
            FunctionKind::CloudTrail,
            &d,
            &[("LANEGUARD_MIN_SEVERITY", "high")],
        );
        let handler = Handler::new(&conf, &sdk(&moto.url, &fast_retry(3)).await)
            .await
            .unwrap()
            .with_stdout(None);

        let control = handler
            .handle(control_message_event(now_ms()).unwrap().as_bytes())
            .await
            .unwrap();
        assert_eq!(
            (control.skipped, control.events, control.findings),
            (1, 0, 0),
            "{control:?}"
        );

        let report = handler.handle(cloudtrail_event().as_bytes()).await.unwrap();
        assert_eq!(
            (report.records, report.events, report.findings),
            (26, 26, 15),
            "{report:?}"
        );
        let sns = report.sns.unwrap();
        assert_eq!((sns.published, sns.below_threshold), (13, 2), "{sns:?}");
        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(alerts.len(), 13);
        assert!(
            alerts
                .iter()
                .all(|a| attr(a, "source") == "cloudtrail" && attr(a, "severity") != "medium")
        );
        assert!(alerts.iter().all(|a| a["Subject"].as_str().unwrap().len() <= 100));
        let siem = siem_records(&moto, &d.log_group).await;
        assert_eq!(
            siem.len(),
            15,
            "every finding reaches the SIEM, whatever its severity"
        );
        assert!(
            siem.iter()
                .all(|(_, v)| v["class_uid"] == 2004 && v["metadata"]["version"] == "1.8.0")
        );
    });
}

#[test]
fn vpc_flow_to_a_fifo_topic() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "flow-alerts.fifo", "/laneguard/siem-flow").await;
        let conf = config(FunctionKind::VpcFlow, &d, &[("LANEGUARD_SIEM_EVENTS", "true")]);
        let handler = Handler::new(&conf, &sdk(&moto.url, &fast_retry(3)).await)
            .await
            .unwrap()
            .with_stdout(None);
        assert!(handler.sns().unwrap().is_fifo());
        let report = handler.handle(flow_event().as_bytes()).await.unwrap();
        assert_eq!((report.events, report.findings), (3, 3), "{report:?}");
        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(alerts.len(), 3, "{alerts:#?}");
        let mut rules: Vec<&str> = alerts.iter().map(|a| attr(a, "rule_id")).collect();
        rules.sort_unstable();
        assert_eq!(
            rules,
            [
                "flow.app-to-external-db-port",
                "flow.internet-to-db-port",
                "policy.zone-class"
            ]
        );
        assert!(alerts.iter().all(|a| attr(a, "source") == "vpc-flow"));
        let siem = siem_records(&moto, &d.log_group).await;
        assert_eq!(
            siem.iter().filter(|(_, v)| v["class_uid"] == 4001).count(),
            3,
            "Network Activity per flow"
        );
        assert_eq!(siem.iter().filter(|(_, v)| v["class_uid"] == 2004).count(), 3);
    });
}

#[test]
fn throttling_and_5xx_are_retried_without_loss_or_duplicates() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "faulty-alerts", "/laneguard/siem-faulty").await;
        let proxy = FaultProxy::start(
            moto.addr,
            vec![
                FaultRule {
                    operation: "PublishBatch",
                    faults: vec![Fault::TooMany, Fault::Internal, Fault::Throttle],
                    always: Arc::default(),
                    from_call: 0,
                },
                FaultRule {
                    operation: "PutLogEvents",
                    faults: vec![Fault::Throttle, Fault::Unavailable],
                    always: Arc::default(),
                    from_call: 0,
                },
                FaultRule {
                    operation: "CreateLogStream",
                    faults: vec![Fault::Internal],
                    always: Arc::default(),
                    from_call: 0,
                },
            ],
        );
        let conf = config(FunctionKind::CloudTrail, &d, &[]);
        let handler = Handler::new(&conf, &sdk(&proxy.url, &fast_retry(5)).await)
            .await
            .unwrap()
            .with_stdout(None);
        let report = handler.handle(cloudtrail_event().as_bytes()).await.unwrap();
        assert_eq!(report.sns.unwrap().published, 15);
        assert_eq!(report.siem.unwrap().written, 15);
        assert_eq!(
            proxy.count("PublishBatch"),
            (5, 3),
            "3 faults, then 2 batches (10 + 5)"
        );
        assert_eq!(proxy.count("PutLogEvents"), (3, 2));
        assert_eq!(proxy.count("CreateLogStream"), (2, 1));
        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(alerts.len(), 15, "nothing lost");
        let mut ids: Vec<&str> = alerts.iter().map(|a| attr(a, "finding_id")).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 15, "nothing duplicated");
        assert_eq!(siem_records(&moto, &d.log_group).await.len(), 15);
    });
}

#[test]
fn exhausted_retries_fail_the_invocation_and_the_retry_publishes_only_the_rest() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "broken-alerts", "/laneguard/siem-broken").await;
        let broken = Arc::new(AtomicBool::new(true));
        // The first PublishBatch (10 findings) goes through; from the second on, 500s while
        // `broken` is set.
        let proxy = FaultProxy::start(
            moto.addr,
            vec![FaultRule {
                operation: "PublishBatch",
                faults: vec![Fault::Internal],
                always: Arc::clone(&broken),
                from_call: 1,
            }],
        );
        let conf = config(FunctionKind::CloudTrail, &d, &[]);
        let handler = Handler::new(&conf, &sdk(&proxy.url, &fast_retry(3)).await)
            .await
            .unwrap()
            .with_stdout(None);
        let event = cloudtrail_event();
        let err = handler.handle(event.as_bytes()).await.unwrap_err();
        assert_eq!(
            proxy.count("PublishBatch"),
            (4, 3),
            "1 good call, then 3 attempts"
        );
        match &err.errors[..] {
            [
                DeliveryError::Sns {
                    topic_arn,
                    rule_ids,
                    reason,
                },
            ] => {
                assert_eq!(topic_arn, &d.topic_arn);
                assert!(!rule_ids.is_empty() && reason.contains("PublishBatch"), "{err}");
            }
            other => panic!("expected one SNS error, got {other:?}"),
        }
        assert!(err.to_string().contains(&d.topic_arn), "{err}");
        assert_eq!(drain_queue(&moto, &d.queue_url).len(), 10);
        assert_eq!(
            err.report.siem.unwrap().written,
            15,
            "the SIEM sink delivered regardless"
        );

        // Lambda retries the same event, on the same warm container, once SNS is healthy again:
        // only the findings not yet published go out.
        broken.store(false, Ordering::SeqCst);
        let report = handler.handle(event.as_bytes()).await.unwrap();
        assert_eq!(report.sns.unwrap().published, 5);
        assert_eq!(report.sns.unwrap().already_sent, 10);
        assert_eq!(report.siem.unwrap().already_sent, 15);
        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(alerts.len(), 5, "only the findings not yet published");
        assert_eq!(
            siem_records(&moto, &d.log_group).await.len(),
            15,
            "no SIEM duplicates"
        );
    });
}

/// The real `laneguard-rds-audit` binary, polling the Lambda Runtime API that
/// `cargo lambda watch --only-lambda-apis` serves, answers `cargo lambda invoke` with its report,
/// and publishes to moto. The binary is the debug build (`cargo build -p laneguard-rds-audit`,
/// run by `.ci/run`; or `LANEGUARD_FUNCTION_BIN`): `cargo lambda watch` compiling it itself would
/// need the build lock this very `cargo test` holds.
#[test]
fn function_binary_under_cargo_lambda_watch() {
    let Some(cargo_lambda) = support::find_tool("LANEGUARD_CARGO_LAMBDA", "cargo-lambda") else {
        return;
    };
    let Some(bin) = support::built_function("LANEGUARD_FUNCTION_BIN", "laneguard-rds-audit") else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    let d = rt.block_on(destinations(&moto, "watch-alerts", "/laneguard/siem-watch"));
    let event = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/envelopes/cwl-lambda-event-mariadb.json");
    let report = support::invoke_function(
        &cargo_lambda,
        &bin,
        &[
            ("AWS_ENDPOINT_URL", &moto.url),
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true"),
            ("LANEGUARD_SNS_TOPIC_ARN", &d.topic_arn),
            ("LANEGUARD_SIEM_LOG_GROUP", &d.log_group),
            ("LANEGUARD_STDOUT_FINDINGS", "false"),
        ],
        &event,
    );
    assert_eq!(report["events"], 41, "{report}");
    assert_eq!(report["findings"], 2, "{report}");
    assert_eq!(report["sns"]["published"], 2, "{report}");
    assert!(report.get("batchItemFailures").is_none(), "{report}");
    assert_eq!(drain_queue(&moto, &d.queue_url).len(), 2);
}

/// `laneguard replay --log-group` reads a real CloudWatch Logs API (moto) page by page, with the
/// origin of every finding pointing at the log group, stream and event id.
#[test]
fn replay_reads_a_log_group_through_filter_log_events() {
    let Some(moto) = Moto::start() else {
        return; // SKIP printed (a failure under CI=true)
    };
    let group = "/aws/rds/instance/payments-db/audit";
    let stream = "payments-db";
    let now_ms = jiff::Timestamp::now().as_millisecond();
    // 120 benign application queries (more than four pages of 25), then one audit tampering.
    let mut lines: Vec<String> = (0..120)
        .map(|i| format!("20261128 00:25:20,payments-db,app,10.0.16.5,5,{},QUERY,payments,'SELECT id FROM orders WHERE id = {i}',0", 100 + i))
        .collect();
    lines.push("20261128 00:25:21,payments-db,app,10.0.16.5,5,999,QUERY,payments,'SET GLOBAL server_audit_logging=OFF',0".to_owned());
    runtime().block_on(async {
        let config = sdk(&moto.url, &fast_retry(3)).await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
        logs.create_log_group()
            .log_group_name(group)
            .send()
            .await
            .unwrap();
        logs.create_log_stream()
            .log_group_name(group)
            .log_stream_name(stream)
            .send()
            .await
            .unwrap();
        let events: Vec<_> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                    .timestamp(now_ms - 60_000 + i as i64)
                    .message(l)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = logs
            .put_log_events()
            .log_group_name(group)
            .log_stream_name(stream)
            .set_log_events(Some(events))
            .send()
            .await
            .unwrap();
        assert!(
            out.rejected_log_events_info().is_none(),
            "{:?}",
            out.rejected_log_events_info()
        );
    });
    let out = support::laneguard_on(&moto)
        .args([
            "replay",
            "--format",
            "json",
            "--log-group",
            group,
            "--start",
            "now-1h",
            "--page-size",
            "25",
        ])
        .env("LANEGUARD_LOG", "info")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("121 records, 121 events") && stderr.contains(" 0 diagnostics"),
        "{stderr}"
    );
    assert!(stderr.contains("pages=5"), "pagination not exercised: {stderr}");
    let findings: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tamper: Vec<&Value> = findings
        .iter()
        .filter(|f| f["rule_id"] == "mysql.audit-tamper")
        .collect();
    assert_eq!(tamper.len(), 1, "{findings:#?}");
    let origin = &tamper[0]["evidence"]["origin"];
    assert_eq!(origin["log_group"], group);
    assert_eq!(origin["log_stream"], stream);
    assert!(
        origin["event_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{origin}"
    );
    // The log group's region is the client's; FilterLogEvents names no account.
    assert_eq!(tamper[0]["region"], "us-east-1", "{}", tamper[0]);
    assert!(tamper[0].get("account").is_none(), "{}", tamper[0]);
    // The benign queries raised nothing.
    assert!(
        findings
            .iter()
            .all(|f| f["rule_id"] == "mysql.audit-tamper" || f["statement"]["command"] == "SET GLOBAL"),
        "{findings:#?}"
    );
}

/// `replay --sns` publishes what a replay found (a dry run without it): never shadow findings,
/// only at or above the minimum severity, with no raw literal.
#[test]
fn replay_publishes_findings_to_sns_on_request() {
    let Some(moto) = Moto::start() else {
        return; // SKIP printed (a failure under CI=true)
    };
    let d = runtime().block_on(destinations(&moto, "replay-alerts", "/laneguard/replay"));
    let sample = "samples/pgaudit/attack/postgresql-pgaudit.log";
    let json = support::laneguard_on(&moto)
        .args(["replay", "--format", "json", sample])
        .output()
        .unwrap();
    let expected = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|f| f["shadow"] != true && ["high", "critical"].contains(&f["severity"].as_str().unwrap()))
        .count();
    assert!(expected > 0);
    let out = support::laneguard_on(&moto)
        .args([
            "replay",
            "--format",
            "json",
            "--sns",
            &d.topic_arn,
            "--sns-min-severity",
            "high",
            sample,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("{expected} published")), "{stderr}");
    let messages = drain_queue(&moto, &d.queue_url);
    assert_eq!(messages.len(), expected);
    for m in &messages {
        let text = m.to_string();
        for literal in ["Backd00r-pw", "/etc/passwd", "cat > /dev/null"] {
            assert!(!text.contains(literal), "literal {literal:?} leaked: {text}");
        }
    }
}

/// Finding ids of the alerts in `alerts`, sorted, each asserted to be there once.
fn unique_ids(alerts: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = alerts.iter().map(|a| attr(a, "finding_id").to_owned()).collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "an alert published twice: {ids:?}");
    ids
}

/// `PublishBatch` answered HTTP 200 with entries in `Failed`: the server-side failures are
/// retried (only they), the sender-fault ones are parked — counted, not retried, the rest of
/// their batch published, the invocation not failed — and every parked finding is in the SIEM.
#[test]
fn failed_batch_entries_are_retried_or_parked_without_loss_or_duplicates() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "entries-alerts", "/laneguard/siem-entries").await;
        // Call 0 (the first 10 findings): entries 2 and 5 refused as the sender's fault.
        // Call 1 (the other 5): entries 0 and 3 refused by SNS itself; call 2 retries them.
        let proxy = FaultProxy::start(
            moto.addr,
            vec![FaultRule::once(
                "PublishBatch",
                vec![
                    Fault::FailEntries {
                        ids: &["2", "5"],
                        code: "InvalidParameter",
                        sender_fault: true,
                    },
                    Fault::FailEntries {
                        ids: &["0", "3"],
                        code: "InternalError",
                        sender_fault: false,
                    },
                ],
            )],
        );
        let conf = config(FunctionKind::CloudTrail, &d, &[]);
        let handler = Handler::new(&conf, &sdk(&proxy.url, &fast_retry(3)).await)
            .await
            .unwrap()
            .with_stdout(None);
        let report = handler.handle(cloudtrail_event().as_bytes()).await.unwrap();
        let sns = report.sns.unwrap();
        assert_eq!(
            (sns.published, sns.parked, sns.retried_entries),
            (13, 2, 2),
            "{sns:?}"
        );
        assert_eq!(
            proxy.count("PublishBatch"),
            (3, 2),
            "10 + 5 entries, then the 2 retried"
        );
        let published = unique_ids(&drain_queue(&moto, &d.queue_url));
        assert_eq!(published.len(), 13);
        let parked: Vec<&String> = report
            .finding_ids
            .iter()
            .filter(|id| !published.contains(id))
            .collect();
        assert_eq!(parked.len(), 2, "{parked:?}");
        let siem = siem_records(&moto, &d.log_group).await;
        assert_eq!(siem.len(), 15, "every finding in the SIEM, the parked ones too");
        for id in parked {
            assert!(
                siem.iter().any(|(_, v)| v["finding_info"]["uid"] == id.as_str()),
                "parked finding {id} not in the SIEM"
            );
        }
    });
}

/// A finding whose message would exceed SNS's 256 KiB is published with its longest strings
/// cut (marked); findings of ~60 KiB go four to a call (256 KiB per `PublishBatch`); each
/// arrives once.
#[test]
fn oversized_findings_are_cut_and_batches_split_within_sns_limits() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "large-alerts", "/laneguard/siem-large").await;
        let proxy = FaultProxy::start(moto.addr, Vec::new());
        let conf = config(FunctionKind::RdsAudit, &d, &[]);
        let handler = Handler::new(&conf, &sdk(&moto.url, &fast_retry(3)).await)
            .await
            .unwrap();
        let detected = handler.detect(sample("samples/envelopes/cwl-lambda-event-mariadb.json").as_bytes());
        let base = detected.findings[0].clone();
        assert!(base.statement.is_some());
        let findings: Vec<laneguard_core::finding::Finding> = (0..12)
            .map(|i| {
                let mut f = base.clone();
                f.id = format!("{i:032x}");
                let size = if i == 0 { 400_000 } else { 60_000 };
                if let Some(st) = f.statement.as_mut() {
                    st.normalized = format!("DROP TABLE t_{}", "x".repeat(size));
                }
                f
            })
            .collect();
        let client = aws_sdk_sns::Client::new(&sdk(&proxy.url, &fast_retry(3)).await);
        let sink = laneguard_aws::SnsSink::new(client, &d.topic_arn, laneguard_core::finding::Severity::Low);
        let report = sink.send(&findings).await.unwrap();
        assert_eq!(
            (report.published, report.truncated, report.parked),
            (12, 1, 0),
            "{report:?}"
        );
        assert_eq!(
            proxy.count("PublishBatch").0,
            4,
            "the cut finding alone, then 4 + 4 + 3"
        );
        let alerts = drain_queue(&moto, &d.queue_url);
        assert_eq!(unique_ids(&alerts).len(), 12);
        let big = alerts
            .iter()
            .find(|a| attr(a, "finding_id") == format!("{:032x}", 0))
            .unwrap();
        let message = big["Message"].as_str().unwrap();
        assert!(
            message.len() <= laneguard_aws::sns::MAX_MESSAGE_BYTES,
            "{}",
            message.len()
        );
        let body: Value = serde_json::from_str(message).unwrap();
        let normalized = body["finding"]["statement"]["normalized"].as_str().unwrap();
        assert!(
            normalized.starts_with("DROP TABLE t_") && normalized.ends_with(laneguard_aws::fit::TRUNCATED),
            "{}",
            &normalized[normalized.len() - 40..]
        );
        assert_eq!(body["finding"]["id"], format!("{:032x}", 0));
    });
}

/// A SIEM record over one log event's limit is written cut; records CloudWatch Logs rejects
/// for their timestamps (`rejectedLogEventsInfo`) are counted exactly and written once more at
/// the delivery time; one rejected again is counted as rejected. Read back: each written record
/// once, the rejected one absent.
#[test]
fn siem_records_cut_to_fit_and_rejected_ones_restamped_or_counted() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "cwl-alerts", "/laneguard/siem-limits").await;
        // First call: the 7 events, [0, 2) too old and [5, 7) too new. Second call (those 4 at
        // the delivery time): the first still too old.
        let proxy = FaultProxy::start(
            moto.addr,
            vec![FaultRule::once(
                "PutLogEvents",
                vec![
                    Fault::RejectLogEvents {
                        too_old_end: Some(2),
                        expired_end: None,
                        too_new_start: Some(5),
                    },
                    Fault::RejectLogEvents {
                        too_old_end: None,
                        expired_end: Some(1),
                        too_new_start: None,
                    },
                ],
            )],
        );
        let now = now_ms();
        let t0 = now - 60_000;
        let mut records: Vec<laneguard_aws::SiemRecord> = (0..6)
            .map(|i| laneguard_aws::SiemRecord {
                key: format!("k{i}"),
                timestamp_ms: t0 + i,
                message: serde_json::json!({ "key": format!("k{i}") }).to_string(),
            })
            .collect();
        records.push(laneguard_aws::SiemRecord {
            key: "big".into(),
            timestamp_ms: t0 + 6,
            message: serde_json::json!({ "key": "big", "evidence": "e".repeat(400_000) }).to_string(),
        });
        let client = aws_sdk_cloudwatchlogs::Client::new(&sdk(&proxy.url, &fast_retry(3)).await);
        let sink = laneguard_aws::SiemSink::new(client, &d.log_group, "limits");
        let report = sink.send(records, now).await.unwrap();
        assert_eq!(
            (
                report.written,
                report.truncated,
                report.restamped,
                report.rejected,
                report.oversized
            ),
            (6, 1, 3, 1, 0),
            "{report:?}"
        );
        assert_eq!(proxy.count("PutLogEvents"), (2, 2));
        let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk(&moto.url, &fast_retry(3)).await);
        let events = logs
            .get_log_events()
            .log_group_name(&d.log_group)
            .log_stream_name("limits")
            .start_from_head(true)
            .send()
            .await
            .unwrap();
        let mut keys: Vec<(String, i64)> = events
            .events()
            .iter()
            .map(|e| {
                let v: Value = serde_json::from_str(e.message().unwrap()).unwrap();
                (v["key"].as_str().unwrap().to_owned(), e.timestamp().unwrap())
            })
            .collect();
        keys.sort();
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["big", "k1", "k2", "k3", "k4", "k5"], "k0 rejected twice");
        for (k, ts) in &keys {
            let restamped = ["k1", "k5", "big"].contains(&k.as_str());
            assert_eq!(*ts == now, restamped, "{k} at {ts}");
        }
        let big = events
            .events()
            .iter()
            .find(|e| e.message().unwrap().contains("\"big\""))
            .unwrap()
            .message()
            .unwrap();
        assert!(
            big.len() <= laneguard_aws::siem::MAX_EVENT_BYTES && big.contains(laneguard_aws::fit::TRUNCATED)
        );
    });
}

/// A log stream deleted under a running sink is re-created and the batch written once; a
/// deleted log group fails the delivery, naming it (laneguard never creates the group).
#[test]
fn siem_deleted_stream_is_recreated_and_a_deleted_group_fails() {
    let Some(moto) = Moto::start() else { return };
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "gone-alerts", "/laneguard/siem-gone").await;
        let conf = sdk(&moto.url, &fast_retry(3)).await;
        let logs = aws_sdk_cloudwatchlogs::Client::new(&conf);
        let sink = laneguard_aws::SiemSink::new(logs.clone(), &d.log_group, "gone");
        let now = now_ms();
        let batch = |from: i64| -> Vec<laneguard_aws::SiemRecord> {
            (from..from + 3)
                .map(|i| laneguard_aws::SiemRecord {
                    key: format!("k{i}"),
                    timestamp_ms: now - 1000 + i,
                    message: serde_json::json!({ "key": format!("k{i}") }).to_string(),
                })
                .collect()
        };
        assert_eq!(sink.send(batch(0), now).await.unwrap().written, 3);
        logs.delete_log_stream()
            .log_group_name(&d.log_group)
            .log_stream_name("gone")
            .send()
            .await
            .unwrap();
        let report = sink.send(batch(3), now).await.unwrap();
        assert_eq!((report.written, report.calls), (3, 2), "{report:?}");
        let mut keys: Vec<String> = siem_records(&moto, &d.log_group)
            .await
            .into_iter()
            .map(|(_, v)| v["key"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        assert_eq!(keys, ["k3", "k4", "k5"], "the new stream holds the batch once");

        logs.delete_log_group()
            .log_group_name(&d.log_group)
            .send()
            .await
            .unwrap();
        match sink.send(batch(6), now).await {
            Err(DeliveryError::CloudWatchLogs {
                log_group, reason, ..
            }) => {
                assert_eq!(log_group, d.log_group);
                assert!(reason.contains("does not exist"), "{reason}");
            }
            other => panic!("expected a CloudWatch Logs error, got {other:?}"),
        }
    });
}
