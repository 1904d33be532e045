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

/// The rule ids of the JSON findings a run printed.
fn rule_ids(o: &Output) -> std::collections::BTreeSet<String> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["rule_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
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

/// `laneguard bundle` packs a configuration directory only when it validates and its rule tests
/// pass, and `--config` reads the directory or the archive exactly as the functions do.
#[test]
fn bundle_then_run_on_it() {
    let dir = std::env::temp_dir().join(format!("lg-bundle-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("conf/rules")).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("rules/policy.toml"), dir.join("conf/policy.toml")).unwrap();
    for rule in ["sql.destructive-ddl.toml", "sql.brute-force-external.toml"] {
        std::fs::copy(root.join("rules").join(rule), dir.join("conf/rules").join(rule)).unwrap();
    }
    std::fs::write(dir.join("conf/README.md"), "notes").unwrap();
    let archive = dir.join("conf.tar.gz");
    let o = laneguard(&[
        "bundle",
        dir.join("conf").to_str().unwrap(),
        "-o",
        archive.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 rules"), "{}", stderr(&o));
    for config in [dir.join("conf"), archive.clone()] {
        let o = laneguard(&["validate", "--config", config.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("2 rules loaded, 0 invalid"));
        let o = laneguard(&[
            "replay",
            "--config",
            config.to_str().unwrap(),
            "--format",
            "json",
            "samples/mysql-audit/attack",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let rules = rule_ids(&o);
        assert!(
            rules.iter().all(|r| r.starts_with("policy.")
                || r == "sql.destructive-ddl"
                || r == "sql.brute-force-external"),
            "{rules:?}"
        );
        assert!(rules.contains("sql.brute-force-external"), "{rules:?}");
    }
    // A rule whose test fails is not packed; nothing is written.
    std::fs::write(
        dir.join("conf/rules/broken.toml"),
        std::fs::read_to_string(root.join("rules/sql.destructive-ddl.toml"))
            .unwrap()
            .replace("id = \"sql.destructive-ddl\"", "id = \"t.broken\"")
            .replace("expect = true", "expect = false"),
    )
    .unwrap();
    let second = dir.join("second.tar.gz");
    let o = laneguard(&[
        "bundle",
        dir.join("conf").to_str().unwrap(),
        "-o",
        second.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("FAIL t.broken") && !second.exists(),
        "{}",
        stderr(&o)
    );
    // No policy, --config with --policy: usage errors.
    std::fs::remove_file(dir.join("conf/policy.toml")).unwrap();
    let o = laneguard(&["validate", "--config", dir.join("conf").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no policy.toml"), "{}", stderr(&o));
    let o = laneguard(&["validate", "--config", "x", "--policy", "y"]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A rules directory (under a fresh temporary directory named by `tag`) holding two rules of
/// the pack and `invalid.toml`, a copy of one with the id `t.invalid` and an unknown key on its
/// line 2.
fn rules_with_an_invalid_file(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lg-invalid-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for rule in ["sql.destructive-ddl.toml", "sql.brute-force-external.toml"] {
        std::fs::copy(root.join("rules").join(rule), dir.join(rule)).unwrap();
    }
    let text = std::fs::read_to_string(root.join("rules/sql.destructive-ddl.toml"))
        .unwrap()
        .replacen(
            "id = \"sql.destructive-ddl\"\n",
            "id = \"t.invalid\"\ncolour = \"red\"\n",
            1,
        );
    std::fs::write(dir.join("invalid.toml"), text).unwrap();
    dir
}

/// An invalid rule file refuses `replay` (exit 2, the file's line and rule id on stderr,
/// nothing on stdout) unless `--skip-invalid-rules`, which runs on the others and counts the
/// skipped file in the summary.
#[test]
fn replay_refuses_an_invalid_rule_file_unless_told_to_skip_it() {
    let dir = rules_with_an_invalid_file("replay");
    let rules = dir.to_str().unwrap();
    let input = "samples/mysql-audit/attack";
    let o = laneguard(&["replay", "--rules", rules, "--format", "json", input]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "no findings on a refused run");
    assert!(
        err.contains("invalid.toml:2: rule t.invalid: ") && err.contains("--skip-invalid-rules"),
        "{err}"
    );
    assert!(!err.contains("laneguard replay:"), "no run, no summary: {err}");

    let o = laneguard(&[
        "replay",
        "--rules",
        rules,
        "--skip-invalid-rules",
        "--format",
        "json",
        input,
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("invalid.toml:2: rule t.invalid: "), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("laneguard replay:") && l.ends_with("; 1 invalid rule files skipped")),
        "{err}"
    );
    let rules = rule_ids(&o);
    assert!(rules.contains("sql.brute-force-external"), "{rules:?}");
    assert!(!rules.contains("t.invalid"), "{rules:?}");

    // A valid configuration's summary is unchanged.
    let o = laneguard(&["replay", "--format", "json", input]);
    assert!(!stderr(&o).contains("skipped rule"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("invalid rule files"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `tune` refuses an invalid rule file in `--rules` and in a `--baseline` rules directory
/// (exit 2) unless `--skip-invalid-rules`; its JSON then counts the skipped files.
#[test]
fn tune_refuses_an_invalid_rule_file_unless_told_to_skip_it() {
    let dir = rules_with_an_invalid_file("tune");
    let rules = dir.to_str().unwrap();
    let corpus = "samples/mysql-audit";
    let o = laneguard(&["tune", "--corpus", corpus, "--rules", rules, "--format", "json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty(), "{}", String::from_utf8_lossy(&o.stdout));
    assert!(err.contains("invalid.toml:2: rule t.invalid: "), "{err}");

    let o = laneguard(&[
        "tune",
        "--corpus",
        corpus,
        "--rules",
        rules,
        "--skip-invalid-rules",
        "--format",
        "json",
    ]);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(2), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    assert_eq!(v["skipped_rules"], 1, "{err}");

    // The baseline's rules too: the pack against the directory with the invalid file.
    let o = laneguard(&[
        "tune",
        "--corpus",
        corpus,
        "--baseline",
        rules,
        "--format",
        "json",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid baseline rule file") && err.contains("rule t.invalid"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `validate` and `test` report an invalid rule file with its line and rule id and fail.
#[test]
fn validate_and_test_fail_on_an_invalid_rule_file() {
    let dir = rules_with_an_invalid_file("validate");
    let rules = dir.to_str().unwrap();
    let o = laneguard(&["validate", "--rules", rules]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("invalid.toml:2: rule t.invalid: "),
        "{}",
        stderr(&o)
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("2 rules loaded, 1 invalid"));
    let o = laneguard(&["test", "--rules", rules]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("FAIL ")
            && String::from_utf8_lossy(&o.stdout).contains("rule t.invalid"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
