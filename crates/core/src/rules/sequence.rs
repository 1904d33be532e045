//! Sequence rules: "A then B (then C) within T, joined on K", and "A and not B within T"
//! (docs/RULES.md "Sequences").
//!
//! A sequence rule's steps are ordinary `[match]` conditions, compiled as hidden rules of the set
//! ([`crate::rules::RuleSet`]) so they meet events through the same index, gates and scanners as
//! every rule. A step match becomes an [`Observation`] — the step, the join key's hash, the event
//! time and origin, and (for the step that can complete the sequence) the finding it would raise
//! — and [`SequenceState::observe`] files it under its key and looks for a chain.
//!
//! **Order does not matter.** A chain is found among everything the key holds, whatever order
//! the events arrived in: a CloudTrail record delivered fifteen minutes after the audit log line
//! it precedes completes the sequence as if it had come first, and the finding is built from the
//! chain's last event in event time, with a finding id that depends only on that event. This is
//! what lets `laneguard replay DIR` read its inputs one after another, and lets functions that
//! see different sources with different delivery delays meet, with the findings a time-ordered
//! merge would give.
//!
//! **Absence** ("A and not B") is the one decision that needs to know nothing more can come: it is
//! taken by [`SequenceState::settle`] — at the end of a replay (every input read: exact), or in a
//! live function once the newest event time seen has passed the window by the rule's `late`
//! tolerance.
//!
//! State is bounded: keys (least recently touched evicted first), occurrences per key (oldest
//! first), absent-step times per key (coalesced into intervals); every eviction is counted.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};

use crate::event::OriginBuf;
use crate::finding::Finding;

/// Most keys kept (least recently touched evicted first, half at a time).
pub const MAX_KEYS: usize = 50_000;
/// Most step occurrences kept per key (oldest evicted first).
pub const MAX_PER_KEY: usize = 256;
/// Most occurrences kept in total (each may hold a finding: about 1 KiB); past it the least
/// recently touched half of the keys is evicted.
pub const MAX_OCCURRENCES: usize = 100_000;
/// Most intervals of absent-step events kept per key (oldest evicted first).
pub const MAX_INTERVALS: usize = 256;

/// When an absent step counts against the positive steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absence {
    /// No such event within `within` after the last positive event ("A and not B within T").
    After,
    /// No such event within `within` before the first or after the last positive event
    /// (fusion: a login opens a session before the flows it carries are logged).
    Around,
}

/// One step of a sequence.
#[derive(Clone, Debug)]
pub struct Step {
    /// Name, for findings and explanations.
    pub name: String,
    /// Events of this step the chain needs.
    pub count: u32,
    /// `Some` for the absent step (always the last).
    pub absent: Option<Absence>,
}

/// A compiled sequence: what [`SequenceState`] needs to find chains, shared by every observation
/// of the rule (an observation carries it, so a merger or a shared store needs no registry).
#[derive(Clone, Debug)]
pub struct Sequence {
    /// Rule id.
    pub rule: String,
    /// First step event to last.
    pub within: SignedDuration,
    /// How long a live function waits past an absence window for late events.
    pub late: SignedDuration,
    /// How much later than the next step's event a step's event may be (clocks of different
    /// sources; a flow record's time is the start of its aggregation interval).
    pub skew: SignedDuration,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Absence rules: the run must hold absent-step events for the positive events' coverage key.
    pub covered: bool,
}

impl Sequence {
    /// Index of the absent step, if the sequence has one.
    pub fn absent_step(&self) -> Option<usize> {
        self.steps.iter().position(|s| s.absent.is_some())
    }

    /// Absence of one positive step counted once: its events are kept one per window of
    /// `within` (aligned on the epoch), the earliest standing for the rest — a flow log's
    /// thousands of records per datastore cost a few occurrences, and the result does not
    /// depend on the order they arrive in.
    pub fn windowed(&self) -> bool {
        self.absent_step().is_some() && self.positives() == 1 && self.steps[0].count == 1
    }

    /// The positive steps (all but the absent one): the last of them completes a chain.
    pub fn positives(&self) -> usize {
        self.absent_step().unwrap_or(self.steps.len())
    }

    fn within_us(&self) -> i64 {
        micros(self.within)
    }
}

fn micros(d: SignedDuration) -> i64 {
    d.as_micros().clamp(0, i128::from(i64::MAX)) as i64
}

/// A step match, as the rule set hands it to the state (directly, through an ordered merge, or
/// to a shared store).
#[derive(Clone, Debug)]
pub struct Observation {
    /// The sequence.
    pub sequence: Arc<Sequence>,
    /// Index of the step matched.
    pub step: usize,
    /// Hash of (rule, join key values).
    pub key: u64,
    /// Hash of (rule, `covered_by` values), for absence rules.
    pub coverage: Option<u64>,
    /// Event time.
    pub time: Timestamp,
    /// Identity of the record (its finding id's digest): a record delivered twice counts once.
    pub id: u64,
    /// Where the record is.
    pub origin: OriginBuf,
    /// The finding the sequence raises if this event is its last (positive steps' last step).
    pub finding: Option<Box<Finding>>,
}

/// What the state counted that an operator should know about.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SequenceCounters {
    /// Step matches skipped because the event had no value for the join key (counted by the
    /// rule set that matched them).
    pub no_key: u64,
    /// Keys evicted (the key bound), with what they held.
    pub keys_evicted: u64,
    /// Occurrences and absent-step intervals evicted (the per-key bounds).
    pub occurrences_evicted: u64,
    /// Absence chains not raised because no absent-step event was seen for their coverage key.
    pub not_covered: u64,
    /// Absence occurrences dropped undecided, with their key, by the key bound.
    pub undecided: u64,
}

/// One occurrence of a positive step.
#[derive(Clone, Debug)]
struct Occurrence {
    step: usize,
    time: i64,
    id: u64,
    coverage: Option<u64>,
    origin: OriginBuf,
    finding: Option<Box<Finding>>,
    /// Absence rules of one positive step: the latest event time folded into this window.
    last: i64,
    /// … and how many more events it stands for.
    folded: u64,
}

/// What one key holds.
#[derive(Debug)]
struct KeyState {
    sequence: Arc<Sequence>,
    /// Positive-step occurrences, sorted by (time, step, id).
    occ: Vec<Occurrence>,
    /// Absent-step events as closed intervals (µs) whose points are at most `within` apart:
    /// "an absent-step event within a range at least `within` long" is answered exactly.
    absent: Vec<(i64, i64)>,
    touched: u64,
}

/// Sequence state: the occurrences of every key, bounded. Kept by
/// [`crate::rules::state::InMemoryState`] beside the threshold windows.
#[derive(Debug, Default)]
pub struct SequenceState {
    keys: HashMap<u64, KeyState, foldhash::fast::RandomState>,
    /// Coverage keys seen on absent-step events.
    covered: HashMap<u64, (), foldhash::fast::RandomState>,
    clock: u64,
    /// Event time (µs) of the last [`SequenceState::prune`].
    pruned: i64,
    /// Occurrences held, all keys together (recounted when keys go).
    total: usize,
    /// Counters.
    pub counters: SequenceCounters,
}

impl SequenceCounters {
    /// Add `other`'s counts.
    pub fn add(&mut self, other: &SequenceCounters) {
        self.no_key += other.no_key;
        self.keys_evicted += other.keys_evicted;
        self.occurrences_evicted += other.occurrences_evicted;
        self.not_covered += other.not_covered;
        self.undecided += other.undecided;
    }

    /// Whether anything was counted.
    pub fn is_empty(&self) -> bool {
        *self == SequenceCounters::default()
    }
}

impl SequenceState {
    /// Fold an event into its window's occurrence without an observation, when it can be: an
    /// absence rule of one positive step (see [`Sequence::windowed`]) whose window already
    /// holds an earlier event. `true` when folded (or the same record again); `false` when the
    /// caller must [`SequenceState::observe`] a whole observation.
    pub fn fold(&mut self, key: u64, seq: &Sequence, step: usize, time: Timestamp, id: u64) -> bool {
        if step != 0 || !seq.windowed() {
            return false;
        }
        let Some(state) = self.keys.get_mut(&key) else {
            return false;
        };
        let now = time.as_microsecond();
        let w = seq.within_us().max(1);
        let bucket = now.div_euclid(w);
        let first = state.occ.partition_point(|o| o.time.div_euclid(w) < bucket);
        match state.occ.get_mut(first) {
            Some(o) if o.time.div_euclid(w) == bucket && (now, id) >= (o.time, o.id) => {
                if (now, id) != (o.time, o.id) {
                    o.last = o.last.max(now);
                    o.folded += 1;
                }
                self.clock += 1;
                state.touched = self.clock;
                true
            }
            _ => false,
        }
    }

    /// File `obs` and return the finding of the chain it completes, if any (positive sequences;
    /// absence is decided by [`SequenceState::settle`]).
    pub fn observe(&mut self, obs: Observation) -> Option<Finding> {
        self.clock += 1;
        let clock = self.clock;
        let seq = Arc::clone(&obs.sequence);
        let is_absent = seq.steps.get(obs.step).is_some_and(|s| s.absent.is_some());
        if is_absent && let Some(c) = obs.coverage {
            if self.covered.len() >= MAX_KEYS * 2 {
                self.covered.clear();
            }
            self.covered.insert(c, ());
        }
        if (!self.keys.contains_key(&obs.key) && self.keys.len() >= MAX_KEYS) || self.total >= MAX_OCCURRENCES
        {
            self.evict();
        }
        let state = self.keys.entry(obs.key).or_insert_with(|| KeyState {
            sequence: Arc::clone(&seq),
            occ: Vec::new(),
            absent: Vec::new(),
            touched: clock,
        });
        state.touched = clock;
        let now = obs.time.as_microsecond();
        if is_absent {
            let dropped = add_point(&mut state.absent, now, seq.within_us());
            self.counters.occurrences_evicted += dropped;
            return None;
        }
        if seq.windowed() {
            let w = seq.within_us().max(1);
            let bucket = now.div_euclid(w);
            let first = state.occ.partition_point(|o| o.time.div_euclid(w) < bucket);
            if let Some(o) = state
                .occ
                .get_mut(first)
                .filter(|o| o.time.div_euclid(w) == bucket)
            {
                // One occurrence per window of `within`: the earliest event stands for the
                // others (the same whatever the arrival order).
                if (now, obs.id) == (o.time, o.id) {
                    return None; // the same record again
                }
                if (now, obs.id) < (o.time, o.id) {
                    o.last = o.last.max(o.time);
                    o.time = now;
                    o.id = obs.id;
                    o.coverage = obs.coverage;
                    o.origin = obs.origin;
                    o.finding = obs.finding;
                } else {
                    o.last = o.last.max(now);
                }
                o.folded += 1;
                return None;
            }
        }
        let probe = (now, obs.step, obs.id);
        let at = match state.occ.binary_search_by(|o| (o.time, o.step, o.id).cmp(&probe)) {
            Ok(_) => return None, // the same record again
            Err(at) => at,
        };
        state.occ.insert(
            at,
            Occurrence {
                step: obs.step,
                time: now,
                id: obs.id,
                coverage: obs.coverage,
                origin: obs.origin,
                finding: obs.finding,
                last: now,
                folded: 0,
            },
        );
        self.total += 1;
        if state.occ.len() > MAX_PER_KEY {
            state.occ.remove(0);
            self.total -= 1;
            self.counters.occurrences_evicted += 1;
        }
        if seq.absent_step().is_some() {
            return None;
        }
        let chain = find_chain(&seq, &state.occ)?;
        self.total = self.total.saturating_sub(chain.len());
        take_finding(&mut state.occ, &chain)
    }

    /// Decide absence chains: those whose window (plus the rule's `late`) ended at or before
    /// `watermark`, or every one when `watermark` is `None` (the end of a replay: nothing more
    /// will come). A chain stands when no absent-step event falls in its range and its coverage
    /// key was seen; findings go to `out`.
    pub fn settle(&mut self, watermark: Option<Timestamp>, out: &mut Vec<Finding>) {
        let mut keys: Vec<u64> = self
            .keys
            .iter()
            .filter(|(_, s)| s.sequence.absent_step().is_some() && !s.occ.is_empty())
            .map(|(k, _)| *k)
            .collect();
        // Deterministic output order whatever the hash map's.
        keys.sort_unstable();
        let mut found = Vec::new();
        for key in keys {
            let Some(state) = self.keys.get_mut(&key) else {
                continue;
            };
            let seq = Arc::clone(&state.sequence);
            let Some(absent) = seq.absent_step().and_then(|i| seq.steps[i].absent) else {
                continue;
            };
            let within = seq.within_us();
            let late = micros(seq.late);
            while let Some(chain) = find_chain(&seq, &state.occ) {
                let first = chain.iter().map(|&i| state.occ[i].time).min().unwrap_or(0);
                let tail = &state.occ[chain[chain.len() - 1]];
                let (last, folded) = (tail.last.max(tail.time), tail.folded);
                let end = last.saturating_add(within);
                if let Some(w) = watermark
                    && end.saturating_add(late) > w.as_microsecond()
                {
                    break; // not decidable yet; later chains end later still
                }
                let start = match absent {
                    Absence::After => first,
                    Absence::Around => first.saturating_sub(within),
                };
                let seen = state.absent.iter().any(|(a, b)| *a <= end && *b >= start);
                if seen {
                    remove(&mut state.occ, &chain);
                    continue;
                }
                let coverage = state.occ[chain[chain.len() - 1]].coverage;
                let covered = !seq.covered || coverage.is_some_and(|c| self.covered.contains_key(&c));
                if !covered {
                    self.counters.not_covered += 1;
                    remove(&mut state.occ, &chain);
                    continue;
                }
                // One finding per window: the chain's last-step events in the window after it
                // are folded into its count.
                let last_step = seq.positives() - 1;
                let Some(mut f) = take_finding(&mut state.occ, &chain) else {
                    continue;
                };
                let extra: Vec<usize> = state
                    .occ
                    .iter()
                    .enumerate()
                    .filter(|(_, o)| o.step == last_step && o.time > last && o.time <= end)
                    .map(|(i, _)| i)
                    .collect();
                let latest = extra
                    .last()
                    .map_or(last, |&l| state.occ[l].last.max(state.occ[l].time));
                f.last_seen = Some(Timestamp::from_microsecond(latest).unwrap_or(f.time).max(f.time));
                f.count += folded + extra.iter().map(|&i| 1 + state.occ[i].folded).sum::<u64>();
                remove(&mut state.occ, &extra);
                found.push(f);
            }
        }
        if let Some(w) = watermark {
            self.prune(w.as_microsecond());
        }
        // The end of a replay: whatever could not form a chain is done with too.
        if watermark.is_none() {
            for s in self.keys.values_mut() {
                if s.sequence.absent_step().is_some() {
                    s.occ.clear();
                }
            }
        }
        out.append(&mut found);
        self.recount();
    }

    /// A live function's housekeeping, at most once a minute of event time: what is older than
    /// its sequence's window and lateness before the watermark can no longer join a chain that
    /// completes now (only a record later than `late` could), so it goes, and keys left empty
    /// with it.
    fn prune(&mut self, watermark: i64) {
        if watermark < self.pruned.saturating_add(60_000_000) {
            return;
        }
        self.pruned = watermark;
        self.keys.retain(|_, s| {
            let horizon = watermark
                .saturating_sub(s.sequence.within_us())
                .saturating_sub(micros(s.sequence.late));
            s.occ.retain(|o| o.last.max(o.time) >= horizon);
            s.absent.retain(|(_, b)| *b >= horizon);
            !s.occ.is_empty() || !s.absent.is_empty()
        });
        self.recount();
    }

    /// Drop the least recently touched half of the keys.
    fn evict(&mut self) {
        let mut touched: Vec<u64> = self.keys.values().map(|s| s.touched).collect();
        touched.sort_unstable();
        let cut = touched.get(touched.len() / 2).copied().unwrap_or(0);
        let before = self.keys.len();
        for s in self.keys.values().filter(|s| s.touched <= cut) {
            if s.sequence.absent_step().is_some() {
                self.counters.undecided += s.occ.len() as u64;
            } else {
                self.counters.occurrences_evicted += s.occ.len() as u64;
            }
        }
        self.keys.retain(|_, s| s.touched > cut);
        self.counters.keys_evicted += (before - self.keys.len()) as u64;
        self.recount();
    }

    /// Count the occurrences held again (after removals across keys).
    fn recount(&mut self) {
        self.total = self.keys.values().map(|s| s.occ.len()).sum();
    }

    /// Keys held (for tests and bounds).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Add an absent-step event at `t` to `intervals` (sorted, disjoint, points at most `gap` apart
/// within one), merging neighbours; returns how many intervals the bound evicted.
fn add_point(intervals: &mut Vec<(i64, i64)>, t: i64, gap: i64) -> u64 {
    let at = intervals.partition_point(|(a, _)| *a <= t);
    // The interval before may reach t, or the one after may start close enough.
    let joins_prev = at > 0 && t <= intervals[at - 1].1.saturating_add(gap);
    let joins_next = at < intervals.len() && intervals[at].0 <= t.saturating_add(gap);
    match (joins_prev, joins_next) {
        (true, true) => {
            let next = intervals.remove(at);
            let prev = &mut intervals[at - 1];
            prev.1 = prev.1.max(next.1).max(t);
        }
        (true, false) => {
            let prev = &mut intervals[at - 1];
            prev.1 = prev.1.max(t);
        }
        (false, true) => intervals[at].0 = t,
        (false, false) => intervals.insert(at, (t, t)),
    }
    let mut dropped = 0;
    while intervals.len() > MAX_INTERVALS {
        intervals.remove(0);
        dropped += 1;
    }
    dropped
}

/// The earliest-ending chain of the positive steps among `occ` (sorted by time): for each
/// occurrence of the last positive step, in time order, the latest occurrences of each earlier
/// step that precede it — by up to the sequence's `skew` later, for clocks of different sources
/// that disagree — no record used twice, the whole within the sequence's window. Indices, the
/// last step's occurrence last (it carries the finding).
fn find_chain(seq: &Sequence, occ: &[Occurrence]) -> Option<Vec<usize>> {
    let positives = seq.positives();
    if positives == 0 {
        return None;
    }
    let last = positives - 1;
    let within = seq.within_us();
    let skew = micros(seq.skew);
    'candidates: for (end, o) in occ.iter().enumerate().filter(|(_, o)| o.step == last) {
        let mut chosen: Vec<usize> = vec![end];
        // The earliest time picked so far: the next earlier step must come before it (+ skew).
        let mut bound = o.time;
        for step in (0..positives).rev() {
            let need = seq.steps[step].count.max(1) as usize - usize::from(step == last);
            let slack = if step == last { 0 } else { skew };
            let mut picked = 0;
            let mut earliest = bound;
            for (i, c) in occ.iter().enumerate().rev() {
                if picked == need {
                    break;
                }
                if c.step != step
                    || c.time > bound.saturating_add(slack)
                    || chosen.contains(&i)
                    || chosen.iter().any(|&j| occ[j].id == c.id)
                {
                    continue;
                }
                if o.time.saturating_sub(c.time) > within {
                    break;
                }
                chosen.push(i);
                earliest = earliest.min(c.time);
                picked += 1;
            }
            if picked < need {
                continue 'candidates;
            }
            bound = earliest;
        }
        let end = chosen.remove(0);
        chosen.sort_unstable();
        chosen.push(end);
        return Some(chosen);
    }
    None
}

/// Remove the chain's occurrences (indices sorted ascending).
fn remove(occ: &mut Vec<Occurrence>, chain: &[usize]) {
    let mut sorted = chain.to_vec();
    sorted.sort_unstable();
    for &i in sorted.iter().rev() {
        if i < occ.len() {
            occ.remove(i);
        }
    }
}

/// The finding of a chain — its last event's, with the other events as related evidence and
/// the chain's first and last times — and the chain's occurrences removed (consumed).
/// `None` (the chain removed all the same) when its last event carries no finding, which only
/// an observation built by hand can do.
fn take_finding(occ: &mut Vec<Occurrence>, chain: &[usize]) -> Option<Finding> {
    let last = chain[chain.len() - 1];
    let first_time = chain.iter().map(|&i| occ[i].time).min().unwrap_or(occ[last].time);
    let Some(mut f) = occ[last].finding.as_deref().cloned() else {
        remove(occ, chain);
        return None;
    };
    f.evidence.related = chain[..chain.len() - 1]
        .iter()
        .map(|&i| occ[i].origin.clone())
        .collect();
    f.count = chain.len() as u64;
    f.first_seen = Some(
        Timestamp::from_microsecond(first_time)
            .unwrap_or(f.time)
            .min(f.time),
    );
    f.last_seen = Some(f.time);
    remove(occ, chain);
    Some(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(steps: &[(u32, Option<Absence>)], within: i64) -> Arc<Sequence> {
        Arc::new(Sequence {
            rule: "seq.t".into(),
            within: SignedDuration::from_secs(within),
            late: SignedDuration::from_secs(60),
            skew: SignedDuration::ZERO,
            steps: steps
                .iter()
                .enumerate()
                .map(|(i, (count, absent))| Step {
                    name: format!("s{i}"),
                    count: *count,
                    absent: *absent,
                })
                .collect(),
            covered: false,
        })
    }

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn obs(sequence: &Arc<Sequence>, step: usize, key: u64, at: i64, id: u64) -> Observation {
        let last = sequence.positives() - 1;
        Observation {
            sequence: Arc::clone(sequence),
            step,
            key,
            coverage: Some(key),
            time: t(at),
            id,
            origin: OriginBuf {
                line: Some(id),
                ..OriginBuf::default()
            },
            finding: (step == last).then(|| Box::new(Finding::placeholder("seq.t", t(at)))),
        }
    }

    #[test]
    fn a_then_b_in_any_arrival_order() {
        let s = seq(&[(1, None), (1, None)], 60);
        for order in [[0usize, 1], [1, 0]] {
            let mut st = SequenceState::default();
            let events = [obs(&s, 0, 7, 0, 1), obs(&s, 1, 7, 30, 2)];
            let mut fired = Vec::new();
            for i in order {
                fired.extend(st.observe(events[i].clone()));
            }
            assert_eq!(fired.len(), 1, "{order:?}");
            let f = &fired[0];
            assert_eq!(f.time, t(30));
            assert_eq!(f.first_seen, Some(t(0)));
            assert_eq!(f.evidence.related.len(), 1);
            assert_eq!(f.evidence.related[0].line, Some(1));
            assert_eq!(f.count, 2);
        }
    }

    #[test]
    fn order_and_window_and_key_hold() {
        let s = seq(&[(1, None), (1, None)], 60);
        let mut st = SequenceState::default();
        // B before A: not a sequence.
        assert!(st.observe(obs(&s, 1, 1, 0, 1)).is_none());
        assert!(st.observe(obs(&s, 0, 1, 10, 2)).is_none());
        // Too far apart.
        assert!(st.observe(obs(&s, 0, 2, 0, 3)).is_none());
        assert!(st.observe(obs(&s, 1, 2, 61, 4)).is_none());
        // Another key.
        assert!(st.observe(obs(&s, 0, 3, 0, 5)).is_none());
        assert!(st.observe(obs(&s, 1, 4, 1, 6)).is_none());
        // The same record twice is one record.
        assert!(st.observe(obs(&s, 0, 5, 0, 7)).is_none());
        assert!(st.observe(obs(&s, 0, 5, 0, 7)).is_none());
        assert!(st.observe(obs(&s, 1, 5, 5, 8)).is_some());
        assert!(st.observe(obs(&s, 1, 5, 6, 9)).is_none(), "A was consumed");
    }

    /// A step's event may come later than the next step's by the sequence's skew (two
    /// sources' clocks), not more; the finding is still the last step's event's.
    #[test]
    fn skew_between_sources() {
        let mut s = (*seq(&[(1, None), (1, None)], 600)).clone();
        s.skew = SignedDuration::from_secs(30);
        let s = Arc::new(s);
        let mut st = SequenceState::default();
        assert!(st.observe(obs(&s, 1, 1, 0, 1)).is_none());
        let f = st
            .observe(obs(&s, 0, 1, 20, 2))
            .expect("20 s of skew is within 30");
        assert_eq!(f.time, t(0));
        assert_eq!(f.first_seen, Some(t(0)));
        assert_eq!(f.evidence.related[0].line, Some(2));
        assert!(st.observe(obs(&s, 1, 2, 0, 3)).is_none());
        assert!(st.observe(obs(&s, 0, 2, 31, 4)).is_none(), "31 s is not");
    }

    #[test]
    fn counted_steps() {
        let s = seq(&[(3, None), (1, None)], 60);
        let mut st = SequenceState::default();
        assert!(st.observe(obs(&s, 0, 1, 0, 1)).is_none());
        assert!(st.observe(obs(&s, 0, 1, 1, 2)).is_none());
        assert!(
            st.observe(obs(&s, 1, 1, 2, 3)).is_none(),
            "two failures are not three"
        );
        let f = st
            .observe(obs(&s, 0, 1, 1, 4))
            .expect("a late third failure completes it");
        assert_eq!(f.count, 4);
        assert_eq!(f.evidence.related.len(), 3);
    }

    #[test]
    fn absence_after_and_around() {
        let after = seq(&[(1, None), (1, Some(Absence::After))], 60);
        let mut st = SequenceState::default();
        st.observe(obs(&after, 0, 1, 0, 1)); // A, then B: cancelled
        st.observe(obs(&after, 1, 1, 30, 2));
        st.observe(obs(&after, 0, 2, 0, 3)); // A alone: fires
        st.observe(obs(&after, 1, 3, 0, 4)); // B before A does not cancel "after"
        st.observe(obs(&after, 0, 3, 30, 5));
        let mut out = Vec::new();
        st.settle(Some(t(100)), &mut out);
        assert!(out.is_empty(), "not decidable before window + late");
        st.settle(Some(t(200)), &mut out);
        assert_eq!(out.len(), 2);

        let around = seq(&[(1, None), (1, Some(Absence::Around))], 60);
        let mut st = SequenceState::default();
        st.observe(obs(&around, 1, 3, 0, 4));
        st.observe(obs(&around, 0, 3, 30, 5)); // B 30 s before A: cancels
        st.observe(obs(&around, 0, 4, 0, 6)); // three As within the window: one finding
        st.observe(obs(&around, 0, 4, 20, 7));
        st.observe(obs(&around, 0, 4, 50, 8));
        st.observe(obs(&around, 0, 4, 200, 9)); // a later window: another
        let mut out = Vec::new();
        st.settle(None, &mut out);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(out[0].count + out[1].count, 4);
    }

    #[test]
    fn coverage_is_required_when_asked() {
        let mut s = (*seq(&[(1, None), (1, Some(Absence::Around))], 60)).clone();
        s.covered = true;
        let s = Arc::new(s);
        let mut st = SequenceState::default();
        st.observe(obs(&s, 0, 1, 0, 1)); // key 1: no B ever
        st.observe(obs(&s, 0, 2, 0, 2)); // key 2: B seen, but long after the window
        st.observe(obs(&s, 1, 2, 5000, 3));
        let mut out = Vec::new();
        st.settle(None, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(st.counters.not_covered, 1);
    }

    #[test]
    fn absent_intervals_answer_range_queries_exactly() {
        let gap = 10;
        let mut iv = Vec::new();
        let points = [5i64, 100, 12, 30, 21, 200, 95];
        for p in points {
            add_point(&mut iv, p, gap);
        }
        for a in 0..250i64 {
            let b = a + gap;
            let truth = points.iter().any(|p| *p >= a && *p <= b);
            let answer = iv.iter().any(|(x, y)| *x <= b && *y >= a);
            assert_eq!(truth, answer, "[{a}, {b}] in {iv:?}");
        }
    }

    /// An absence rule's findings — which windows fire, their first event, count and last
    /// seen — do not depend on the order the events arrive in.
    #[test]
    fn windowed_absence_does_not_depend_on_arrival_order() {
        let s = seq(&[(1, None), (1, Some(Absence::Around))], 60);
        let mut events = Vec::new();
        let mut x: u64 = 99;
        for id in 0..300u64 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let key = x >> 62; // four keys
            let at = ((x >> 20) % 3000) as i64;
            let step = usize::from((x >> 8) % 7 == 0); // a few absent-step events
            events.push(obs(&s, step, key, at, id));
        }
        let run = |order: &[usize]| {
            let mut st = SequenceState::default();
            for &i in order {
                st.observe(events[i].clone());
            }
            let mut out = Vec::new();
            st.settle(None, &mut out);
            let mut got: Vec<_> = out
                .iter()
                .map(|f| (f.time, f.count, f.last_seen, f.evidence.origin.line))
                .collect();
            got.sort();
            got
        };
        let forward: Vec<usize> = (0..events.len()).collect();
        let want = run(&forward);
        assert!(want.len() > 5, "{}", want.len());
        let mut order = forward.clone();
        for round in 0..5u64 {
            // A deterministic shuffle.
            for i in (1..order.len()).rev() {
                let j = ((i as u64).wrapping_mul(2_654_435_761).wrapping_add(round * 97) % (i as u64 + 1))
                    as usize;
                order.swap(i, j);
            }
            assert_eq!(run(&order), want, "round {round}");
        }
    }

    /// A live function's state does not grow with time: what is past the window and lateness
    /// of the watermark is dropped, and a key left empty with it.
    #[test]
    fn live_state_is_pruned_by_the_watermark() {
        let s = seq(&[(1, None), (1, None)], 60);
        let mut st = SequenceState::default();
        for k in 0..100u64 {
            st.observe(obs(&s, 0, k, k as i64, k));
        }
        let mut out = Vec::new();
        st.settle(Some(t(150)), &mut out);
        assert_eq!(st.len(), 70, "those of the last window + late (60 s + 60 s) stay");
        st.settle(Some(t(10_000)), &mut out);
        assert!(st.is_empty());
        assert!(out.is_empty());
    }

    #[test]
    fn bounded() {
        let s = seq(&[(1, None), (1, None)], 60);
        let mut st = SequenceState::default();
        for k in 0..(MAX_KEYS as u64 + 10) {
            st.observe(obs(&s, 0, k, 0, k));
        }
        assert!(st.len() <= MAX_KEYS);
        assert!(st.counters.keys_evicted > 0);
        for i in 0..(MAX_PER_KEY as u64 + 5) {
            st.observe(obs(&s, 0, u64::MAX, i as i64, i));
        }
        assert_eq!(st.keys[&u64::MAX].occ.len(), MAX_PER_KEY);
    }
}

/// One occurrence as a store shared by several containers holds it (laneguard-aws keeps them in
/// DynamoDB): an [`Observation`] without its sequence and key, which the store knows.
#[derive(Clone, Debug)]
pub struct Held {
    /// Index of the step.
    pub step: usize,
    /// Event time.
    pub time: Timestamp,
    /// Identity of the record.
    pub id: u64,
    /// Coverage key (positive steps of absence rules).
    pub coverage: Option<u64>,
    /// Where the record is.
    pub origin: OriginBuf,
    /// The finding the sequence raises if this event is its last.
    pub finding: Option<Box<Finding>>,
}

/// What [`decide_held`] decided for one key.
#[derive(Debug, Default)]
pub struct HeldDecision {
    /// The findings of the chains found (positive sequences) or decided (absence rules).
    pub findings: Vec<Finding>,
    /// Indices (into the held occurrences) of the positive-step occurrences the decision is done
    /// with: chains raised, absence chains cancelled or not covered, events folded into an
    /// absence finding's count, occurrences over the per-key bound. The store consumes them.
    pub consumed: Vec<usize>,
    /// What the decision counted.
    pub counters: SequenceCounters,
}

/// Decide one key of a shared store with the in-memory state's own logic: the occurrences the
/// store `held` (consumed ones left out, absent-step events included) are filed, in event-time
/// order, in a fresh [`SequenceState`] — whose chains ([`find_chain`]) and findings
/// ([`take_finding`]) are the ones `laneguard replay` raises — and, for an absence rule, settled
/// at `watermark` (`covered`: whether a coverage key was seen on an absent-step event, in any
/// container). Pure: the store writes what [`HeldDecision::consumed`] names, conditionally, and
/// raises the findings only if that write wins.
pub fn decide_held(
    sequence: &Arc<Sequence>,
    held: &[Held],
    covered: &dyn Fn(u64) -> bool,
    watermark: Option<Timestamp>,
) -> HeldDecision {
    let mut out = HeldDecision::default();
    let mut st = SequenceState::default();
    let absent = sequence.absent_step();
    for h in held {
        if Some(h.step) != absent
            && let Some(c) = h.coverage
            && covered(c)
        {
            st.covered.insert(c, ());
        }
    }
    let mut order: Vec<usize> = (0..held.len()).collect();
    order.sort_by_key(|&i| (held[i].time, held[i].step, held[i].id));
    for i in order {
        let h = &held[i];
        let obs = Observation {
            sequence: Arc::clone(sequence),
            step: h.step,
            key: 0,
            coverage: h.coverage,
            time: h.time,
            id: h.id,
            origin: h.origin.clone(),
            finding: h.finding.clone(),
        };
        out.findings.extend(st.observe(obs));
    }
    if absent.is_some() {
        st.settle(watermark, &mut out.findings);
    }
    let remaining: std::collections::HashSet<(usize, u64)> = st
        .keys
        .get(&0)
        .map(|s| s.occ.iter().map(|o| (o.step, o.id)).collect())
        .unwrap_or_default();
    out.consumed = held
        .iter()
        .enumerate()
        .filter(|(_, h)| Some(h.step) != absent && !remaining.contains(&(h.step, h.id)))
        .map(|(i, _)| i)
        .collect();
    out.counters = st.counters;
    out
}

#[cfg(test)]
mod held_tests {
    use super::*;

    fn seq(absent: Option<Absence>) -> Arc<Sequence> {
        let mut steps = vec![Step {
            name: "a".into(),
            count: 1,
            absent: None,
        }];
        steps.push(Step {
            name: "b".into(),
            count: 1,
            absent,
        });
        Arc::new(Sequence {
            rule: "seq.t".into(),
            within: SignedDuration::from_secs(60),
            late: SignedDuration::from_secs(60),
            skew: SignedDuration::ZERO,
            steps,
            covered: absent.is_some(),
        })
    }

    fn held(step: usize, at: i64, id: u64, finding: bool) -> Held {
        let time = Timestamp::from_second(1_700_000_000 + at).unwrap();
        Held {
            step,
            time,
            id,
            coverage: Some(9),
            origin: OriginBuf {
                line: Some(id),
                ..OriginBuf::default()
            },
            finding: finding.then(|| Box::new(Finding::placeholder("seq.t", time))),
        }
    }

    #[test]
    fn a_chain_among_held_occurrences_is_the_in_memory_chain() {
        let s = seq(None);
        // B held before A arrived (another container's half): one chain, both consumed.
        let d = decide_held(&s, &[held(1, 30, 2, true), held(0, 0, 1, false)], &|_| true, None);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].evidence.related[0].line, Some(1));
        assert_eq!(d.consumed, vec![0, 1]);
        // B before A: nothing, nothing consumed.
        let d = decide_held(&s, &[held(1, 0, 2, true), held(0, 30, 1, false)], &|_| true, None);
        assert!(d.findings.is_empty() && d.consumed.is_empty());
    }

    #[test]
    fn absence_is_decided_at_the_watermark_and_consumed() {
        let s = seq(Some(Absence::Around));
        let at = |x: i64| Some(Timestamp::from_second(1_700_000_000 + x).unwrap());
        let alone = [held(0, 0, 1, true)];
        let d = decide_held(&s, &alone, &|_| true, at(100));
        assert!(d.findings.is_empty() && d.consumed.is_empty(), "not yet");
        let d = decide_held(&s, &alone, &|_| true, at(121));
        assert_eq!((d.findings.len(), d.consumed.clone()), (1, vec![0]));
        let d = decide_held(&s, &alone, &|_| false, at(121));
        assert_eq!(
            (d.findings.len(), d.consumed.clone()),
            (0, vec![0]),
            "not covered"
        );
        assert_eq!(d.counters.not_covered, 1);
        // An absent-step event 30 s before: cancelled, consumed, no finding.
        let d = decide_held(
            &s,
            &[held(0, 0, 1, true), held(1, -30, 2, false)],
            &|_| true,
            at(500),
        );
        assert_eq!((d.findings.len(), d.consumed.clone()), (0, vec![0]));
    }
}
