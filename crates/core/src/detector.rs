//! The detection stage every detector implements: the policy checks ([`crate::policy`]) and the
//! rule set ([`crate::rules`]).
//!
//! It sits below both, so neither depends on the engine that runs them: the engine
//! ([`crate::engine`]) depends on the policy (to enrich) and on this trait (to detect), and the
//! detectors depend only on the event model and findings.

use crate::event::Event;
use crate::finding::Finding;

/// A detection stage: inspects one analysed, enriched event.
pub trait Detector {
    /// Push the findings of `event` and the ids of the rules it matched (shadow and threshold
    /// rules included, for `replay --events` and tuning).
    fn detect(&mut self, event: &Event<'_>, findings: &mut Vec<Finding>, matched: &mut Vec<String>);
}
