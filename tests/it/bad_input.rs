//! Bad input never panics, never stops the run, and is always counted and located.

use laneguard_core::diagnostic::DiagnosticKind;
use laneguard_core::envelope::Limits;
use laneguard_core::input::InputOptions;

use crate::common::{gzip, run_bytes};

const GOOD: &str = "20261128 00:25:20,vm,app,10.0.16.5,5,6,QUERY,shop,'SELECT id FROM users WHERE id = 1',0";

fn kinds(run: &crate::common::Run) -> Vec<DiagnosticKind> {
    run.diagnostics.iter().map(|d| d.kind).collect()
}

#[test]
fn invalid_utf8_is_read_lossily_and_reported() {
    let mut bytes = GOOD.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n20261128 00:25:20,vm,app,10.0.16.5,5,7,QUERY,shop,'SELECT \xff\xfe',0\n");
    bytes.extend_from_slice(GOOD.as_bytes());
    let run = run_bytes("utf8.log", &bytes, InputOptions::default());
    assert_eq!(run.events.len(), 3);
    assert_eq!(kinds(&run), [DiagnosticKind::Utf8]);
    assert_eq!(run.diagnostics[0].origin.line, Some(2));
}

#[test]
fn truncated_gzip_keeps_what_was_read() {
    let text = format!("{GOOD}\n").repeat(2000);
    let z = gzip(text.as_bytes());
    let run = run_bytes("cut.log.gz", &z[..z.len() / 2], InputOptions::default());
    assert!(
        !run.events.is_empty() && run.events.len() < 2000,
        "{}",
        run.events.len()
    );
    assert_eq!(kinds(&run), [DiagnosticKind::Decompress]);
}

#[test]
fn gzip_bomb_is_capped() {
    let zeros = vec![b'a'; 32 << 20];
    let z = gzip(&zeros);
    let options = InputOptions {
        limits: Limits {
            max_stream: 1 << 20,
            ..Limits::default()
        },
        source: None,
        ..InputOptions::default()
    };
    let run = run_bytes("bomb.gz", &z, options);
    assert!(
        kinds(&run).contains(&DiagnosticKind::Decompress),
        "{:?}",
        run.diagnostics
    );
}

#[test]
fn base64_and_json_errors_in_envelopes() {
    let doc = br#"{"awslogs":{"data":"%%%not base64%%%"}}"#;
    let run = run_bytes("event.json", doc, InputOptions::default());
    assert_eq!(kinds(&run), [DiagnosticKind::Base64]);

    // A JSON-lines file with one broken line: the others are read.
    let ct = r#"{"eventVersion":"1.08","eventTime":"2024-08-01T12:38:06Z","eventSource":"rds.amazonaws.com","eventName":"DeleteDBInstance","userIdentity":{"type":"Root"}}"#;
    let text = format!("{ct}\n{{\"eventVersion\":\"1.03\",\"userIdentity\":{{\"type\":\"Root\"}}\n{ct}\n");
    let run = run_bytes("trail.jsonl", text.as_bytes(), InputOptions::default());
    assert_eq!(run.events.len(), 2);
    assert_eq!(kinds(&run), [DiagnosticKind::Json]);
    assert_eq!(run.diagnostics[0].origin.line, Some(2));
}

#[test]
fn a_one_megabyte_statement_is_analysed_within_bounds() {
    let big = "x".repeat(1_000_000);
    let line =
        format!("20261128 00:25:20,vm,app,10.0.16.5,5,6,QUERY,shop,'SELECT \\'{big}\\' FROM t',0\n{GOOD}\n");
    let run = run_bytes("big.log", line.as_bytes(), InputOptions::default());
    assert_eq!(run.events.len(), 2, "{:?}", run.diagnostics);
    assert!(run.events[0].len() > 1_000_000);
}

#[test]
fn a_ten_megabyte_line_is_skipped_and_reported() {
    let huge = "y".repeat(10 << 20);
    let text = format!("{GOOD}\n20261128 00:25:20,vm,app,10.0.16.5,5,6,QUERY,shop,'{huge}',0\n{GOOD}\n");
    let run = run_bytes("huge.log", text.as_bytes(), InputOptions::default());
    assert_eq!(run.events.len(), 2);
    assert_eq!(kinds(&run), [DiagnosticKind::TooLarge]);
    assert_eq!(run.diagnostics[0].origin.line, Some(2));
}

#[test]
fn empty_and_blank_files() {
    for bytes in [&b""[..], b"\n\n   \n", b"\xef\xbb\xbf"] {
        let run = run_bytes("empty.log", bytes, InputOptions::default());
        assert!(run.events.is_empty() && run.diagnostics.is_empty(), "{run:?}");
    }
}

#[test]
fn binary_garbage_is_diagnosed_not_fatal() {
    // A deterministic pseudo-random byte soup with NULs and newlines.
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..200_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x & 0xff) as u8
        })
        .collect();
    let run = run_bytes("garbage.bin", &bytes, InputOptions::default());
    assert!(run.events.is_empty());
    assert!(!run.diagnostics.is_empty());
    // The same soup gzip-wrapped.
    let run = run_bytes("garbage.bin.gz", &gzip(&bytes), InputOptions::default());
    assert!(!run.diagnostics.is_empty());
}

#[test]
fn malformed_records_of_every_source_are_located() {
    let cases: &[(&str, &str, DiagnosticKind)] = &[
        (
            "m.log",
            "20261128 00:25:20,vm,app,10.0.16.5,5,6,QUERY,shop,'unterminated,0",
            DiagnosticKind::Format,
        ),
        (
            "m.log",
            "20261128 00:25:20,vm,app,10.0.16.5,5,6,NOPE,shop,x,0",
            DiagnosticKind::Format,
        ),
        ("m.log", "20261128 00:25:20,vm,app", DiagnosticKind::UnknownSource),
        (
            "f.log",
            "2 123 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1",
            DiagnosticKind::Format,
        ),
        (
            "f.log",
            "2 123 eni-1 10.0.0.1 10.0.0.999 1 2 6 1 1 1418530010 1418530070 ACCEPT OK",
            DiagnosticKind::Field,
        ),
        (
            "p.log",
            "2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[1]:LOG:  AUDIT: SESSION,1",
            DiagnosticKind::Format,
        ),
        (
            "p.log",
            "2026-11-28 00:25:41 UTC:127.0.0.5(51159):app@shop:[1]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,\"SELECT 1",
            DiagnosticKind::Format,
        ),
        (
            "t.jsonl",
            r#"{"eventVersion":"1.08","eventTime":"2024","userIdentity":{}}"#,
            DiagnosticKind::Format,
        ),
        (
            "t.jsonl",
            r#"{"eventVersion":"1.08","eventTime":"yesterday","eventSource":"s3.amazonaws.com","eventName":"GetObject"}"#,
            DiagnosticKind::Timestamp,
        ),
    ];
    for (name, text, want) in cases {
        let body = format!("{text}\n");
        let run = run_bytes(name, body.as_bytes(), InputOptions::default());
        assert_eq!(kinds(&run), [*want], "{name}: {text}: {:?}", run.diagnostics);
        assert_eq!(run.diagnostics[0].origin.line, Some(1), "{text}");
        assert_eq!(run.diagnostics[0].origin.file.as_deref(), Some(*name));
    }
}

#[test]
fn oversized_log_event_in_a_payload() {
    let msg = "z".repeat(2 << 20);
    let payload = serde_json::json!({"messageType":"DATA_MESSAGE","logGroup":"/aws/rds/instance/db/audit","logStream":"db",
        "logEvents":[{"id":"1","timestamp":1,"message":msg},{"id":"2","timestamp":1,"message":GOOD}]});
    let run = run_bytes("p.json", payload.to_string().as_bytes(), InputOptions::default());
    assert_eq!(run.events.len(), 1);
    assert_eq!(kinds(&run), [DiagnosticKind::TooLarge]);
    assert_eq!(run.diagnostics[0].origin.event_id.as_deref(), Some("1"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    /// Whatever bytes arrive — built from the characters the formats are made of — reading them
    /// never panics, plain or gzipped.
    #[test]
    fn arbitrary_input_never_panics(text in "[{}\\[\\]\":,'\\\\ \\n\\tTZ0-9a-zé€𝄞#-]{0,300}") {
        let _ = run_bytes("fuzz.log", text.as_bytes(), InputOptions::default());
        let _ = run_bytes("fuzz.gz", &gzip(text.as_bytes()), InputOptions::default());
        let doc = format!("{{\"messageType\":\"DATA_MESSAGE\",\"logEvents\":[]}}{text}");
        let _ = run_bytes("fuzz.json", doc.as_bytes(), InputOptions::default());
    }
}
