//! `laneguard classify`: SQL in, one JSON line per statement out.
//!
//! A thin wrapper over the library: statements are split with the SQL lexer (so `;` inside
//! strings, comments and routine bodies does not split) and each goes through the same
//! `Analyzer` the event pipeline uses, so what this prints is exactly what rules see.

use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use laneguard_core::sql::{self, Analyzer, CatalogScope, Catalogs, Dialect, Flags, StatementClass};

use super::ClassifyArgs;

/// One output line.
#[derive(Serialize)]
struct Line<'a> {
    class: StatementClass,
    command: &'a str,
    objects: &'a [String],
    flags: Flags,
    #[serde(skip_serializing_if = "no_catalogs")]
    catalogs: Catalogs,
    #[serde(skip_serializing_if = "is_none")]
    catalog_scope: &'a CatalogScope,
    fingerprint: String,
    normalized: &'a str,
    family: String,
    family_normalized: &'a str,
}

fn no_catalogs(c: &Catalogs) -> bool {
    c.is_empty()
}

fn is_none(scope: &&CatalogScope) -> bool {
    **scope == CatalogScope::None
}

/// Reads the input (file, or stdin for none or `-`), prints one JSON line per statement.
pub fn run(args: &ClassifyArgs) -> anyhow::Result<ExitCode> {
    let dialect: Dialect = args.dialect.into();
    let mut bytes = Vec::new();
    match args.input.as_deref() {
        Some(p) if p.as_os_str() != "-" => {
            bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        }
        _ => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    classify_text(&text, dialect, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Classifies every statement of `text` and writes JSON lines to `out`.
pub fn classify_text(text: &str, dialect: Dialect, out: &mut impl Write) -> anyhow::Result<()> {
    let mut analyzer = Analyzer::new(1024);
    for stmt in sql::split_statements(text, dialect) {
        let a = analyzer.analyze(stmt, dialect);
        let line = Line {
            class: a.class,
            command: &a.command,
            objects: &a.objects,
            flags: a.flags,
            catalogs: a.catalogs,
            catalog_scope: &a.catalog_scope,
            fingerprint: format!("{:016x}", a.fingerprint),
            normalized: &a.normalized,
            family: format!("{:016x}", a.family),
            family_normalized: &a.family_normalized,
        };
        serde_json::to_writer(&mut *out, &line)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}
