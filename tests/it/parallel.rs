//! `replay --threads N` gives what `--threads 1` gives (issue #17): the same findings, events,
//! OCSF records, counts and diagnostics, in the same order — on the samples (including the
//! recorded application traffic, whose PostgreSQL logs pair `ERROR` and `STATEMENT` lines) and,
//! from tests/it/e2e.rs, on the logs the live MariaDB and PostgreSQL servers write.
//!
//! Tiny batches (`--batch-records 1`, `3`) cut every stream at every record, so a PostgreSQL
//! error and its statement, a flow-log header and its records, and the events of one threshold
//! window land on different workers; more workers than cores make them finish out of order.

use std::path::Path;
use std::process::Command;

use crate::common::repo;

/// stdout and the summary line (without the timing) of `laneguard replay ARGS PATHS`.
fn replay(paths: &[&Path], args: &[&str]) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .arg("replay")
        .args(args)
        .args(paths)
        .current_dir(repo())
        .output()
        .expect("run laneguard replay");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "laneguard replay {args:?} crashed: {stderr}"
    );
    // The timing at the end of the summary differs from run to run.
    let summary = stderr
        .lines()
        .map(|l| match l.find("; ") {
            Some(i) if l.starts_with("laneguard replay:") => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    (String::from_utf8_lossy(&out.stdout).into_owned(), summary)
}

/// Replays `paths` single-threaded and in parallel with several batch sizes and thread counts
/// and asserts the outputs are byte for byte the same. Returns the single-threaded findings.
pub(crate) fn assert_parallel_is_single(paths: &[&Path]) -> String {
    let modes: &[&[&str]] = &[
        &["--format", "json"],
        &["--format", "ocsf"],
        &["--events"],
        &["--events", "--show-literals"],
    ];
    let mut findings = String::new();
    for mode in modes {
        let single: Vec<&str> = [*mode, &["--threads", "1"]].concat();
        let (want_out, want_summary) = replay(paths, &single);
        assert!(!want_out.is_empty(), "{paths:?} {mode:?}: nothing to compare");
        if findings.is_empty() {
            findings.clone_from(&want_out);
        }
        for (threads, batch) in [("2", "1"), ("3", "3"), ("4", "2048")] {
            let args: Vec<&str> = [*mode, &["--threads", threads, "--batch-records", batch]].concat();
            let (out, summary) = replay(paths, &args);
            if out != want_out {
                let first = want_out
                    .lines()
                    .zip(out.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(want_out.lines().count().min(out.lines().count()));
                panic!(
                    "{paths:?} {args:?}: output differs from --threads 1 at line {}:\n  single:   {}\n  parallel: {}",
                    first + 1,
                    want_out.lines().nth(first).unwrap_or("<end>"),
                    out.lines().nth(first).unwrap_or("<end>")
                );
            }
            assert_eq!(summary, want_summary, "{paths:?} {args:?}: summary differs");
        }
    }
    findings
}

#[test]
fn parallel_replay_of_the_samples_is_the_single_threaded_replay() {
    let samples = repo().join("samples");
    let findings = assert_parallel_is_single(&[&samples]);
    // The comparison is worth something only if the samples raise threshold and suppressed
    // findings (decided by the merger) as well as plain ones.
    for rule in [
        "sql.error-burst",
        "flow.db-port-reject-burst",
        "sql.restricted-paging",
    ] {
        assert!(
            findings.contains(&format!("\"rule_id\":\"{rule}\"")),
            "the samples no longer raise {rule}"
        );
    }
}

#[test]
fn a_postgres_error_and_its_statement_pair_across_batches() {
    let dir = std::env::temp_dir().join(format!("laneguard-parallel-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("postgresql.log");
    // The ERROR and its STATEMENT are one record apart: with one record per batch, the
    // statement is parsed by another worker than the one that saw the error.
    std::fs::write(
        &log,
        "2026-03-02 10:00:00 UTC:10.0.1.5(50000):app@shop:[4242]:ERROR:  permission denied for table cards\n\
         2026-03-02 10:00:00 UTC:10.0.1.5(50000):app@shop:[4242]:STATEMENT:  SELECT * FROM cards\n\
         2026-03-02 10:00:01 UTC:10.0.1.5(50000):app@shop:[4243]:STATEMENT:  SELECT 1\n",
    )
    .unwrap();
    let (single, _) = replay(&[&log], &["--events", "--threads", "1"]);
    assert_eq!(single.lines().count(), 1, "one failed statement: {single}");
    assert!(
        single.contains(r#""engine_class":"ERROR","succeeded":false"#)
            && single.contains("SELECT * FROM cards"),
        "{single}"
    );
    let (parallel, _) = replay(&[&log], &["--events", "--threads", "2", "--batch-records", "1"]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(parallel, single);
}
