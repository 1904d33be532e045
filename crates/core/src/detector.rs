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
