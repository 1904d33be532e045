//! Database Activity Streams without AWS: the decrypted documents AWS's decrypt samples and
//! Firehose pipelines store (one per line, back to back, gzip or not), the User Guide's examples
//! as golden events, and the rules that read what only the stream has. The encrypted records
//! (KMS on moto, the AWS Encryption SDK for Python) are in `aws/das.rs`.

use std::collections::BTreeSet;

use laneguard_core::config::{Config, Sources};
use laneguard_core::diagnostic::DiagnosticKind;
use laneguard_core::envelope::Skip;
use laneguard_core::event::Source;
use laneguard_core::input::InputOptions;
use laneguard_core::sources::ParseOptions;
use serde_json::Value;

use crate::common::{Run, gzip, repo, run_bytes_with, run_paths_full};

/// The six activity records of the Aurora User Guide, back to back as published.
pub const EXAMPLES: &str = "samples/reference/das-aurora-examples.json";
/// The example estate's payments application on Aurora PostgreSQL, decrypted (what
/// `tests/fixtures/das/make_fixtures.py` encrypts).
pub const PG_ACTIVITY: &str = "tests/fixtures/das/aurora-postgresql-activity.json";
/// The same on Aurora MySQL, with a MAIN + AUX pair.
pub const MYSQL_ACTIVITY: &str = "tests/fixtures/das/aurora-mysql-activity.json";

fn engine() -> laneguard_core::engine::Engine {
    Config::load(&Sources::embedded()).unwrap().engine()
}

fn run(paths: &[&str], keep_rdsadmin: bool) -> Run {
    let parse = ParseOptions {
        keep_rdsadmin,
        ..ParseOptions::default()
    };
    run_paths_full(engine(), &parse, paths, InputOptions::default(), None)
}

/// Rule ids of a run's findings, sorted, with multiplicity.
pub fn rule_ids(run: &Run) -> Vec<String> {
    let mut ids: Vec<String> = run.findings.iter().map(|f| f.rule_id.clone()).collect();
    ids.sort();
    ids
}

fn events(run: &Run) -> Vec<Value> {
    run.events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

/// The User Guide's examples, with `rdsadmin` kept: every field as the golden snapshot says
/// (the default run, which skips `rdsadmin`, is the `samples/reference` golden test).
#[test]
fn user_guide_examples_golden_with_rdsadmin_kept() {
    let kept = run(&[EXAMPLES], true);
    assert!(kept.diagnostics.is_empty(), "{:#?}", kept.diagnostics);
    assert_eq!(kept.events.len(), 6, "{:#?}", kept.events);
    insta::assert_snapshot!("das_examples_rdsadmin_kept", kept.events.join("\n"));
    let default = run(&[EXAMPLES], false);
    assert_eq!(default.events.len(), 2);
    assert_eq!(
        default.stats.skipped.get(&Skip::RdsAdmin),
        Some(&4),
        "{:?}",
        default.stats
    );
    // The non-rdsadmin ones: MySQL's CREATE TABLE and SELECT by `master`, dialect from serverType.
    for e in events(&default) {
        assert_eq!(e["source"], "das", "{e}");
        assert_eq!(e["actor"]["user"], "master", "{e}");
    }
}

/// What only the stream has reaches the event: rowCount, exitCode/errorMessage (a failure is
/// an event with `succeeded = false`), clientApplication, session and statement ids; numbers
/// as strings and nulls; the MySQL AUX record joined to its MAIN; heartbeats and rdsadmin
/// counted and skipped.
#[test]
fn activity_fields_and_noise() {
    let r = run(&[PG_ACTIVITY, MYSQL_ACTIVITY], false);
    assert!(r.diagnostics.is_empty(), "{:#?}", r.diagnostics);
    assert_eq!(r.stats.events.get(&Source::Das), Some(&(r.events.len() as u64)));
    assert_eq!(r.stats.skipped.get(&Skip::Heartbeat), Some(&2), "{:?}", r.stats);
    assert_eq!(r.stats.skipped.get(&Skip::RdsAdmin), Some(&1), "{:?}", r.stats);
    assert_eq!(r.stats.skipped.get(&Skip::AuxJoined), Some(&1), "{:?}", r.stats);
    let ev = events(&r);
    let find = |text: &str| {
        ev.iter()
            .find(|e| e["statement"]["text"].as_str().is_some_and(|t| t.contains(text)))
            .unwrap_or_else(|| panic!("no event with {text:?}: {ev:#?}"))
    };
    let cards = find("SELECT pan, expiry FROM cards");
    assert_eq!(cards["statement"]["rows"], 5000, "{cards}");
    assert_eq!(cards["statement"]["succeeded"], true, "{cards}");
    assert_eq!(cards["actor"]["user_agent"], "PostgreSQL JDBC Driver", "{cards}");
    assert_eq!(cards["actor"]["session"], "65a1c2d3.4e5f", "{cards}");
    assert_eq!(cards["statement"]["statement_id"], 2, "{cards}");
    assert_eq!(cards["sql"]["class"], "DQL", "{cards}");
    // rowCount "1" (a string) is a number of rows.
    assert_eq!(find("WHERE id = $1")["statement"]["rows"], 1);
    let syntax = find("WHERE id = 1'");
    assert_eq!(syntax["statement"]["succeeded"], false, "{syntax}");
    assert!(syntax["statement"]["exit_code"].is_string(), "{syntax}");
    let mysql_union = find("UNION SELECT 1,2");
    assert_eq!(mysql_union["statement"]["return_code"], 1222, "{mysql_union}");
    assert_eq!(mysql_union["statement"]["succeeded"], false, "{mysql_union}");
    let joined = find("INSERT INTO audit_copy");
    assert_eq!(
        joined["statement"]["object_name"], "audit_copy,payment_methods",
        "{joined}"
    );
}

/// The rules that read what only DAS has fire on the decrypted activity of the example
/// estate, together with the existing SQL rules and policy checks.
#[test]
fn rules_on_activity() {
    let r = run(&[PG_ACTIVITY, MYSQL_ACTIVITY], false);
    let ids: BTreeSet<String> = rule_ids(&r).into_iter().collect();
    for expected in [
        "das.error-probing",
        "sql.large-result-set",
        "sql.unusual-client-application",
        "pg.program-exec",
        "sql.into-outfile",
    ] {
        assert!(ids.contains(expected), "{expected} missing from {ids:?}");
    }
    // Two sessions probe (one per engine), each one finding.
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.rule_id == "das.error-probing")
            .count(),
        2,
        "{ids:?}"
    );
}

/// Decrypted documents one per line, back to back (Firehose), gzip or not, yield the same
/// events and findings as the documents one per file.
#[test]
fn decrypted_documents_in_every_framing() {
    let files = [EXAMPLES, PG_ACTIVITY, MYSQL_ACTIVITY];
    let reference = run(&files, false);
    assert!(reference.diagnostics.is_empty(), "{:#?}", reference.diagnostics);
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(repo().join(f)).unwrap();
        for doc in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
            docs.push(serde_json::to_string(&doc.unwrap()).unwrap());
        }
    }
    assert_eq!(docs.len(), 6 + 2);
    let lines = docs.join("\n") + "\n";
    let back_to_back = docs.concat();
    for (name, bytes) in [
        ("lines.json", lines.as_bytes().to_vec()),
        ("concatenated.json", back_to_back.as_bytes().to_vec()),
        ("lines.json.gz", gzip(lines.as_bytes())),
        ("concatenated.json.gz", gzip(back_to_back.as_bytes())),
    ] {
        let r = run_bytes_with(engine(), name, &bytes, InputOptions::default());
        assert!(r.diagnostics.is_empty(), "{name}: {:#?}", r.diagnostics);
        assert_eq!(r.events.len(), reference.events.len(), "{name}");
        assert_eq!(rule_ids(&r), rule_ids(&reference), "{name}");
        assert_eq!(r.stats.skipped, reference.stats.skipped, "{name}");
    }
}

/// Bad decrypted input: a document that is not JSON, an element that is not an object, an
/// unknown activity type — each a counted diagnostic; the rest of the document and the batch
/// are processed.
#[test]
fn bad_decrypted_documents_are_diagnostics() {
    let good = std::fs::read_to_string(repo().join(PG_ACTIVITY)).unwrap();
    let doc: Value = serde_json::from_str(&good).unwrap();
    let mut broken = doc.clone();
    let list = broken["databaseActivityEventList"].as_array_mut().unwrap();
    list.insert(1, Value::from(7));
    list.insert(2, serde_json::json!({"type": "surprise", "class": "READ"}));
    let input = format!(
        "{}\n{{\"type\":\"DatabaseActivityMonitoringRecord\",\"databaseActivityEventList\":[{{\"type\":\"record\",\n{}\n",
        serde_json::to_string(&broken).unwrap(),
        serde_json::to_string(&doc).unwrap()
    );
    let r = run_bytes_with(engine(), "bad.json", input.as_bytes(), InputOptions::default());
    let reference = run(&[PG_ACTIVITY], false);
    assert_eq!(r.events.len(), 2 * reference.events.len(), "{:#?}", r.diagnostics);
    let kinds: Vec<DiagnosticKind> = r.diagnostics.iter().map(|d| d.kind).collect();
    assert!(kinds.len() >= 3, "{:#?}", r.diagnostics);
    assert!(kinds.contains(&DiagnosticKind::Json), "{kinds:?}");
    assert!(kinds.contains(&DiagnosticKind::Format), "{kinds:?}");
}
