//! The built `laneguard` binary: exit codes, output, the README's first command.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Run the built binary in the repository root.
pub(crate) fn laneguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn replay_samples_on_embedded_defaults() {
    let o = laneguard(&["replay", "samples/"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains(" 0 diagnostics"), "{err}");
    assert!(
        err.contains("cloudtrail")
            && err.contains("mysql-audit")
            && err.contains("pgaudit")
            && err.contains("vpc-flow"),
        "{err}"
    );
}

#[test]
fn events_for_each_source_and_reference_format() {
    let cases = [
        ("cloudtrail", "samples/reference/cloudtrail-records.jsonl"),
        ("cloudtrail", "samples/reference/cloudtrail-s3-archive-ec2.json"),
        (
            "mysql-audit",
            "samples/reference/mariadb-server-audit-captured.log",
        ),
        ("mysql-audit", "samples/reference/aurora-mysql-audit.log"),
        ("mysql-audit", "samples/reference/mysql-audit-rds.log"),
        ("mysql-audit", "samples/reference/mysql-audit-rds-legacy.log"),
        ("mysql-audit", "samples/reference/mariadb-audit.log"),
        ("pgaudit", "samples/reference/pgaudit-captured.log"),
        ("pgaudit", "samples/reference/pgaudit.log"),
        ("pgaudit", "samples/reference/postgresql-rds.log"),
        ("vpc-flow", "samples/reference/vpc-flow-v2.log"),
        ("vpc-flow", "samples/reference/vpc-flow-v8-ecs-bpa.log"),
        ("mysql-audit", "samples/envelopes/cwl-lambda-event-mariadb.json"),
        ("cloudtrail", "samples/envelopes/kinesis-event-cloudtrail.json"),
        ("vpc-flow", "samples/envelopes/firehose-s3-object-vpc-flow.gz"),
    ];
    for (source, file) in cases {
        let o = laneguard(&["replay", "--events", "--source", source, file]);
        assert!(o.status.success(), "{file}: {}", stderr(&o));
        let out = String::from_utf8(o.stdout.clone()).unwrap();
        assert!(out.lines().count() > 0, "{file}");
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["source"], source, "{line}");
            // No raw SQL without --show-literals.
            assert!(v["statement"].get("text").is_none(), "{line}");
        }
        assert!(stderr(&o).contains(" 0 diagnostics"), "{file}: {}", stderr(&o));
    }
}

#[test]
fn literals_only_on_request() {
    let file = "samples/reference/mariadb-server-audit-captured.log";
    let o = laneguard(&["replay", "--events", file]);
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(!out.contains("x@example.com"), "a literal leaked");
    assert!(
        out.contains("UPDATE users SET email = ? WHERE id = ?"),
        "normalized statement missing"
    );
    let o = laneguard(&["replay", "--events", "--show-literals", file]);
    assert!(String::from_utf8(o.stdout).unwrap().contains("x@example.com"));
}

#[test]
fn stdin_gzip_and_deterministic_order() {
    let text = std::fs::read("samples/reference/vpc-flow-v2.log").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(["replay", "--events", "-"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&crate::common::gzip(&text))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 7);

    let a = laneguard(&["replay", "--events", "samples/"]);
    let b = laneguard(&["replay", "--events", "samples/"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn exit_codes() {
    // 2: bad usage, with a message.
    let o = laneguard(&["replay"]);
    assert_eq!(o.status.code(), Some(2));
    let o = laneguard(&["replay", "--source", "oracle", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("oracle"));
    let o = laneguard(&["replay", "--vpc-format", "${nope!}", "samples/"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--vpc-format"), "{}", stderr(&o));
    // 1: a named input that cannot be read; the others are still read.
    let o = laneguard(&[
        "replay",
        "--events",
        "does/not/exist.log",
        "samples/reference/vpc-flow-v2.log",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("does/not/exist.log"));
    assert_eq!(String::from_utf8(o.stdout).unwrap().lines().count(), 7);
    // 0: a run that completed with diagnostics.
    let o = laneguard(&["replay", "tests/fixtures/cwl-subscription-decoded.jsonl"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("9 diagnostics"), "{}", stderr(&o));
}

#[test]
fn findings_as_json_table_and_ocsf() {
    let file = "samples/reference/postgresql-rds.log";
    let json = laneguard(&["replay", "--format", "json", file]);
    assert!(json.status.success());
    let lines = String::from_utf8(json.stdout).unwrap();
    assert!(
        lines.lines().count() > 0,
        "the reference PostgreSQL log has findings on the example policy"
    );
    for l in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(
            v["rule_id"].is_string() && v["id"].as_str().map(str::len) == Some(32),
            "{l}"
        );
    }
    let ocsf = laneguard(&["replay", "--format", "ocsf", file]);
    let out = String::from_utf8(ocsf.stdout).unwrap();
    assert_eq!(out.lines().count(), lines.lines().count());
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["class_uid"], 2004, "{l}");
    }
    let table = laneguard(&["replay", "--format", "table", file]);
    let out = String::from_utf8(table.stdout).unwrap();
    assert!(out.starts_with("TIME"), "{out}");
    assert_eq!(out.lines().count(), lines.lines().count() + 1);
}
