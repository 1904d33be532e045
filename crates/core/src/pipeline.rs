//! The pipeline: records in, events and findings out — shared by every entry point.
//!
//! `envelope` → [`Pipeline`] (a [`RecordSink`]) → source parser → [`Engine`] → [`Output`].
//! It counts everything ([`Stats`]) and turns every unreadable record into a diagnostic, so a run
//! can always say what it read, what it skipped and why.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diagnostic::{Diagnostic, DiagnosticKind, Diagnostics};
use crate::engine::Engine;
use crate::envelope::das::{self, DataKeys};
use crate::envelope::{DocContext, RawRecord, RecordSink, SealedRecord, Skip, decode_opened};
use crate::event::{Event, Origin, Source};
use crate::finding::Finding;
use crate::sources::{self, FlowFormat, ParseError, ParseOptions, Parsed, Parsers, Warnings};

/// Receives what the pipeline produces.
pub trait Output {
    /// Every event, analysed, with the ids of the rules it matched.
    fn event(&mut self, event: &Event<'_>, matched: &[String]);
    /// Findings of one event.
    fn findings(&mut self, findings: &[Finding]);
    /// The end of a stream (a file, an S3 object, a batch): write out what is buffered, so that
    /// a checkpoint written after it never names a stream whose findings are still in memory.
    fn flush(&mut self) {}

    /// Findings of one event of which some are still subject to `decisions` (an engine that
    /// leaves stateful decisions to an ordered merge, [`Engine::order_decisions`]). Only the
    /// workers of a parallel run ([`crate::parallel`]) see this; the default, for outputs of an
    /// engine that decides itself, never runs.
    fn undecided(&mut self, findings: &[Finding], decisions: &[crate::detector::Decision]) {
        debug_assert!(
            decisions.is_empty(),
            "an ordered engine needs an output that merges"
        );
        self.findings(findings);
    }
}

/// Counters of a run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    /// Records handed to the pipeline.
    pub records: u64,
    /// Events produced, by source.
    pub events: BTreeMap<Source, u64>,
    /// Records skipped on purpose, by reason.
    pub skipped: BTreeMap<Skip, u64>,
    /// Findings raised.
    pub findings: u64,
}

impl Stats {
    /// Total events.
    pub fn total_events(&self) -> u64 {
        self.events.values().sum()
    }

    /// Total skipped records.
    pub fn total_skipped(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// Parses, analyses and detects, record by record, for one run or batch. It borrows the
/// [`Engine`], whose caches and detection state outlive it (a warm Lambda container keeps them
/// across invocations; a replay uses one engine for all its inputs).
pub struct Pipeline<'p> {
    parsers: Parsers,
    engine: &'p mut Engine,
    output: &'p mut dyn Output,
    stats: Stats,
    diagnostics: Diagnostics,
    warnings: Warnings,
    findings: Vec<Finding>,
    matched: Vec<String>,
    decisions: Vec<crate::detector::Decision>,
    /// Where encrypted Database Activity Streams records get their data keys (none: they are
    /// diagnostics).
    keys: Option<&'p mut dyn DataKeys>,
}

impl std::fmt::Debug for Pipeline<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<'p> Pipeline<'p> {
    /// A pipeline running `engine` and writing to `output`.
    pub fn new(options: &ParseOptions, engine: &'p mut Engine, output: &'p mut dyn Output) -> Self {
        Pipeline {
            parsers: Parsers::new(options),
            engine,
            output,
            stats: Stats::default(),
            diagnostics: Diagnostics::default(),
            warnings: Vec::new(),
            findings: Vec::new(),
            matched: Vec::new(),
            decisions: Vec::new(),
            keys: None,
        }
    }

    /// Settle what waits for the end of a batch (`end_of_input` false: absences whose window
    /// and lateness have passed the newest event time seen) or of the whole input (true: every
    /// absence — a replay calls this once, after its last input), and hand the findings out.
    pub fn finish(&mut self, end_of_input: bool) {
        self.findings.clear();
        self.engine.finish(end_of_input, &mut self.findings);
        if !self.findings.is_empty() {
            self.stats.findings += self.findings.len() as u64;
            self.output.findings(&self.findings);
        }
    }

    /// Continue a stream another parser started (see [`Parsers::carry`]): the parallel
    /// workers' pipelines start each batch with the parser state at its start.
    pub fn resume(&mut self, carry: sources::StreamCarry) {
        self.parsers.resume(carry);
    }

    /// Open encrypted Database Activity Streams records with data keys from `keys` (KMS through
    /// the AWS crate, or keys resolved before the run).
    pub fn with_data_keys(mut self, keys: &'p mut dyn DataKeys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Counters so far.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Diagnostics so far.
    pub fn diagnostics(&self) -> &Diagnostics {
        &self.diagnostics
    }

    /// Diagnostics so far, mutable (to take the kept ones).
    pub fn diagnostics_mut(&mut self) -> &mut Diagnostics {
        &mut self.diagnostics
    }

    fn handle(&mut self, record: &RawRecord<'_>) {
        self.stats.records += 1;
        let source = match record.source {
            Some(s) => s,
            None => match sources::detect(record.origin.log_group, record.text, self.parsers.pg_prefix()) {
                Some(s) => s,
                None => {
                    self.diagnostics.report(
                        DiagnosticKind::UnknownSource,
                        &record.origin,
                        format!(
                            "cannot tell the source of this record (starts {:?}); use --source",
                            sources::truncate_for_message(record.text.trim_start(), 48)
                        ),
                    );
                    return;
                }
            },
        };
        self.warnings.clear();
        let parsed = self.parsers.parse(source, record, &mut self.warnings);
        for (kind, reason) in self.warnings.drain(..) {
            self.diagnostics.report(kind, &record.origin, reason);
        }
        match parsed {
            Ok(Parsed::Many(outcomes)) => {
                for o in outcomes {
                    self.outcome(source, &o.origin, o.parsed);
                }
            }
            other => self.outcome(source, &record.origin, other),
        }
    }

    /// One parse outcome: an event analysed, detected and handed out; a skip counted; an
    /// unreadable record (or element) a diagnostic.
    fn outcome(&mut self, source: Source, origin: &Origin<'_>, parsed: Result<Parsed<'_>, ParseError>) {
        match parsed {
            Ok(Parsed::Event(mut event)) => {
                *self.stats.events.entry(source).or_default() += 1;
                self.findings.clear();
                self.matched.clear();
                self.engine
                    .process(&mut event, &mut self.findings, &mut self.matched);
                self.engine.take_decisions(&mut self.decisions);
                self.stats.findings += self.findings.len() as u64;
                self.output.event(&event, &self.matched);
                if !self.decisions.is_empty() {
                    self.output.undecided(&self.findings, &self.decisions);
                    self.decisions.clear();
                } else if !self.findings.is_empty() {
                    self.output.findings(&self.findings);
                }
            }
            Ok(Parsed::Skip(reason)) => self.skipped(reason, origin),
            Ok(Parsed::Many(_)) => self.diagnostics.report(
                DiagnosticKind::Format,
                origin,
                "records nested in an element of a record",
            ),
            Err(e) => self.diagnostics.report(e.kind, origin, e.reason),
        }
    }
}

impl RecordSink for Pipeline<'_> {
    fn record(&mut self, record: RawRecord<'_>) {
        self.handle(&record);
    }

    fn skipped(&mut self, reason: Skip, _origin: &Origin<'_>) {
        *self.stats.skipped.entry(reason).or_default() += 1;
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// An encrypted activity record: opened with the pipeline's data keys, then read as the
    /// document it holds; a record that cannot be opened is a diagnostic naming its Kinesis
    /// sequence number (or a deferred skip), and the batch goes on.
    fn sealed(&mut self, record: SealedRecord<'_>, ctx: &DocContext) {
        // The encrypted record is the record counted (a batch of records that all fail to open
        // must show in the diagnostics-per-record ratio); the document inside is not counted
        // again.
        self.stats.records += 1;
        let Some(keys) = self.keys.as_deref_mut() else {
            return self.diagnostics.push(das::without_keys(&record));
        };
        match das::open(&record, keys, &ctx.limits) {
            Ok(text) => {
                let counted = self.stats.records;
                decode_opened(&text, &record, ctx, self);
                if self.stats.records > counted {
                    self.stats.records -= 1;
                }
            }
            Err(e) => match e.kind() {
                None => self.skipped(Skip::Deferred, &record.origin),
                Some(kind) => {
                    self.diagnostics
                        .report(kind, &record.origin, format!("{}: {e}", record.name()))
                }
            },
        }
    }

    fn flow_format(&mut self, format: FlowFormat) {
        self.parsers.set_vpc_format(format);
    }

    /// End of a stream (file, batch): forget per-stream parser state (pending PostgreSQL errors,
    /// a file's flow-log header).
    fn end_stream(&mut self) {
        self.parsers.end_stream();
        self.parsers.reset_vpc_format();
        self.output.flush();
    }
}
