//! The whole pipeline with the embedded policy and pack: bytes in, findings out.
//!
//! Half of the inputs are files as they come (the first byte picks a source or detection).
//! The other half are statements: the fuzz text follows a fixed prefix holding a canary literal
//! (a string, a number, a hex or dollar-quoted literal, an e-mail address), wrapped in a MariaDB
//! audit line or a pgaudit entry; whatever the text after it does, the canary is a literal, so
//! it must not appear in any rendered event, finding (JSON, OCSF, table) or diagnostic.
#![no_main]

use laneguard_core::event::Source;
use libfuzzer_sys::fuzz_target;

/// Statement prefixes and the canary each carries, written so that nothing after them can
/// change how the canary is lexed.
const PREFIXES: [(&str, &str); 6] = [
    ("SELECT 'Zq9Canary7x', ", "Zq9Canary7x"),
    (
        "SELECT * FROM customers WHERE card = '4111111111111111' AND ",
        "4111111111111111",
    ),
    (
        "INSERT INTO users (email) VALUES ('zq9.canary@example.org') ",
        "zq9.canary@example.org",
    ),
    ("UPDATE accounts SET balance = 7919793311 WHERE ", "7919793311"),
    ("SELECT X'5A71394361' ", "5A71394361"),
    ("SELECT $$Zq9DollarCanary$$, ", "Zq9DollarCanary"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector & 1 == 0 {
        let source = laneguard_fuzz::SOURCES[usize::from(selector >> 1) % laneguard_fuzz::SOURCES.len()];
        laneguard_fuzz::run("fuzz.log", rest, source, laneguard_fuzz::engine());
        return;
    }
    let (prefix, canary) = PREFIXES[usize::from(selector >> 2) % PREFIXES.len()];
    let text = String::from_utf8_lossy(rest);
    let statement = format!("{prefix}{text}");
    let (file, source) = if selector & 2 == 0 {
        (mysql_line(&statement), Source::MysqlAudit)
    } else {
        (pgaudit_entry(&statement), Source::Pgaudit)
    };
    let out = laneguard_fuzz::run(
        "fuzz.log",
        file.as_bytes(),
        Some(source),
        laneguard_fuzz::engine(),
    );
    for (what, rendered) in [
        ("events", &out.events),
        ("findings", &out.findings),
        ("diagnostics", &out.diagnostics),
    ] {
        assert!(
            !rendered.contains(canary),
            "the literal {canary:?} leaked into the {what}:\n{rendered}"
        );
    }
});

/// A MariaDB `server_audit` QUERY line: the statement quoted, `'` and `\` escaped, line breaks
/// written as `\n` as the plugin does.
fn mysql_line(statement: &str) -> String {
    let mut q = String::with_capacity(statement.len() + 8);
    for c in statement.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '\'' => q.push_str("\\'"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            _ => q.push(c),
        }
    }
    format!("20261128 00:25:20,vm,app,10.0.1.5,5,4,QUERY,shop,'{q}',0\n")
}

/// A pgaudit entry with RDS's log line prefix: the statement as a CSV field (`"` doubled), its
/// line breaks kept (the entry's continuation lines).
fn pgaudit_entry(statement: &str) -> String {
    let q = statement.replace('"', "\"\"");
    format!(
        "2026-11-28 00:25:41 UTC:10.0.1.5(40000):app@shop:[20008]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,\"{q}\",<not logged>\n"
    )
}
