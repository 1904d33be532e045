//! Envelope forms beyond the samples: documented AWS fixtures whose payloads are not database
//! logs, multi-member gzip, and origins that find the record again.

use laneguard_core::diagnostic::DiagnosticKind;
use laneguard_core::event::Source;
use laneguard_core::input::InputOptions;

use crate::common::{gzip, run_bytes, run_paths};

#[test]
fn aws_fixtures_decode_and_report_what_is_not_a_database_log() {
    // The Lambda fixture decodes to two "[ERROR] … test message" events: not a database log.
    let run = run_paths(
        &["tests/fixtures/cwl-subscription-lambda-event.json"],
        InputOptions::default(),
    );
    assert!(run.events.is_empty());
    assert_eq!(run.diagnostics.len(), 2);
    assert!(
        run.diagnostics
            .iter()
            .all(|d| d.kind == DiagnosticKind::UnknownSource)
    );
    assert_eq!(run.diagnostics[1].origin.event_id.as_deref(), Some("eventId2"));
    assert_eq!(
        run.diagnostics[1].origin.log_group.as_deref(),
        Some("testLogGroup")
    );

    // The decoded payloads: the docs' truncated CloudTrail messages are JSON diagnostics, the
    // Aurora lines under placeholder CloudTrail group names are recognised by content, the
    // control message is acknowledged.
    let run = run_paths(
        &["tests/fixtures/cwl-subscription-decoded.jsonl"],
        InputOptions::default(),
    );
    assert_eq!(run.stats.events.get(&Source::MysqlAudit), Some(&3));
    assert_eq!(run.stats.events.get(&Source::VpcFlow), Some(&2));
    let json = run
        .diagnostics
        .iter()
        .filter(|d| d.kind == DiagnosticKind::Json)
        .count();
    assert_eq!(json, 6);
    assert_eq!(run.stats.total_skipped(), 1);

    // Kinesis and Firehose fixtures carry "Hello World", not a log: one diagnostic per record.
    for f in [
        "tests/fixtures/kinesis-lambda-event.json",
        "tests/fixtures/firehose-transform-event.json",
    ] {
        let run = run_paths(&[f], InputOptions::default());
        assert_eq!(run.diagnostics.len(), 2, "{f}: {:?}", run.diagnostics);
        assert!(
            run.diagnostics
                .iter()
                .all(|d| d.kind == DiagnosticKind::UnknownSource)
        );
    }
}

#[test]
fn forced_source_reads_placeholder_timestamps_with_warnings() {
    // The audit plugin's regression output has TIME/HOSTNAME placeholders: forced to
    // mysql-audit, every line is an event and every timestamp a diagnostic.
    let options = InputOptions {
        source: Some(Source::MysqlAudit),
        ..InputOptions::default()
    };
    let run = run_paths(&["tests/fixtures/mysql-audit-rds-plugin-test.log"], options);
    assert_eq!(run.events.len(), 35);
    assert_eq!(run.diagnostics.len(), 35);
    assert!(
        run.diagnostics
            .iter()
            .all(|d| d.kind == DiagnosticKind::Timestamp)
    );
}

#[test]
fn multi_member_gzip_of_plain_lines() {
    let a = "2 123456789010 eni-1 10.0.0.1 10.0.0.2 443 5432 6 1 40 1418530010 1418530070 ACCEPT OK\n";
    let b = "2 123456789010 eni-1 10.0.0.3 10.0.0.2 444 5432 6 1 40 1418530010 1418530070 REJECT OK\n";
    let mut bytes = gzip(a.as_bytes());
    bytes.extend(gzip(b.as_bytes()));
    let run = run_bytes("flows.log.gz", &bytes, InputOptions::default());
    assert_eq!(run.events.len(), 2);
    assert!(run.diagnostics.is_empty());
    assert!(run.events[1].contains("\"line\":2"), "{}", run.events[1]);
}

#[test]
fn cloudtrail_archive_origins_point_at_record_lines() {
    let run = run_paths(
        &["samples/reference/cloudtrail-s3-archive-insights.json"],
        InputOptions::default(),
    );
    assert_eq!(run.stats.total_skipped(), 2);
    let run = run_paths(
        &["samples/reference/cloudtrail-s3-archive-ec2.json"],
        InputOptions::default(),
    );
    assert_eq!(run.events.len(), 1);
    assert!(
        run.events[0].contains(
            r#""origin":{"file":"samples/reference/cloudtrail-s3-archive-ec2.json","line":1,"index":0}"#
        ),
        "{}",
        run.events[0]
    );
}

#[test]
fn postgres_multi_line_entries_keep_their_first_line() {
    let text = "2026-11-28 00:25:45 UTC:127.0.0.5(53729):app@shop:[20391]:LOG:  AUDIT: SESSION,3,1,READ,SELECT,TABLE,public.tmp_t,\"SELECT a,\n2026-11-28 00:25:45 UTC:fake(1):x@y:[1]:LOG:  not a new entry: inside quotes\n\t  FROM tmp_t\",<none>\n2026-11-28 00:25:45 UTC:127.0.0.5(53729):app@shop:[20391]:LOG:  AUDIT: SESSION,4,1,WRITE,TRUNCATE TABLE,,,TRUNCATE tmp_t,<none>\n";
    let run = run_bytes("pg.log", text.as_bytes(), InputOptions::default());
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
    assert_eq!(run.events.len(), 2);
    assert!(run.events[0].contains("not a new entry"), "{}", run.events[0]);
    assert!(run.events[1].contains("\"line\":4"), "{}", run.events[1]);
}

/// CloudWatch Logs exports to S3 (CreateExportTask) write `<event time> <message>` lines, gzip:
/// the prefix is stripped, multi-line PostgreSQL messages stay together, and the export time
/// stands in for records without their own.
#[test]
fn cloudwatch_logs_export_objects() {
    let pg = "2026-11-28T00:25:45.000Z 2026-11-28 00:25:45 UTC:127.0.0.5(53729):app@shop:[20391]:LOG:  AUDIT: SESSION,3,1,READ,SELECT,TABLE,public.tmp_t,\"SELECT a,\n\t       a * 2 AS doubled\n\t  FROM tmp_t\",<none>\n\
2026-11-28T00:25:45.000Z 2026-11-28 00:25:45 UTC:127.0.0.5(53729):app@shop:[20391]:LOG:  AUDIT: SESSION,5,1,DDL,DROP TABLE,,,DROP TABLE tmp_t,<none>\n";
    let run = run_bytes("000000.gz", &gzip(pg.as_bytes()), InputOptions::default());
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
    assert_eq!(run.events.len(), 2);
    assert!(run.events[0].contains("a * 2 AS doubled"), "{}", run.events[0]);
    assert!(run.events[1].contains("\"line\":4"), "{}", run.events[1]);
    let mysql = "2026-11-28T00:25:20.000Z 20261128 00:25:20,vm,app,127.0.0.5,5,7,QUERY,shop,'UPDATE users SET email=\\'x@example.com\\' WHERE id=2',0\n\
2026-11-28T00:25:21.000Z TIME,HOSTNAME,root,localhost,CONNECTION_ID,QUERY_ID,QUERY,,'select 1',0,,\n";
    let options = InputOptions {
        source: Some(laneguard_core::event::Source::MysqlAudit),
        ..InputOptions::default()
    };
    let run = run_bytes("export.log", mysql.as_bytes(), options);
    assert_eq!(run.events.len(), 2);
    // The placeholder timestamp falls back to the export's event time (with a diagnostic).
    assert_eq!(run.diagnostics.len(), 1);
    assert!(
        run.events[1].contains("\"time\":\"2026-11-28T00:25:21Z\""),
        "{}",
        run.events[1]
    );
}
