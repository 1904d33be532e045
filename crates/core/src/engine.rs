//! The engine: SQL analysis, policy enrichment and detection for one event at a time, with no I/O.
//!
//! The same engine runs in the Lambda functions, in `laneguard replay` and in `laneguard test`
//! and `tune`, so a result seen in replay is the result production gives (DESIGN.md §1). It is
//! assembled in one place, [`crate::config::Config::engine`], and it owns the state that makes
//! repeated traffic cheap and detection stateful: the SQL analysis cache (by fingerprint), the
//! analyses of audit-engine command tags for records that carry no statement text, and the
//! detectors with their threshold windows. A [`crate::pipeline::Pipeline`] borrows it for one
//! batch, so a warm Lambda container keeps all of it across invocations.

use std::collections::HashMap;
use std::sync::Arc;

use crate::detector::Detector;
use crate::event::{Event, Kind, Source, SqlView};
use crate::finding::Finding;
use crate::policy::{ClassMemo, Policy};
use crate::sql::{self, Analysis, Analyzer, Dialect, Flags};

/// Default number of statement shapes kept in the analysis cache.
pub const DEFAULT_SQL_CACHE: usize = 16 * 1024;

/// SQL analysis plus the detectors, applied event by event.
pub struct Engine {
    analyzer: Analyzer,
    policy: Option<Arc<Policy>>,
    tags: HashMap<(Dialect, String), Arc<Analysis>>,
    classes: ClassMemo,
    detectors: Vec<Box<dyn Detector + Send>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("detectors", &self.detectors.len())
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(DEFAULT_SQL_CACHE)
    }
}

/// The SQL dialect of a source's statements (an event carries its own, [`Event::dialect`]:
/// a source serving several engines sets it per record).
pub fn dialect_of(source: Source) -> Dialect {
    source.dialect()
}

impl Engine {
    /// An engine whose SQL cache holds `sql_cache` statement shapes, with no detectors yet.
    pub fn new(sql_cache: usize) -> Self {
        Engine {
            analyzer: Analyzer::new(sql_cache),
            policy: None,
            tags: HashMap::new(),
            classes: ClassMemo::default(),
            detectors: Vec::new(),
        }
    }

    /// Enrich events with `policy` (zones, datastores, domains, classification) before detection.
    pub fn set_policy(&mut self, policy: Arc<Policy>) {
        self.policy = Some(policy);
        // The memo holds the old policy's classifications.
        self.classes = ClassMemo::default();
    }

    /// The policy events are enriched with.
    pub fn policy(&self) -> Option<&Arc<Policy>> {
        self.policy.as_ref()
    }

    /// Add a detection stage (policy checks, a rule set).
    pub fn add_detector(&mut self, detector: Box<dyn Detector + Send>) {
        self.detectors.push(detector);
    }

    /// Attach the SQL analysis to a statement event.
    pub fn analyze(&mut self, event: &mut Event<'_>) {
        let Kind::Statement(st) = &event.kind else {
            return;
        };
        let dialect = event.dialect;
        let analysis = match (&st.text, &st.engine_command) {
            (Some(text), _) => self.analyzer.analyze(text, dialect),
            (None, Some(tag)) => self.tag_analysis(dialect, tag),
            (None, None) => self.tag_analysis(dialect, st.engine_class.as_deref().unwrap_or("")),
        };
        let database = event.target.database.as_deref();
        let mut objects: Vec<String> = analysis
            .objects
            .iter()
            .map(|o| sql::qualify(o, dialect, database))
            .collect();
        // Objects the audit engine named: one (pgaudit), or a comma-separated list (Aurora
        // MySQL activity streams, with the objects of the statement's AUX records joined).
        for named in st.object_name.as_deref().unwrap_or("").split(',') {
            let named = named.trim();
            if named.is_empty() {
                continue;
            }
            let q = sql::qualify(&named.to_lowercase(), dialect, database);
            if !objects.contains(&q) {
                objects.push(q);
            }
        }
        let mut flags: Flags = analysis.flags;
        if st.truncated {
            flags.insert(Flags::TRUNCATED);
        }
        event.sql = Some(SqlView {
            analysis,
            objects,
            flags,
        });
    }

    /// The analysis of a statement known only by its audit-engine command tag.
    fn tag_analysis(&mut self, dialect: Dialect, tag: &str) -> Arc<Analysis> {
        if let Some(a) = self.tags.get(&(dialect, tag.to_owned())) {
            return Arc::clone(a);
        }
        let a = Arc::new(sql::analysis_of_command_tag(tag));
        if self.tags.len() < 4096 {
            self.tags.insert((dialect, tag.to_owned()), Arc::clone(&a));
        }
        a
    }

    /// Run every detector on an analysed event.
    pub fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        for d in &mut self.detectors {
            d.detect(event, findings, matched);
        }
    }

    /// What the end of a batch (`end_of_input` false) or of the whole input (true) settles:
    /// the absences of sequence rules (see [`crate::detector::Detector::finish`]).
    pub fn finish(&mut self, end_of_input: bool, findings: &mut Vec<Finding>) {
        for d in &mut self.detectors {
            d.finish(end_of_input, findings);
        }
    }

    /// The threshold observations the detectors left for a shared state store since the last
    /// call (see [`crate::detector::DeferredThreshold`]).
    pub fn take_deferred(&mut self) -> Vec<crate::detector::DeferredThreshold> {
        let mut out = Vec::new();
        for d in &mut self.detectors {
            d.take_deferred(&mut out);
        }
        out
    }

    /// What the detectors' sequence states counted, added up.
    pub fn sequence_counters(&mut self) -> crate::rules::sequence::SequenceCounters {
        let mut total = crate::rules::sequence::SequenceCounters::default();
        for d in &mut self.detectors {
            total.add(&d.sequence_counters());
        }
        total
    }

    /// The sequence step matches the detectors left for a shared state store since the last call
    /// (see [`crate::rules::RuleSet::defer_thresholds`]).
    pub fn take_sequences(&mut self) -> Vec<crate::rules::sequence::Observation> {
        let mut out = Vec::new();
        for d in &mut self.detectors {
            d.take_sequences(&mut out);
        }
        out
    }

    /// The stateful decisions the detectors left for an ordered merge since the last call (see
    /// [`crate::detector::Decision`]), appended to `out`.
    pub fn take_decisions(&mut self, out: &mut Vec<crate::detector::Decision>) {
        for d in &mut self.detectors {
            d.take_decisions(out);
        }
    }

    /// Leave every stateful decision of the rule sets to an ordered merge
    /// ([`crate::rules::RuleSet::order_decisions`]); used by the workers of a parallel replay.
    pub fn order_decisions(&mut self) {
        for d in &mut self.detectors {
            d.order_decisions();
        }
    }

    /// Analyse, enrich and detect.
    pub fn process(&mut self, event: &mut Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>) {
        self.analyze(event);
        if let Some(policy) = &self.policy {
            policy.enrich_with(event, &mut self.classes);
        }
        self.detect(event, findings, matched);
    }
}
