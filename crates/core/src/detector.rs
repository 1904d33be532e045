//! The detection stage every detector implements: the policy checks ([`crate::policy`]) and the
//! rule set ([`crate::rules`]).
//!
//! It sits below both, so neither depends on the engine that runs them: the engine
//! ([`crate::engine`]) depends on the policy (to enrich) and on this trait (to detect), and the
//! detectors depend only on the event model and findings.

use jiff::{SignedDuration, Timestamp};

use crate::event::Event;
use crate::finding::Finding;

/// A detection stage: inspects one analysed, enriched event.
pub trait Detector {
    /// Push the findings of `event` and the ids of the rules it matched (shadow and threshold
    /// rules included, for `replay --events` and tuning).
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>);

    /// Move the threshold observations this detector left for a shared state store into `out`
    /// (see [`DeferredThreshold`]); detectors that defer nothing have nothing to give.
    fn take_deferred(&mut self, _out: &mut Vec<DeferredThreshold>) {}

    /// What this detector's sequence state counted (see
    /// [`crate::rules::sequence::SequenceCounters`]); zero for detectors without sequences.
    fn sequence_counters(&mut self) -> crate::rules::sequence::SequenceCounters {
        crate::rules::sequence::SequenceCounters::default()
    }

    /// Move the sequence step matches this detector left for a shared state store into `out`
    /// (see [`crate::rules::RuleSet::defer_thresholds`]).
    fn take_sequences(&mut self, _out: &mut Vec<crate::rules::sequence::Observation>) {}

    /// Move the stateful decisions this detector left for an ordered merge into `out` (see
    /// [`Decision`]); detectors without state have none.
    fn take_decisions(&mut self, _out: &mut Vec<Decision>) {}

    /// Raise what the end of a batch (`end_of_input` false: decided up to the newest event time
    /// seen) or of the whole input (true: nothing more will come) settles — the absences of
    /// sequence rules. Detectors without sequences have nothing to settle.
    fn finish(&mut self, _end_of_input: bool, _findings: &mut Vec<Finding>) {}

    /// Leave stateful decisions to an ordered merge from now on (see [`Decision`]); detectors
    /// without state have nothing to leave.
    fn order_decisions(&mut self) {}
}

/// A stateful step of a threshold observation: what [`Decision::apply`] feeds the state store.
#[derive(Clone, Copy, Debug)]
pub struct ThresholdStep {
    /// Stable key of (rule, `group_by` values).
    pub key: u64,
    /// The rule's window.
    pub window: SignedDuration,
    /// Observations, distinct values or sum needed.
    pub needed: u64,
    /// What the observation adds to a `sum` threshold (`None`: a count).
    pub sum: Option<u64>,
    /// Hash of the `distinct` fields' values, when the rule counts distinct values.
    pub distinct: Option<u64>,
}

/// The part of a rule match that depends on what came before it — the threshold window and the
/// suppression of the rule — left undecided so that several workers can detect on parts of one
/// stream and a single merger, reading their results in stream order, decides it against one
/// state store exactly as a single thread would have (`laneguard replay --threads N`).
///
/// The finding at index `finding` of the event's findings stands if [`Decision::apply`] says so,
/// with the count (and, for a threshold, the window's first event time) it returns.
#[derive(Clone, Debug)]
pub struct Decision {
    /// Index of the finding in the event's findings.
    pub finding: usize,
    /// Event time of the observation.
    pub time: Timestamp,
    /// The threshold observation, for a threshold rule.
    pub threshold: Option<ThresholdStep>,
    /// Suppression of the rule: key and duration.
    pub suppress: Option<(u64, SignedDuration)>,
    /// A sequence step: the merger files it in its state and, if the step completes a sequence,
    /// adds the sequence's finding after the event's others (see [`Decision::apply_sequence`]);
    /// `finding` is then unused.
    pub sequence: Option<Box<crate::rules::sequence::Observation>>,
}

impl Decision {
    /// Apply a sequence step to `state`: the finding the slot holds if it completes a
    /// sequence (and its suppression does not mute it), `None` otherwise — also when the
    /// decision is not a sequence step.
    pub fn apply_sequence(&mut self, state: &mut dyn crate::rules::state::StateStore) -> Option<Finding> {
        let obs = self.sequence.take()?;
        let f = state.sequences()?.observe(*obs)?;
        if let Some((key, duration)) = self.suppress
            && state.suppressed(key, f.time, duration)
        {
            return None;
        }
        Some(f)
    }

    /// Apply the decision to `state`: `Some` when the finding stands, with its count and, for a
    /// threshold, its window.
    pub fn apply(&self, state: &mut dyn crate::rules::state::StateStore) -> Option<Crossed> {
        let crossed = match &self.threshold {
            Some(t) => t.observe(state, self.time)?,
            None => Crossed {
                count: 1,
                window: None,
            },
        };
        if let Some((key, duration)) = self.suppress
            && state.suppressed(key, self.time, duration)
        {
            return None;
        }
        Some(crossed)
    }
}

/// What a threshold (or a plain match) that stands reports: the count behind the finding and,
/// for a threshold, the event time of the window's first event (`Some(None)`: the store keeps
/// no times).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crossed {
    /// Observations, distinct values or sum in the window (1 for a plain match).
    pub count: u64,
    /// `Some` for a threshold: the first event time of its window, when the store knows it.
    pub window: Option<Option<Timestamp>>,
}

impl Crossed {
    /// `finding` with this count and, for a threshold, its first and last seen times.
    pub fn mark(&self, finding: &mut Finding) {
        finding.count = self.count;
        if let Some(first) = self.window {
            finding.set_window(first);
        }
    }
}

impl ThresholdStep {
    /// Record the observation; `Some` (and the window reset) when it completes the threshold,
    /// with the count and the window's first event time. The one place a threshold is decided,
    /// for local and ordered detection alike.
    pub fn observe(
        &self,
        state: &mut dyn crate::rules::state::StateStore,
        time: Timestamp,
    ) -> Option<Crossed> {
        let count = self.count(state, time);
        if count < self.needed {
            return None;
        }
        let first = state.first_seen(self.key, time);
        state.reset(self.key);
        Some(Crossed {
            count,
            window: Some(first),
        })
    }

    /// Record the observation and return the count in the window, without deciding.
    pub fn count(&self, state: &mut dyn crate::rules::state::StateStore, time: Timestamp) -> u64 {
        match self.sum {
            Some(amount) => state.observe_sum(self.key, time, self.window, amount),
            None => state.observe(self.key, time, self.window, self.distinct),
        }
    }
}

/// A threshold observation a detector does not decide alone: with a state store shared by
/// several Lambda containers, each container sees part of a burst, so the count that matters is
/// the sum in the shared store. The adapter that owns the store (`laneguard-aws`) adds these up
/// after the batch and raises `finding` for the keys that crossed `threshold` — once per burst,
/// whichever container gets there. `local_count` is what this container alone counted: the
/// decision when the shared store cannot be reached.
#[derive(Clone, Debug)]
pub struct DeferredThreshold {
    /// Stable key of (rule, `group_by` values): the same in every container with the same rule.
    pub key: u64,
    /// Event time of the observation.
    pub time: Timestamp,
    /// The rule's window.
    pub window: SignedDuration,
    /// Observations (or distinct values) needed.
    pub threshold: u64,
    /// Hash of the `distinct` fields' values, when the rule counts distinct values.
    pub distinct: Option<u64>,
    /// What the observation adds to the count: 1, or the value of the rule's `sum` field
    /// (`statement.rows`) for a volume threshold.
    pub amount: u64,
    /// This container's own count in the window, including this observation.
    pub local_count: u64,
    /// Suppression of the rule: key and duration.
    pub suppress: Option<(u64, SignedDuration)>,
    /// The finding the observation raises if it completes the threshold (`count` is set by the
    /// decision).
    pub finding: Finding,
}
