//! `laneguard replay s3://bucket/prefix` on a real S3 API (moto): listing past one page,
//! gzip and plain objects, the same findings as a local replay of the same files, a day range
//! read from the key layout, and a checkpoint that lets a failed replay continue.

use std::path::{Path, PathBuf};

use laneguard_aws::aws_sdk_s3;
use serde_json::Value;

use super::support::Moto;
use super::{fast_retry, runtime, sdk};

/// The labeled sample corpora as archive objects (`key`, bytes): CloudTrail's and flow logs'
/// S3 layouts (`AWSLogs/<account>/<service>/<region>/YYYY/MM/DD/`), one day each side of
/// midnight, every other object gzipped.
pub(super) fn archive() -> Vec<(String, Vec<u8>)> {
    let repo = crate::common::repo();
    let mut out = Vec::new();
    for (i, (sample, service, day)) in [
        (
            "samples/cloudtrail/benign/cloudtrail-records.jsonl",
            "CloudTrail",
            "29",
        ),
        (
            "samples/cloudtrail/attack/cloudtrail-records.jsonl",
            "CloudTrail",
            "30",
        ),
        (
            "samples/mysql-audit/benign/mariadb-server-audit.log",
            "rds-audit",
            "29",
        ),
        (
            "samples/mysql-audit/attack/mariadb-server-audit.log",
            "rds-audit",
            "30",
        ),
        ("samples/pgaudit/attack/postgresql-pgaudit.log", "rds-audit", "30"),
        ("samples/vpc-flow/benign/vpc-flow-v5.log", "vpcflowlogs", "29"),
        ("samples/vpc-flow/attack/vpc-flow-v5.log", "vpcflowlogs", "30"),
    ]
    .into_iter()
    .enumerate()
    {
        let bytes = std::fs::read(repo.join(sample)).unwrap();
        let name = Path::new(sample).file_name().unwrap().to_str().unwrap();
        let key = format!("archive/AWSLogs/111122223333/{service}/us-east-1/2026/11/{day}/{i:02}-{name}");
        if i % 2 == 0 {
            out.push((format!("{key}.gz"), crate::common::gzip(&bytes)));
        } else {
            out.push((key, bytes));
        }
    }
    out
}

/// 1,001 one-line objects after the corpora (more than one ListObjectsV2 page of 1,000).
fn padding() -> Vec<(String, Vec<u8>)> {
    (0..1001)
        .map(|i| {
            let line = format!(
                "20261130 00:00:{:02},vm,app,10.0.16.5,{i},1,QUERY,shop,'SELECT id FROM products WHERE id = {i}',0\n",
                i % 60
            );
            (format!("archive/zz-pad/{i:04}.log"), line.into_bytes())
        })
        .collect()
}

pub(super) fn upload(moto: &Moto, bucket: &str, objects: &[(String, Vec<u8>)]) {
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(3)).await;
        let s3 = laneguard_aws::s3::client(&conf);
        s3.create_bucket().bucket(bucket).send().await.unwrap();
        for (key, bytes) in objects {
            s3.put_object()
                .bucket(bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(bytes.clone()))
                .send()
                .await
                .unwrap();
        }
    });
}

pub(super) fn replay(moto: &Moto, args: &[&str]) -> (std::process::Output, Vec<Value>) {
    let out = super::support::laneguard_on(moto)
        .args(["replay", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out, findings)
}

/// What must be equal between an S3 replay and a local one: everything but the finding id and
/// the file part of the origin (a key instead of a path), which must name the same object.
fn comparable(findings: &[Value], strip: &str) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let mut f = f.clone();
            let file = f["evidence"]["origin"]["file"].as_str().unwrap_or("").to_owned();
            let rel = file
                .strip_prefix(strip)
                .unwrap_or_else(|| panic!("{file} outside {strip}"));
            f["evidence"]["origin"]["file"] = Value::String(rel.to_owned());
            // A sequence's earlier events (evidence.related) name their objects the same way.
            if let Some(related) = f["evidence"]["related"].as_array_mut() {
                for r in related {
                    if let Some(rel) = r["file"].as_str().and_then(|p| p.strip_prefix(strip)) {
                        r["file"] = Value::String(rel.to_owned());
                    }
                }
            }
            f.as_object_mut().unwrap().remove("id");
            f.to_string()
        })
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("laneguard-s3-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn replay_of_an_s3_prefix_equals_the_local_replay() {
    let Some(moto) = Moto::start() else {
        return; // SKIP printed (a failure under CI=true)
    };
    let mut objects = archive();
    objects.extend(padding());
    upload(&moto, "trail", &objects);
    let dir = scratch("local");
    for (key, bytes) in &objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let (s3, s3_findings) = replay(&moto, &["--threads", "1", "s3://trail/archive/"]);
    let stderr = String::from_utf8_lossy(&s3.stderr);
    assert!(s3.status.success(), "{stderr}");
    assert!(
        stderr.contains("1008 objects listed, 1008 read"),
        "pagination or listing: {stderr}"
    );
    let local_dir = dir.join("archive");
    let (local, local_findings) = replay(&moto, &["--threads", "1", local_dir.to_str().unwrap()]);
    assert!(local.status.success());
    assert!(s3_findings.len() >= 10, "{s3_findings:#?}");
    // Flow-log and CloudTrail objects name an account and region by their key (a flow record of
    // a format without `region` takes the key's).
    let flows: Vec<&Value> = s3_findings.iter().filter(|f| f["source"] == "vpc-flow").collect();
    assert!(!flows.is_empty());
    for f in flows {
        assert_eq!(f["region"], "us-east-1", "{f}");
        assert!(f["account"].as_str().is_some_and(|a| !a.is_empty()), "{f}");
    }
    assert_eq!(
        comparable(&s3_findings, "s3://trail/archive/"),
        comparable(&local_findings, &format!("{}/", local_dir.display()))
    );
    // Two threads read the same prefix to the same findings.
    let (_, parallel) = replay(&moto, &["--threads", "2", "s3://trail/archive/"]);
    assert_eq!(parallel, s3_findings);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn day_range_and_checkpoint_resume() {
    let Some(moto) = Moto::start() else {
        return; // SKIP printed (a failure under CI=true)
    };
    let mut objects = archive();
    // One object bigger than the cap of the first run below: it fails, the rest goes on.
    let big: String = (0..4000)
        .map(|i| format!("20261130 00:01:00,vm,app,10.0.16.5,{i},1,QUERY,shop,'SELECT 1',0\n"))
        .collect();
    objects.push((
        "archive/AWSLogs/111122223333/rds-audit/us-east-1/2026/11/30/99-big.log".into(),
        big.into_bytes(),
    ));
    upload(&moto, "hunt", &objects);

    // The day range reads only the keys of 30 November.
    let (out, day_findings) = replay(
        &moto,
        &[
            "--start",
            "2026-11-30T00:00:00Z",
            "--end",
            "2026-11-30T23:59:59Z",
            "s3://hunt/archive/",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("8 objects listed, 5 read") && stderr.contains("3 outside --start/--end"),
        "{stderr}"
    );
    assert!(day_findings.iter().all(|f| {
        f["evidence"]["origin"]["file"]
            .as_str()
            .unwrap()
            .contains("/2026/11/30/")
    }));

    let dir = scratch("checkpoint");
    let checkpoint = dir.join("done.tsv");
    let cp = checkpoint.to_str().unwrap();
    let (first, first_findings) = replay(
        &moto,
        &["--checkpoint", cp, "--max-stream", "100000", "s3://hunt/archive/"],
    );
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("99-big.log") && stderr.contains("1 failed"),
        "{stderr}"
    );
    let done = std::fs::read_to_string(&checkpoint).unwrap();
    assert_eq!(done.lines().count(), 7, "{done}");
    assert!(!done.contains("99-big.log"));

    // Run again: only the object that failed is read; together the two runs found what one
    // whole run finds.
    let (second, second_findings) = replay(&moto, &["--checkpoint", cp, "s3://hunt/archive/"]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 read") && stderr.contains("7 already in the checkpoint"),
        "{stderr}"
    );
    let (_, whole) = replay(&moto, &["s3://hunt/archive/"]);
    let mut both: Vec<String> = first_findings
        .iter()
        .chain(&second_findings)
        .map(|f| f["id"].to_string())
        .collect();
    let mut all: Vec<String> = whole.iter().map(|f| f["id"].to_string()).collect();
    both.sort();
    all.sort();
    assert_eq!(both, all);
    // A checkpoint is refused with threads, and without S3 inputs.
    let (o, _) = replay(
        &moto,
        &["--checkpoint", cp, "--threads", "2", "s3://hunt/archive/"],
    );
    assert_eq!(o.status.code(), Some(2));
    let (o, _) = replay(&moto, &["--checkpoint", cp, "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

/// The other archive forms, as objects: a CloudTrail S3 delivery (`{"Records": […]}`,
/// gzipped), a CloudWatch Logs export (gzip-less here) and a Firehose delivery of a
/// subscription (concatenated gzipped JSON documents). An S3 replay finds what the local replay
/// of the same files finds.
#[test]
fn every_archive_form_replays_from_s3_as_from_files() {
    let Some(moto) = Moto::start() else { return };
    let repo = crate::common::repo();
    let forms = [
        "cloudtrail-s3-archive.json.gz",
        "cwl-export-aurora.jsonl",
        "firehose-s3-object-vpc-flow.gz",
    ];
    let objects: Vec<(String, Vec<u8>)> = forms
        .iter()
        .map(|f| {
            (
                format!("forms/{f}"),
                std::fs::read(repo.join("samples/envelopes").join(f)).unwrap(),
            )
        })
        .collect();
    upload(&moto, "forms", &objects);
    let (s3, s3_findings) = replay(&moto, &["--threads", "1", "s3://forms/forms/"]);
    let stderr = String::from_utf8_lossy(&s3.stderr);
    assert!(s3.status.success(), "{stderr}");
    assert!(stderr.contains("3 objects listed, 3 read"), "{stderr}");
    assert!(stderr.contains(" 0 diagnostics"), "{stderr}");
    let dir = scratch("forms");
    for (key, bytes) in &objects {
        let path = dir.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
    let local_dir = dir.join("forms");
    let (local, local_findings) = replay(&moto, &["--threads", "1", local_dir.to_str().unwrap()]);
    assert!(local.status.success());
    assert!(!s3_findings.is_empty());
    // Every form was read to events (the summary counts them per source); the flows of the
    // Firehose sample are benign, the others raise findings.
    let events = stderr
        .split(" events (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_default();
    for source in ["cloudtrail", "mysql-audit", "vpc-flow"] {
        assert!(
            events.contains(&format!("{source} ")),
            "no {source} events: {stderr}"
        );
    }
    for source in ["cloudtrail", "mysql-audit"] {
        assert!(
            s3_findings.iter().any(|f| f["source"] == source),
            "no {source} finding from its archive form"
        );
    }
    assert_eq!(
        comparable(&s3_findings, "s3://forms/forms/"),
        comparable(&local_findings, &format!("{}/", local_dir.display()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--s3-concurrency N` bounds the downloads running at once: through a proxy that answers
/// every request after 150 ms, 12 objects read with N = 3 never overlap more than 3 GETs, and do
/// overlap (so the bound is what held them back).
#[test]
fn concurrent_downloads_are_bounded() {
    use super::support::{Fault, FaultProxy, FaultRule};
    let Some(moto) = Moto::start() else { return };
    let objects: Vec<(String, Vec<u8>)> = padding().into_iter().take(12).collect();
    upload(&moto, "slow", &objects);
    // S3's REST calls carry no operation name: the proxy's rule for "" matches them all.
    let slow = FaultRule {
        always: std::sync::Arc::new(true.into()),
        ..FaultRule::once("", vec![Fault::SlowMs(150)])
    };
    let proxy = FaultProxy::start(moto.addr, vec![slow]);
    let out = super::support::laneguard_on(&moto)
        .env("AWS_ENDPOINT_URL", &proxy.url)
        .args([
            "replay",
            "--threads",
            "1",
            "--s3-concurrency",
            "3",
            "--format",
            "json",
            "s3://slow/archive/",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("12 objects listed, 12 read"), "{stderr}");
    let most = proxy.max_in_flight();
    assert!(
        (2..=3).contains(&most),
        "{most} requests at once with --s3-concurrency 3"
    );
}
