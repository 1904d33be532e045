//! Results a user can use (issue #14, item 3): `replay --ocsf-dir` lays OCSF findings out the way
//! Security Lake custom sources are partitioned, every line valid OCSF carrying the account and
//! region it is filed under; threshold findings carry the first and last event of their window;
//! `tune --compare` reads two such directories back and reports what a rule change did.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::cli::laneguard;
use crate::ocsf::Schemas;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("laneguard-lake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every file under `dir`, relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            out.push(p.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// `(region, account, day)` of a partition path `ext/<source>/region=…/accountId=…/eventDay=…/f`.
fn partition(rel: &Path, source: &str) -> (String, String, String) {
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(parts.len(), 6, "{}", rel.display());
    assert_eq!((parts[0], parts[1]), ("ext", source), "{}", rel.display());
    let value = |part: &str, key: &str| {
        part.strip_prefix(key)
            .unwrap_or_else(|| panic!("{}: {part} is not {key}…", rel.display()))
            .to_owned()
    };
    let name = parts[5];
    assert!(
        name.starts_with("laneguard-") && name.ends_with(".json"),
        "{}",
        rel.display()
    );
    (
        value(parts[2], "region="),
        value(parts[3], "accountId="),
        value(parts[4], "eventDay="),
    )
}

#[test]
fn replay_writes_security_lake_partitions_of_valid_ocsf() {
    let dir = scratch("samples");
    let d = dir.display().to_string();
    let o = laneguard(&[
        "replay",
        "samples/",
        "--ocsf-dir",
        &d,
        "--ocsf-source",
        "laneguard-db",
        "--no-progress",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // `--ocsf-dir` alone prints no findings on stdout; the summary counts what it wrote.
    assert!(o.stdout.is_empty());
    let plain = laneguard(&["replay", "samples/", "--format", "json", "--no-progress", "-q"]);
    let printed: BTreeSet<String> = String::from_utf8_lossy(&plain.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(printed.len() > 1000);

    let schemas = Schemas::load();
    let mut written = BTreeSet::new();
    let mut partitions = BTreeMap::new();
    let mut failures = Vec::new();
    let all = files(&dir);
    for rel in &all {
        let (region, account, day) = partition(rel, "laneguard-db");
        let text = std::fs::read_to_string(dir.join(rel)).unwrap();
        for (i, line) in text.lines().enumerate() {
            let at = format!("{}:{}", rel.display(), i + 1);
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{at}: {e}"));
            for e in schemas.errors(&v) {
                failures.push(format!("{at}: {e}"));
            }
            // Filed under the account, region and UTC day the record names.
            let want_region = v["cloud"]["region"].as_str().unwrap_or("unknown");
            let want_account = v["cloud"]["account"]["uid"].as_str().unwrap_or("unknown");
            let time = jiff::Timestamp::from_millisecond(v["time"].as_i64().unwrap()).unwrap();
            let want_day = jiff::tz::TimeZone::UTC
                .to_datetime(time)
                .strftime("%Y%m%d")
                .to_string();
            if (region.as_str(), account.as_str(), day.as_str())
                != (want_region, want_account, want_day.as_str())
            {
                failures.push(format!(
                    "{at}: in {region}/{account}/{day}, names {want_region}/{want_account}/{want_day}"
                ));
            }
            assert_eq!(v["class_uid"], 2004, "{at}");
            written.insert(v["finding_info"]["uid"].as_str().unwrap().to_owned());
            *partitions.entry((region.clone(), account.clone())).or_insert(0) += 1;
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every finding the plain replay prints, once.
    assert_eq!(written, printed);
    let summary = stderr(&o);
    assert!(
        summary.contains(&format!(
            "OCSF: {} findings in {} partition files",
            printed.len(),
            all.len()
        )),
        "{summary}"
    );
    // The samples name accounts and regions (CloudTrail, flow logs v5), accounts alone (flow
    // logs v2, subscription envelopes) and nothing (audit logs replayed from files).
    assert!(
        partitions.contains_key(&("unknown".to_owned(), "unknown".to_owned())),
        "{partitions:?}"
    );
    assert!(
        partitions.keys().any(|(r, a)| r == "us-east-1" && a != "unknown"),
        "{partitions:?}"
    );
    assert!(
        partitions.keys().any(|(r, a)| r == "unknown" && a != "unknown"),
        "{partitions:?}"
    );
    // A bad source name is a usage error.
    let o = laneguard(&[
        "replay",
        "samples/cloudtrail",
        "--ocsf-dir",
        &d,
        "--ocsf-source",
        "../x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Twelve failed logins from one application host: one 10 minutes before the burst (outside
/// the 5-minute window of `sql.brute-force-source`), then eleven 20 seconds apart. The tenth of
/// the burst completes the threshold.
fn burst_log() -> String {
    let mut lines =
        vec!["20261128 09:40:00,payments-db,app,10.0.16.9,5999,0,FAILED_CONNECT,,,1045".to_owned()];
    for i in 0..11 {
        let s = 20 * i;
        lines.push(format!(
            "20261128 09:{:02}:{:02},payments-db,app,10.0.16.9,{},0,FAILED_CONNECT,,,1045",
            50 + s / 60,
            s % 60,
            6000 + i
        ));
    }
    lines.join("\n") + "\n"
}

#[test]
fn a_threshold_finding_spans_its_window() {
    let dir = scratch("burst");
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("burst.log");
    std::fs::write(&log, burst_log()).unwrap();
    let l = log.display().to_string();
    let first = "2026-11-28T09:50:00Z";
    let last = "2026-11-28T09:53:00Z"; // the tenth of the burst, 9 × 20 s later
    let ms = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    // One thread (decided where detected), and several workers with tiny batches (decided in
    // the ordered merge): the same window.
    for threads in ["1", "2"] {
        let o = laneguard(&[
            "replay",
            &l,
            "--format",
            "json",
            "--threads",
            threads,
            "--batch-records",
            "3",
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let burst: Vec<Value> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|f| f["rule_id"] == "sql.brute-force-source")
            .collect();
        assert_eq!(burst.len(), 1, "threads {threads}: {burst:#?}");
        let f = &burst[0];
        assert_eq!(f["count"], 10, "{f}");
        assert_eq!(
            (f["first_seen"].as_str(), f["last_seen"].as_str()),
            (Some(first), Some(last)),
            "{f}"
        );
        assert_eq!(f["time"], last);
        // A single-event finding has no window.
        let single = laneguard(&["replay", "samples/cloudtrail", "--format", "json", "-q"]);
        let line = String::from_utf8_lossy(&single.stdout)
            .lines()
            .next()
            .unwrap()
            .to_owned();
        assert!(!line.contains("first_seen"), "{line}");
    }
    let o = laneguard(&["replay", &l, "--format", "ocsf", "-q"]);
    let f: Value = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["finding_info"]["analytic"]["uid"] == "sql.brute-force-source")
        .unwrap();
    assert_eq!(
        f["finding_info"]["first_seen_time"].as_i64(),
        Some(ms(first)),
        "{f}"
    );
    assert_eq!(
        f["finding_info"]["last_seen_time"].as_i64(),
        Some(ms(last)),
        "{f}"
    );
    assert!(Schemas::load().errors(&f).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_compares_two_partitioned_replays_by_finding_id() {
    let old = scratch("old");
    let new = scratch("new");
    // The candidate pack lacks one rule; both replays read the same archive.
    let candidate = scratch("pack");
    std::fs::create_dir_all(&candidate).unwrap();
    for e in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if name.ends_with(".toml") && name != "policy.toml" && name != "sql.injection-indicators.toml" {
            std::fs::copy(&p, candidate.join(&name)).unwrap();
        }
    }
    let (o, n, c) = (
        old.display().to_string(),
        new.display().to_string(),
        candidate.display().to_string(),
    );
    let run = |args: &[&str]| {
        let out = laneguard(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };
    run(&["replay", "samples/", "--ocsf-dir", &o, "-q"]);
    run(&["replay", "samples/", "--ocsf-dir", &n, "--rules", &c, "-q"]);
    let removed = files(&old)
        .iter()
        .map(|f| std::fs::read_to_string(old.join(f)).unwrap())
        .flat_map(|t| t.lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.contains("\"uid\":\"sql.injection-indicators\""))
        .count();
    assert!(removed > 0);

    let out = run(&["tune", "--compare", &o, &n, "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = &v["rules"]["sql.injection-indicators"];
    assert_eq!(rule["old"], removed, "{rule}");
    assert_eq!(
        (
            rule["new"].as_u64(),
            rule["gone"].as_u64(),
            rule["added"].as_u64()
        ),
        (Some(0), Some(removed as u64), Some(0))
    );
    assert_eq!(v["gone"].as_array().unwrap().len(), removed);
    assert!(
        v["gone"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["rule"] == "sql.injection-indicators" && !f["origin"].as_str().unwrap().is_empty())
    );
    assert_eq!(v["added"].as_array().unwrap().len(), 0);
    // Every other rule kept every finding: the ids are deterministic.
    for (id, r) in v["rules"].as_object().unwrap() {
        if id != "sql.injection-indicators" {
            assert_eq!(
                (r["old"].clone(), r["gone"].as_u64()),
                (r["kept"].clone(), Some(0)),
                "{id}: {r}"
            );
        }
    }
    // The table names the change; --fail-on-change makes it an exit code; a run against itself
    // is the same.
    let table = run(&["tune", "--compare", &o, &n]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains(&format!("{removed} gone")), "{text}");
    assert!(text.contains("  - sql.injection-indicators "), "{text}");
    let gate = laneguard(&["tune", "--compare", &o, &n, "--fail-on-change"]);
    assert_eq!(gate.status.code(), Some(1));
    let same = laneguard(&["tune", "--compare", &o, &o, "--fail-on-change"]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));
    // A directory without OCSF files, and a broken line, are errors with their coordinates.
    let empty = scratch("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = laneguard(&["tune", "--compare", &o, &empty.display().to_string()]);
    assert_eq!(e.status.code(), Some(1));
    assert!(stderr(&e).contains("no OCSF files"), "{}", stderr(&e));
    std::fs::write(empty.join("bad.json"), "{\"class_uid\":2004}\n{oops\n").unwrap();
    let e = laneguard(&["tune", "--compare", &o, &empty.display().to_string()]);
    assert!(stderr(&e).contains("bad.json:1:"), "{}", stderr(&e));
    for d in [old, new, candidate, empty] {
        std::fs::remove_dir_all(d).unwrap();
    }
}
