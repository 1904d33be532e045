//! Golden tests: every file of `samples/reference/` (real records) and `samples/envelopes/` (the
//! same records in every transport envelope) parses into the expected events, with no diagnostic.
//! Snapshots live in `tests/it/snapshots/`; review changes with `cargo insta review`.

use laneguard_core::input::InputOptions;

use crate::common::{repo, run_paths};

fn sample_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".py"))
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    files
}

fn golden(dir: &str, min_files: usize) {
    let files = sample_files(dir);
    assert!(files.len() >= min_files, "{dir}: {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let run = run_paths(&[file], InputOptions::default());
        if !run.diagnostics.is_empty() {
            failures.push(format!("{file}: {:#?}", run.diagnostics));
        }
        if run.events.is_empty() && run.stats.total_skipped() == 0 {
            failures.push(format!("{file}: no events"));
        }
        let name = file.replace('/', "__");
        insta::assert_snapshot!(name, run.events.join("\n"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reference_samples() {
    golden("samples/reference", 19);
}

#[test]
fn envelope_samples() {
    golden("samples/envelopes", 7);
}

/// Every statement of the audit sources carries its SQL analysis.
#[test]
fn audit_events_carry_sql_analysis() {
    let run = run_paths(&["samples/reference"], InputOptions::default());
    let mut statements = 0;
    for e in &run.events {
        let v: serde_json::Value = serde_json::from_str(e).unwrap();
        if v["kind"] == "statement" {
            statements += 1;
            let sql = &v["sql"];
            assert!(sql["class"].is_string(), "{e}");
            assert_eq!(sql["fingerprint"].as_str().map(str::len), Some(16), "{e}");
        }
    }
    assert!(statements > 100, "{statements}");
}

/// The whole `samples/` tree replays with no diagnostic and covers every source.
#[test]
fn all_samples_replay_cleanly() {
    let run = run_paths(&["samples"], InputOptions::default());
    assert!(run.diagnostics.is_empty(), "{:#?}", run.diagnostics);
    let s = &run.stats;
    assert_eq!(s.total_events() as usize, run.events.len());
    assert_eq!(s.findings as usize, run.findings.len());
    // Every source appears (Database Activity Streams: the User Guide's examples).
    assert_eq!(s.events.len(), 5, "{s:?}");
}
