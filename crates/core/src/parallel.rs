//! Parallel runs: one reader, N workers, one ordered merge — a single thread's findings, sooner.
//!
//! `laneguard replay --threads N` spends most of its time parsing, analysing and matching, which
//! depends only on the record; what depends on the order of records is small: the threshold
//! windows, suppression, and two bits of per-stream parser state (a PostgreSQL error waiting for
//! its `STATEMENT` line, a flow-log file's header). So:
//!
//! - the **reader** (the caller's `read` closure, on its own thread) decompresses and frames as
//!   usual into a [`RecordSink`] that copies records into owned batches of [`BATCH_RECORDS`]
//!   records. It follows the per-stream parser state ([`Parsers::track`]) and gives each batch
//!   the state at its start ([`StreamCarry`]), so a worker parses its part of a stream exactly as
//!   one parser reading the whole stream would;
//! - **workers** run a [`Pipeline`] over each batch with their own [`Engine`], built in ordered
//!   mode ([`Engine::order_decisions`]): every match of a threshold or suppressed rule becomes a
//!   finding with a [`Decision`] instead of being decided against the worker's partial view;
//!   events are rendered there too (`--events`);
//! - the **merger** (the calling thread) takes the batches back in stream order, applies the
//!   decisions one by one to a single [`StateStore`], and hands events and findings to the
//!   output in stream order.
//!
//! The result — output bytes, findings, counts, diagnostics and their order — is the one of a
//! single-threaded [`Pipeline`] over the same input (tests/it/parallel.rs checks it on the
//! samples and the end-to-end corpora). Memory is bounded: at most `2 × threads + 2` batches are
//! in flight between the reader and the merger.

use std::collections::BTreeMap;
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};

use aho_corasick::AhoCorasick;

use jiff::Timestamp;

use crate::detector::Decision;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::Engine;
use crate::envelope::{AwsContext, RawRecord, RecordSink, Skip};
use crate::event::{Event, Origin, Source};
use crate::finding::Finding;
use crate::pipeline::{Output, Pipeline, Stats};
use crate::rules::sequence::SequenceCounters;
use crate::rules::state::StateStore;
use crate::sources::{self, FlowFormat, ParseOptions, Parsers, StreamCarry};

/// Records per batch: large enough that hand-offs cost nothing next to the work, small enough
/// that a batch's findings reach the output soon.
pub const BATCH_RECORDS: usize = 2048;

/// Bytes of record text per batch (a batch of large CloudTrail records is cut earlier).
pub const BATCH_BYTES: usize = 1 << 20;

/// Turns an event into the bytes the output prints for it (`replay --events`); runs on the
/// workers, because an [`Event`] borrows its batch and cannot travel to the merger.
pub trait Render: Sync {
    /// Append the rendering of `event` (which matched `matched`) to `out`; nothing when events
    /// are not printed.
    fn render(&self, event: &Event<'_>, matched: &[String], out: &mut Vec<u8>);
}

/// Receives the merged results, in stream order, on the calling thread.
pub trait MergedOutput {
    /// One event, as [`Render`] rendered it (empty when events are not printed).
    fn event(&mut self, rendered: &[u8]);
    /// The findings of one event that stand after the ordered decisions (never empty).
    fn findings(&mut self, findings: &[Finding]);
}

/// What a parallel run counted.
#[derive(Debug)]
pub struct Summary {
    /// Counters, as a single-threaded [`Pipeline`] counts them.
    pub stats: Stats,
    /// Every diagnostic, in stream order.
    pub diagnostics: Diagnostics,
    /// What the merger's sequence state counted (evictions, absences not covered). Step
    /// matches without a join key are counted by the workers' rule sets, not here.
    pub sequences: SequenceCounters,
}

/// The parts of a parallel run that are not the input.
pub struct Parallel<'a> {
    /// One engine per worker thread (`Config::engine`; at least one).
    pub engines: Vec<Engine>,
    /// Parser options (the same for the reader's tracking and every worker).
    pub parse: &'a ParseOptions,
    /// The state store the merger decides thresholds and suppression with.
    pub state: Box<dyn StateStore + Send>,
    /// Renders events on the workers.
    pub render: &'a dyn Render,
    /// Diagnostics kept in full (all are counted).
    pub keep_diagnostics: usize,
    /// Records per batch ([`BATCH_RECORDS`]; tests use tiny batches to cut streams everywhere).
    pub batch_records: usize,
}

impl std::fmt::Debug for Parallel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parallel")
            .field("threads", &self.engines.len())
            .finish_non_exhaustive()
    }
}

impl Parallel<'_> {
    /// Run `read` (which feeds the records of the whole input to the sink it is given) on a
    /// reader thread, detect on the workers and write to `output` in stream order. Returns what
    /// `read` returned and the run's counters.
    pub fn run<R: Send>(
        self,
        output: &mut dyn MergedOutput,
        read: impl FnOnce(&mut dyn RecordSink) -> R + Send,
    ) -> (R, Summary) {
        let threads = self.engines.len().max(1);
        let in_flight = 2 * threads + 2;
        let (batch_tx, batch_rx) = sync_channel::<Batch>(in_flight);
        let (done_tx, done_rx) = sync_channel::<Done>(in_flight);
        let (token_tx, token_rx) = sync_channel::<()>(in_flight);
        for _ in 0..in_flight {
            // Cannot fail: the channel has room for every token and its receiver is alive.
            let _ = token_tx.send(());
        }
        let batch_rx = Arc::new(Mutex::new(batch_rx));
        let parse = self.parse;
        let render = self.render;
        let batch_records = self.batch_records.max(1);
        let mut merger = Merger {
            state: self.state,
            stats: Stats::default(),
            diagnostics: Diagnostics::new(self.keep_diagnostics),
            kept: Vec::new(),
            stands: Vec::new(),
            panic: None,
        };
        let mut no_key = 0;
        let (result, reader_stats) = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut batcher = Batcher::new(parse, batch_records, batch_tx, token_rx);
                let result = read(&mut batcher);
                batcher.flush();
                (result, batcher.stats)
            });
            let mut engines = self.engines;
            if engines.is_empty() {
                engines.push(Engine::default());
            }
            let workers: Vec<_> = engines
                .into_iter()
                .map(|engine| {
                    let batch_rx = Arc::clone(&batch_rx);
                    let done_tx = done_tx.clone();
                    scope.spawn(move || work(parse, engine, render, &batch_rx, &done_tx))
                })
                .collect();
            drop(done_tx);
            // Only the workers hold the batch receiver: when they are all gone, the reader's
            // sends fail instead of blocking.
            drop(batch_rx);
            merger.merge(&done_rx, &token_tx, output);
            drop(token_tx);
            // A worker that panicked has its panic in the merger already.
            no_key = workers.into_iter().filter_map(|w| w.join().ok()).sum();
            match reader.join() {
                Ok(r) => r,
                Err(payload) => panic::resume_unwind(payload),
            }
        });
        if let Some(payload) = merger.panic.take() {
            panic::resume_unwind(payload);
        }
        // Every input read: the absences of sequence rules are decided now, as one thread
        // decides them at its end.
        let mut sequences = SequenceCounters::default();
        if let Some(s) = merger.state.sequences() {
            let mut settled = Vec::new();
            s.settle(None, &mut settled);
            if !settled.is_empty() {
                merger.stats.findings += settled.len() as u64;
                output.findings(&settled);
            }
            sequences = s.counters;
        }
        sequences.no_key += no_key;
        let mut stats = merger.stats;
        for (reason, n) in reader_stats.skipped {
            *stats.skipped.entry(reason).or_default() += n;
        }
        (
            result,
            Summary {
                stats,
                diagnostics: merger.diagnostics,
                sequences,
            },
        )
    }
}

/// Owned records of one part of the input, with the parser state at its start.
struct Batch {
    seq: u64,
    carry: StreamCarry,
    /// Record texts and origin strings, addressed by the ranges of `items`.
    text: String,
    items: Vec<Item>,
}

/// What the reader saw, in order.
enum Item {
    Record(RecordAt),
    Diagnostic(Diagnostic),
    FlowFormat(FlowFormat),
    EndStream,
}

/// A [`RawRecord`] whose strings live in [`Batch::text`].
struct RecordAt {
    text: Range<usize>,
    file: Option<Range<usize>>,
    line: Option<u64>,
    log_group: Option<Range<usize>>,
    log_stream: Option<Range<usize>>,
    event_id: Option<Range<usize>>,
    index: Option<u32>,
    source: Option<Source>,
    envelope_time: Option<Timestamp>,
    account: Option<Range<usize>>,
    region: Option<Range<usize>>,
}

impl Batch {
    fn raw<'b>(&'b self, r: &RecordAt) -> RawRecord<'b> {
        let s = |range: &Option<Range<usize>>| range.as_ref().map(|r| &self.text[r.clone()]);
        RawRecord {
            text: &self.text[r.text.clone()],
            origin: Origin {
                file: s(&r.file),
                line: r.line,
                log_group: s(&r.log_group),
                log_stream: s(&r.log_stream),
                event_id: s(&r.event_id),
                index: r.index,
            },
            source: r.source,
            envelope_time: r.envelope_time,
            aws: AwsContext {
                account: s(&r.account),
                region: s(&r.region),
            },
        }
    }
}

/// The reader's sink: copies records into batches and sends them to the workers.
struct Batcher {
    /// Follows the per-stream parser state, to give each batch its start state.
    tracker: Parsers,
    batch: Batch,
    records: usize,
    batch_records: usize,
    next_seq: u64,
    tx: Option<SyncSender<Batch>>,
    tokens: Receiver<()>,
    /// Records the input layer skipped (the workers count the rest).
    stats: Stats,
    /// Strings of the previous record, reused when they repeat (a file name, a log group).
    last: [Option<Range<usize>>; 5],
}

impl Batcher {
    fn new(parse: &ParseOptions, batch_records: usize, tx: SyncSender<Batch>, tokens: Receiver<()>) -> Self {
        let tracker = Parsers::new(parse);
        let carry = tracker.carry();
        Batcher {
            tracker,
            batch: Batch {
                seq: 0,
                carry,
                text: String::new(),
                items: Vec::new(),
            },
            records: 0,
            batch_records,
            next_seq: 1,
            tx: Some(tx),
            tokens,
            stats: Stats::default(),
            last: Default::default(),
        }
    }

    /// Copy `s` into the batch, or reuse the copy of the previous record's string in `slot`.
    fn intern(&mut self, slot: usize, s: Option<&str>) -> Option<Range<usize>> {
        let s = s?;
        if let Some(r) = &self.last[slot]
            && &self.batch.text[r.clone()] == s
        {
            return Some(r.clone());
        }
        let start = self.batch.text.len();
        self.batch.text.push_str(s);
        let r = start..self.batch.text.len();
        self.last[slot] = Some(r.clone());
        Some(r)
    }

    fn copy(&mut self, s: Option<&str>) -> Option<Range<usize>> {
        let s = s?;
        let start = self.batch.text.len();
        self.batch.text.push_str(s);
        Some(start..self.batch.text.len())
    }

    /// Send the batch (when it holds anything) and start the next one with the parser state
    /// as it stands now.
    fn flush(&mut self) {
        if self.batch.items.is_empty() {
            return;
        }
        let next = Batch {
            seq: self.next_seq,
            carry: self.tracker.carry(),
            text: String::with_capacity(self.batch.text.capacity()),
            items: Vec::with_capacity(self.batch.items.capacity()),
        };
        self.next_seq += 1;
        self.records = 0;
        self.last = Default::default();
        let batch = std::mem::replace(&mut self.batch, next);
        // A token per batch in flight bounds memory; no token or no worker left means the run
        // is being torn down (a worker panicked): the rest of the input is not processed.
        let sent = self.tokens.recv().is_ok() && self.tx.as_ref().is_some_and(|tx| tx.send(batch).is_ok());
        if !sent {
            self.tx = None;
        }
    }

    fn push(&mut self, item: Item) {
        self.batch.items.push(item);
    }
}

/// Whether a PostgreSQL entry can change the errors waiting for a statement (an error or a
/// `STATEMENT` line); everything else is not tracked.
fn may_pair(text: &str) -> bool {
    static LEVELS: LazyLock<Option<AhoCorasick>> =
        LazyLock::new(|| AhoCorasick::new(["ERROR:", "FATAL:", "PANIC:", "STATEMENT:"]).ok());
    // Without the automaton (it cannot fail to build from four literals), track every record.
    LEVELS.as_ref().is_none_or(|levels| levels.is_match(text))
}

impl RecordSink for Batcher {
    fn record(&mut self, record: RawRecord<'_>) {
        if may_pair(record.text) {
            let source = record
                .source
                .or_else(|| sources::detect(record.origin.log_group, record.text, self.tracker.pg_prefix()));
            if let Some(source) = source {
                self.tracker.track(source, record.text);
            }
        }
        let text = self.copy(Some(record.text)).unwrap_or_default();
        let at = RecordAt {
            text,
            file: self.intern(0, record.origin.file),
            line: record.origin.line,
            log_group: self.intern(1, record.origin.log_group),
            log_stream: self.intern(2, record.origin.log_stream),
            event_id: self.copy(record.origin.event_id),
            index: record.origin.index,
            source: record.source,
            envelope_time: record.envelope_time,
            account: self.intern(3, record.aws.account),
            region: self.intern(4, record.aws.region),
        };
        self.push(Item::Record(at));
        self.records += 1;
        if self.records >= self.batch_records || self.batch.text.len() >= BATCH_BYTES {
            self.flush();
        }
    }

    fn skipped(&mut self, reason: Skip, _origin: &Origin<'_>) {
        *self.stats.skipped.entry(reason).or_default() += 1;
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.push(Item::Diagnostic(diagnostic));
    }

    fn flow_format(&mut self, format: FlowFormat) {
        self.tracker.set_vpc_format(format.clone());
        self.push(Item::FlowFormat(format));
    }

    fn end_stream(&mut self) {
        self.tracker.end_stream();
        self.tracker.reset_vpc_format();
        self.push(Item::EndStream);
    }
}

/// A worker's results for one batch.
struct Done {
    seq: u64,
    result: std::thread::Result<Collected>,
}

/// What a worker's pipeline produced for one batch, in order.
#[derive(Default)]
struct Collected {
    stats: Stats,
    diagnostics: Vec<Diagnostic>,
    rendered: Vec<u8>,
    outs: Vec<Out>,
    findings: Vec<Finding>,
    decisions: Vec<Decision>,
}

/// One output call of the worker's pipeline.
enum Out {
    Event(Range<usize>),
    Findings {
        findings: Range<usize>,
        decisions: Range<usize>,
    },
}

/// The worker pipeline's output: collects, renders, decides nothing.
struct Collector<'r> {
    render: &'r dyn Render,
    out: Collected,
}

impl Output for Collector<'_> {
    fn event(&mut self, event: &Event<'_>, matched: &[String]) {
        let start = self.out.rendered.len();
        self.render.render(event, matched, &mut self.out.rendered);
        self.out.outs.push(Out::Event(start..self.out.rendered.len()));
    }

    fn findings(&mut self, findings: &[Finding]) {
        self.undecided(findings, &[]);
    }

    fn undecided(&mut self, findings: &[Finding], decisions: &[Decision]) {
        let f = self.out.findings.len();
        let d = self.out.decisions.len();
        self.out.findings.extend_from_slice(findings);
        self.out.decisions.extend_from_slice(decisions);
        self.out.outs.push(Out::Findings {
            findings: f..self.out.findings.len(),
            decisions: d..self.out.decisions.len(),
        });
    }
}

fn work(
    parse: &ParseOptions,
    mut engine: Engine,
    render: &dyn Render,
    batches: &Mutex<Receiver<Batch>>,
    done: &SyncSender<Done>,
) -> u64 {
    engine.order_decisions();
    loop {
        let batch = match batches.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => break,
        };
        let Ok(batch) = batch else { break };
        let seq = batch.seq;
        let result = panic::catch_unwind(AssertUnwindSafe(|| detect(parse, &mut engine, render, batch)));
        let failed = result.is_err();
        if done.send(Done { seq, result }).is_err() || failed {
            break;
        }
    }
    // Sequence step matches without a join key are counted where they were matched.
    engine.sequence_counters().no_key
}

/// Run one batch through a pipeline.
fn detect(parse: &ParseOptions, engine: &mut Engine, render: &dyn Render, mut batch: Batch) -> Collected {
    let mut collector = Collector {
        render,
        out: Collected::default(),
    };
    let (stats, diagnostics) = {
        let mut pipeline = Pipeline::new(parse, engine, &mut collector);
        pipeline.resume(std::mem::take(&mut batch.carry));
        *pipeline.diagnostics_mut() = Diagnostics::new(usize::MAX);
        for item in &batch.items {
            match item {
                Item::Record(r) => pipeline.record(batch.raw(r)),
                Item::Diagnostic(d) => pipeline.diagnostic(d.clone()),
                Item::FlowFormat(f) => pipeline.flow_format(f.clone()),
                Item::EndStream => pipeline.end_stream(),
            }
        }
        let stats = pipeline.stats().clone();
        (stats, pipeline.diagnostics_mut().take_kept())
    };
    collector.out.stats = stats;
    collector.out.diagnostics = diagnostics;
    collector.out
}

/// Puts the workers' results back in order and decides what depends on order.
struct Merger {
    state: Box<dyn StateStore + Send>,
    stats: Stats,
    diagnostics: Diagnostics,
    /// Reused: the findings of one event that stand, and whether each does.
    kept: Vec<Finding>,
    stands: Vec<bool>,
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl Merger {
    fn merge(&mut self, done: &Receiver<Done>, tokens: &SyncSender<()>, output: &mut dyn MergedOutput) {
        let mut waiting: BTreeMap<u64, std::thread::Result<Collected>> = BTreeMap::new();
        let mut next = 0u64;
        while let Ok(d) = done.recv() {
            waiting.insert(d.seq, d.result);
            while let Some(result) = waiting.remove(&next) {
                next += 1;
                match result {
                    Ok(c) => self.apply(c, output),
                    Err(payload) => {
                        self.panic.get_or_insert(payload);
                    }
                }
                // The reader may be gone already (end of input): nothing to give back then.
                let _ = tokens.try_send(());
            }
        }
    }

    fn apply(&mut self, c: Collected, output: &mut dyn MergedOutput) {
        let Collected {
            stats,
            diagnostics,
            rendered,
            outs,
            findings,
            mut decisions,
        } = c;
        let mut findings = findings.into_iter();
        self.stats.records += stats.records;
        for (source, n) in stats.events {
            *self.stats.events.entry(source).or_default() += n;
        }
        for (reason, n) in stats.skipped {
            *self.stats.skipped.entry(reason).or_default() += n;
        }
        for d in diagnostics {
            self.diagnostics.push(d);
        }
        for out in outs {
            match out {
                Out::Event(r) => output.event(&rendered[r]),
                Out::Findings {
                    findings: f,
                    decisions: d,
                } => {
                    // The ranges follow one another: the event's findings are the next ones.
                    self.kept.clear();
                    self.kept.extend(findings.by_ref().take(f.len()));
                    self.stands.clear();
                    self.stands.resize(self.kept.len(), true);
                    // Sequence findings follow the event's others, as one thread raises them
                    // (steps are filed behind the rules).
                    let mut completed = Vec::new();
                    for decision in &mut decisions[d] {
                        if decision.sequence.is_some() {
                            completed.extend(decision.apply_sequence(&mut *self.state));
                            continue;
                        }
                        let Some(slot) = self.stands.get_mut(decision.finding) else {
                            continue;
                        };
                        match decision.apply(&mut *self.state) {
                            Some(crossed) => crossed.mark(&mut self.kept[decision.finding]),
                            None => *slot = false,
                        }
                    }
                    let mut verdict = self.stands.iter();
                    self.kept.retain(|_| verdict.next().copied().unwrap_or(true));
                    self.kept.append(&mut completed);
                    if !self.kept.is_empty() {
                        self.stats.findings += self.kept.len() as u64;
                        output.findings(&self.kept);
                    }
                }
            }
        }
    }
}
