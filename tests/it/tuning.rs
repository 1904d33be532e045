//! The tuning workflow on the recorded corpora: `tune` counts, the noise gate, fire-set diffs
//! between rule directories, and `learn` producing an allowlist rule that tests and tunes clean.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn laneguard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn tune_json(extra: &[&str]) -> (Option<i32>, Value) {
    let mut args = vec!["tune", "--corpus", "samples/", "--format", "json"];
    args.extend_from_slice(extra);
    let o = laneguard(&args);
    let v: Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)));
    (o.status.code(), v)
}

/// A scratch copy of the default pack (without the policy) in a fresh directory.
fn pack_copy(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("laneguard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    for e in std::fs::read_dir(rules).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") && p.file_name().is_some_and(|n| n != "policy.toml") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    dir
}

fn rule_row<'v>(v: &'v Value, id: &str) -> Option<&'v Value> {
    v["rules"].as_array().unwrap().iter().find(|r| r["rule"] == id)
}

#[test]
fn tune_counts_on_the_recorded_corpora() {
    let (code, v) = tune_json(&["--max-fp", "0"]);
    assert_eq!(code, Some(0), "{v:#}");
    // The corpora as committed: benign and attack event counts are exact.
    assert_eq!(v["events"]["benign"], 917, "{:#}", v["events"]);
    assert_eq!(v["events"]["attack"], 305, "{:#}", v["events"]);
    // Benign application, administration and cloud traffic raises nothing.
    assert_eq!(v["false_positives"], 0);
    // Attack categories are caught, each by its rule.
    for (rule, at_least) in [
        ("policy.zone-class", 20),
        ("policy.swim-lane", 2),
        ("policy.management-flow", 2),
        ("sql.injection-indicators", 2),
        ("sql.credential-hash-read", 2),
        ("sql.brute-force-external", 1),
        ("mysql.audit-tamper", 1),
        ("pg.audit-tamper", 1),
        ("pg.program-exec", 1),
        ("ct.rds-made-public", 1),
        ("ct.sg-db-port-open-to-world", 1),
        ("flow.internet-to-db-port", 1),
    ] {
        let row = rule_row(&v, rule).unwrap_or_else(|| panic!("{rule} raised nothing"));
        assert!(row["attack"].as_u64().unwrap() >= at_least, "{rule}: {row}");
        assert_eq!(row["benign"], 0, "{rule}: {row}");
    }
}

#[test]
fn the_noise_gate_fails_a_noisy_rule() {
    let dir = pack_copy("noisy");
    std::fs::write(
        dir.join("t.every-select.toml"),
        "id = \"t.every-select\"\ntitle = \"every select\"\nseverity = \"low\"\nsources = [\"any-sql\"]\nfp_budget = 0\n[match]\nclass = \"DQL\"\n",
    )
    .unwrap();
    let d = dir.display().to_string();
    let (code, v) = tune_json(&["--rules", &d]);
    assert_eq!(code, Some(1), "{v:#}");
    assert!(
        v["over_budget"][0]
            .as_str()
            .unwrap()
            .starts_with("t.every-select:"),
        "{:#}",
        v["over_budget"]
    );
    let (code, _) = tune_json(&["--rules", &d, "--max-fp", "1000000"]);
    assert_eq!(code, Some(1), "the per-rule budget still fails");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn fire_set_diff_between_rule_directories() {
    let dir = pack_copy("diff");
    std::fs::remove_file(dir.join("sql.injection-indicators.toml")).unwrap();
    let (_, full) = tune_json(&[]);
    let removed = rule_row(&full, "sql.injection-indicators").unwrap();
    let lost = removed["attack"].as_u64().unwrap()
        + removed["benign"].as_u64().unwrap()
        + removed["unlabeled"].as_u64().unwrap();
    let d = dir.display().to_string();
    let (_, v) = tune_json(&["--rules", &d, "--baseline", "rules/"]);
    let diff = &v["diff"];
    assert_eq!(diff["new"].as_array().unwrap().len(), 0, "{diff:#}");
    assert_eq!(diff["lost"].as_array().unwrap().len() as u64, lost, "{diff:#}");
    assert!(
        diff["lost"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] == "sql.injection-indicators")
    );
    assert!(diff["unchanged"].as_u64().unwrap() > 100);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn learn_writes_an_allowlist_that_tests_and_tunes_clean() {
    let o = laneguard(&["learn", "--corpus", "samples/"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("[allowlist]") && text.contains("[[allowlist.profiles.shapes]]"));
    // Learned from benign files only, and no literal of the corpus leaks into the rule.
    assert!(
        !text.contains("@example.com"),
        "a literal leaked into the learned rule"
    );
    let dir = pack_copy("learn");
    std::fs::write(dir.join("learned.unknown-statement-shape.toml"), &text).unwrap();
    let d = dir.display().to_string();
    let t = laneguard(&["test", "--rules", &d]);
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stdout));
    let (code, v) = tune_json(&["--rules", &d, "--max-fp", "0"]);
    assert_eq!(code, Some(0));
    let row = rule_row(&v, "learned.unknown-statement-shape").expect("the learned rule fires on attacks");
    assert_eq!(row["benign"], 0, "{row}");
    assert!(row["attack"].as_u64().unwrap() > 10, "{row}");
    assert_eq!(row["mode"], "shadow");
    std::fs::remove_dir_all(dir).unwrap();
}
