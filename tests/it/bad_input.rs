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

// ---- Resource limits (issue #18, docs/FUZZING.md "Resource limits"): worst-case inputs per
// component finish with the work bounded by construction — no stack overflow, no quadratic
// blow-up, state capped — checked by what the run produced, never by a clock.

/// The full engine (embedded policy and pack) over `text`.
fn run_full(name: &str, text: &str) -> crate::common::Run {
    let engine = laneguard_core::config::Config::load(&laneguard_core::config::Sources::embedded())
        .unwrap()
        .engine();
    crate::common::run_bytes_with(engine, name, text.as_bytes(), InputOptions::default())
}

fn audit_line(statement: &str) -> String {
    format!("20261128 00:25:20,vm,app,10.0.16.5,5,6,QUERY,shop,'{statement}',0\n{GOOD}\n")
}

/// A CloudTrail record whose request nests 100,000 levels deep: the record is read (its request
/// is kept as raw text), a rule's JSON path into it finds nothing (serde_json's recursion limit
/// refuses the parse) — no stack overflow — and the next record is read.
#[test]
fn deeply_nested_json_is_read_not_a_crash() {
    let deep = format!("{}{}", "{\"a\":[".repeat(100_000), "]}".repeat(100_000));
    let record = format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-11-28T00:00:00Z","eventSource":"rds.amazonaws.com","eventName":"ModifyDBInstance","awsRegion":"eu-west-1","sourceIPAddress":"10.0.1.5","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/x"}},"requestParameters":{deep}}}"#
    );
    let good =
        std::fs::read_to_string(crate::common::repo().join("samples/reference/cloudtrail-records.jsonl"))
            .unwrap();
    let good = good.lines().next().unwrap();
    let run = run_full("deep.jsonl", &format!("{record}\n{good}\n"));
    assert_eq!(run.events.len(), 2, "{:?}", run.diagnostics);
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
}

/// 100,000 nested parentheses: the statement is lexed and classified (sqlparser is skipped
/// above paren depth 24, its recursion limit is 48), the full pack runs, the next line is read.
#[test]
fn deeply_nested_parentheses_are_bounded() {
    let nested = format!("SELECT {}1{} FROM t", "(".repeat(100_000), ")".repeat(100_000));
    let run = run_full("parens.log", &audit_line(&nested));
    assert_eq!(run.events.len(), 2, "{:?}", run.diagnostics);
    let first: serde_json::Value = serde_json::from_str(&run.events[0]).unwrap();
    assert!(
        first["sql"]["flags"].to_string().contains("too_long"),
        "{}",
        first["sql"]
    );
    assert_eq!(first["sql"]["class"], "DQL");
}

/// A 100,000-element IN list (900 kB) is beyond the 64 KiB parse bound and flagged; a
/// 6,000-element one (54 kB, under the bound) is parsed and collapses to one shape whatever its
/// length.
#[test]
fn huge_in_lists_are_bounded_and_collapse() {
    let list = |n: usize| {
        (0..n)
            .map(|i| (1_000_000 + i).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let huge = format!("SELECT * FROM customers WHERE id IN ({})", list(100_000));
    let run = run_full("in.log", &audit_line(&huge));
    assert_eq!(run.events.len(), 2, "{:?}", run.diagnostics);
    let first: serde_json::Value = serde_json::from_str(&run.events[0]).unwrap();
    assert!(first["sql"]["flags"].to_string().contains("too_long"));
    let shape = |n: usize| {
        let run = run_full(
            "in.log",
            &audit_line(&format!("SELECT * FROM customers WHERE id IN ({})", list(n))),
        );
        let v: serde_json::Value = serde_json::from_str(&run.events[0]).unwrap();
        (
            v["sql"]["fingerprint"].clone(),
            v["sql"]["flags"].clone(),
            v["sql"]["normalized"].clone(),
        )
    };
    let (a, flags, normalized) = shape(6_000);
    assert!(!flags.to_string().contains("too_long"), "{flags}");
    assert_eq!(normalized, "SELECT * FROM customers WHERE id IN (?+)");
    assert_eq!(shape(3).0, a);
}

/// Inputs built to make backtracking regex engines explode, against every regex and keyword of
/// the pack: the `regex` crate is linear in the input, and statements are lexed up to 64 KiB.
#[test]
fn pathological_regex_inputs_against_the_pack() {
    for body in [
        format!("SELECT '{}' FROM t", "a".repeat(60_000)),
        format!("SELECT * FROM t WHERE a LIKE '{}!'", "%a".repeat(30_000)),
        format!("SELECT {} FROM t", "0x41,".repeat(12_000)),
        format!("SELECT 1 {}", "/**/".repeat(15_000)),
        // A chain of binary operators is a tree as deep as the chain: above
        // `MAX_PARSE_OPERATORS` sqlparser is skipped (`too_deep`); just under it, the tree is
        // built, walked and dropped on this test thread's 2 MiB stack.
        format!("SELECT * FROM t WHERE a = 1 {}", "OR 1=1 ".repeat(8_000)),
        format!(
            "SELECT * FROM t WHERE a = 1 {}",
            "OR a=1 ".repeat(laneguard_core::sql::MAX_PARSE_OPERATORS / 2 - 1)
        ),
        format!(
            "SELECT * FROM t WHERE a = 1 {}",
            "AND a ".repeat(laneguard_core::sql::MAX_PARSE_OPERATORS - 2)
        ),
        format!(
            "SELECT 1{}",
            "+1".repeat(laneguard_core::sql::MAX_PARSE_OPERATORS - 1)
        ),
        format!("SELECT CHAR({})", "65,".repeat(20_000)),
        "\\\\".repeat(30_000),
    ] {
        let run = run_full("regex.log", &audit_line(&body.replace('\'', "\\'")));
        assert_eq!(run.events.len() + run.diagnostics.len(), 2, "{}", &body[..40]);
    }
}
