//! Test helpers: run the real pipeline over files or bytes and collect what it produced.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use laneguard_core::diagnostic::Diagnostic;
use laneguard_core::engine::Engine;
use laneguard_core::envelope::RecordSink;
use laneguard_core::envelope::das::DataKeys;
use laneguard_core::event::{Event, EventJson};
use laneguard_core::finding::Finding;
use laneguard_core::input::{self, InputOptions};
use laneguard_core::pipeline::{Output, Pipeline, Stats};
use laneguard_core::sources::ParseOptions;

/// What a run produced.
#[derive(Debug, Default)]
pub struct Run {
    /// Every event as one JSON line (raw text included, to check unescaping).
    pub events: Vec<String>,
    pub findings: Vec<Finding>,
    pub diagnostics: Vec<Diagnostic>,
    pub stats: Stats,
}

#[derive(Default)]
struct Collect {
    events: Vec<String>,
    findings: Vec<Finding>,
}

impl Output for Collect {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        let matched: Vec<&str> = matched.iter().map(String::as_str).collect();
        let json = EventJson {
            event,
            raw: true,
            matched: &matched,
        };
        self.events.push(serde_json::to_string(&json).unwrap());
    }
    fn findings(&mut self, findings: &[Finding]) {
        self.findings.extend_from_slice(findings);
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the pipeline over paths relative to the repository root (cargo runs tests there, and
/// origins in snapshots must not depend on where the checkout is).
pub fn run_paths(paths: &[&str], options: InputOptions) -> Run {
    run_paths_with(Engine::default(), paths, options)
}

/// [`run_paths`] with a configured engine (policy, detectors).
pub fn run_paths_with(engine: Engine, paths: &[&str], options: InputOptions) -> Run {
    run_paths_full(engine, &ParseOptions::default(), paths, options, None)
}

/// [`run_paths`] with every knob: the engine, parser options, and the data keys of encrypted
/// Database Activity Streams records.
pub fn run_paths_full(
    mut engine: Engine,
    parse: &ParseOptions,
    paths: &[&str],
    options: InputOptions,
    keys: Option<&mut dyn DataKeys>,
) -> Run {
    let mut out = Collect::default();
    let (stats, diagnostics) = {
        let mut pipeline = Pipeline::new(parse, &mut engine, &mut out);
        if let Some(keys) = keys {
            pipeline = pipeline.with_data_keys(keys);
        }
        let (inputs, errors) = input::expand(&paths.iter().map(PathBuf::from).collect::<Vec<_>>());
        assert!(errors.is_empty(), "{errors:?}");
        let counter = Arc::new(AtomicU64::new(0));
        for i in &inputs {
            input::read_input(i, &options, &mut pipeline, &counter).unwrap();
        }
        let stats = pipeline.stats().clone();
        (stats, pipeline.diagnostics_mut().take_kept())
    };
    Run {
        events: out.events,
        findings: out.findings,
        diagnostics,
        stats,
    }
}

/// Run the pipeline over in-memory bytes, as if they were a file called `name`.
pub fn run_bytes(name: &str, bytes: &[u8], options: InputOptions) -> Run {
    run_bytes_with(Engine::default(), name, bytes, options)
}

/// [`run_bytes`] with a configured engine (policy, detectors).
pub fn run_bytes_with(mut engine: Engine, name: &str, bytes: &[u8], options: InputOptions) -> Run {
    let mut out = Collect::default();
    let (stats, diagnostics) = {
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut out);
        input::read_stream(name, bytes, &options, &mut pipeline);
        pipeline.end_stream();
        let stats = pipeline.stats().clone();
        (stats, pipeline.diagnostics_mut().take_kept())
    };
    Run {
        events: out.events,
        findings: out.findings,
        diagnostics,
        stats,
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An [`Output`] that hands every event to a closure while the event is alive (events borrow
/// from the batch buffer, so renderers such as `laneguard_core::ocsf` must run inside the callback).
struct EachEvent<'f> {
    on_event: &'f mut dyn FnMut(&Event<'_>),
    findings: Vec<Finding>,
}

impl Output for EachEvent<'_> {
    fn event(&mut self, event: &Event<'_>, _matched: &[String]) {
        (self.on_event)(event);
    }
    fn findings(&mut self, findings: &[Finding]) {
        self.findings.extend_from_slice(findings);
    }
}

/// Run the pipeline over paths relative to the repository root, calling `on_event` for every
/// event; returns the findings of the default engine and the diagnostics.
pub fn for_each_event(
    paths: &[&str],
    options: InputOptions,
    on_event: &mut dyn FnMut(&Event<'_>),
) -> (Vec<Finding>, Vec<Diagnostic>) {
    let mut out = EachEvent {
        on_event,
        findings: Vec::new(),
    };
    let diagnostics = {
        let mut engine = Engine::default();
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut out);
        let (inputs, errors) = input::expand(&paths.iter().map(PathBuf::from).collect::<Vec<_>>());
        assert!(errors.is_empty(), "{errors:?}");
        let counter = Arc::new(AtomicU64::new(0));
        for i in &inputs {
            input::read_input(i, &options, &mut pipeline, &counter).unwrap();
        }
        pipeline.diagnostics_mut().take_kept()
    };
    (out.findings, diagnostics)
}
