//! What the fuzz targets share: a pipeline over in-memory bytes that keeps everything it
//! produced, and the invariants every run must hold (docs/FUZZING.md).

use laneguard_core::config::{Config, EngineOptions, Sources};
use laneguard_core::engine::Engine;
use laneguard_core::envelope::RecordSink;
use laneguard_core::event::{Event, EventJson, Source};
use laneguard_core::finding::Finding;
use laneguard_core::input::{self, InputOptions};
use laneguard_core::output::{FindingFormat, FindingWriter};
use laneguard_core::pipeline::{Output, Pipeline, Stats};
use laneguard_core::sources::ParseOptions;

/// The sources a selector byte picks from, in a fixed order so committed corpora keep meaning.
pub const SOURCES: [Option<Source>; 6] = [
    None,
    Some(Source::CloudTrail),
    Some(Source::MysqlAudit),
    Some(Source::Pgaudit),
    Some(Source::VpcFlow),
    Some(Source::Das),
];

/// Everything a run produced, rendered as a user would see it (no `--show-literals`).
#[derive(Default)]
pub struct Rendered {
    /// `--events` lines.
    pub events: String,
    /// Findings as JSON lines, then as OCSF lines, then as the table.
    pub findings: String,
    /// Diagnostics, as the summary prints them.
    pub diagnostics: String,
    /// The run's counters.
    pub stats: Stats,
    /// Findings raised.
    pub finding_count: usize,
}

#[derive(Default)]
struct Keep {
    events: String,
    findings: Vec<Finding>,
}

impl Output for Keep {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        let matched: Vec<&str> = matched.iter().map(String::as_str).collect();
        let json = EventJson {
            event,
            raw: false,
            matched: &matched,
        };
        if let Ok(line) = serde_json::to_string(&json) {
            self.events.push_str(&line);
            self.events.push('\n');
        }
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.findings.extend_from_slice(findings);
    }
}

/// An engine with the embedded policy and pack, compiled once per process (forked per run so
/// runs do not share detection state).
pub fn engine() -> Engine {
    thread_local! {
        static CONFIG: Config = Config::load(&Sources::embedded()).expect("the embedded configuration loads");
    }
    CONFIG.with(|c| c.fork().engine_with(&small_cache()))
}

/// A small SQL cache: a fresh engine per input must not allocate the default 16k-entry cache
/// (that alone divided the executions per second by ten).
fn small_cache() -> EngineOptions {
    EngineOptions {
        sql_cache: 64,
        ..EngineOptions::default()
    }
}

/// An engine without rules or policy (the parsers and the SQL analysis alone).
pub fn bare_engine() -> Engine {
    Engine::new(small_cache().sql_cache)
}

/// Run `bytes` through the whole pipeline as the file `name`, with `source` forced or detected,
/// and check the invariants that hold for any input.
pub fn run(name: &str, bytes: &[u8], source: Option<Source>, mut engine: Engine) -> Rendered {
    let parse = ParseOptions::default();
    let options = InputOptions {
        source,
        ..InputOptions::default()
    };
    let mut keep = Keep::default();
    let (stats, total_diagnostics, diagnostics) = {
        let mut pipeline = Pipeline::new(&parse, &mut engine, &mut keep);
        input::read_stream(name, bytes, &options, &mut pipeline);
        pipeline.end_stream();
        // The end of the input: sequence rules settle their absences, as a replay does.
        pipeline.finish(true);
        let total = pipeline.diagnostics().total();
        (
            pipeline.stats().clone(),
            total,
            pipeline.diagnostics_mut().take_kept(),
        )
    };
    check_accounting(&stats, total_diagnostics);
    let mut findings = Vec::new();
    for format in [FindingFormat::Json, FindingFormat::Ocsf, FindingFormat::Table] {
        let mut w = FindingWriter::new(&mut findings, format);
        w.write(&keep.findings).expect("findings render");
        w.flush().expect("findings render");
    }
    let mut rendered_diagnostics = String::new();
    for d in &diagnostics {
        rendered_diagnostics.push_str(&d.to_string());
        rendered_diagnostics.push('\n');
    }
    Rendered {
        events: keep.events,
        findings: String::from_utf8(findings).expect("rendered findings are UTF-8"),
        diagnostics: rendered_diagnostics,
        stats,
        finding_count: keep.findings.len(),
    }
}

/// Every record is an event, a deliberate skip or a diagnostic: nothing vanishes. (A record can
/// give several events — a CloudTrail archive, a DAS batch — so events may exceed records.)
fn check_accounting(stats: &Stats, diagnostics: u64) {
    let accounted = stats.total_events() + stats.total_skipped() + diagnostics;
    assert!(
        stats.records <= accounted,
        "records lost: {} records, {} events, {} skipped, {diagnostics} diagnostics",
        stats.records,
        stats.total_events(),
        stats.total_skipped(),
    );
}
