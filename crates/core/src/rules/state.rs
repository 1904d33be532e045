//! Detection state across events: threshold windows and suppression.
//!
//! Behind a trait so a store shared by several Lambda containers (DynamoDB with TTL, say) can
//! replace the in-memory one without touching rules. Time is event time, never the wall clock,
//! so a replay of last month's logs fires exactly as the live run did.

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

use super::sequence::SequenceState;

/// Where thresholds and suppressions keep their state.
pub trait StateStore {
    /// Record an observation for `key` at `time` and return how many observations (or, with
    /// `distinct`, how many distinct values) fall within `window` ending at `time`.
    fn observe(&mut self, key: u64, time: Timestamp, window: SignedDuration, distinct: Option<u64>) -> u64;
    /// Record `amount` for `key` at `time` and return the sum of the amounts within `window`
    /// ending at `time` (volume thresholds: rows read).
    fn observe_sum(&mut self, key: u64, time: Timestamp, window: SignedDuration, amount: u64) -> u64;
    /// The event time of the earliest observation of `key` still in its window, no later than
    /// `until` (a late observation does not count what came after it). Asked when a threshold
    /// fires, before [`StateStore::reset`]: a finding names when its burst began, not only when
    /// it crossed the threshold (OCSF `first_seen_time`). `None` when the store keeps no times.
    fn first_seen(&self, key: u64, until: Timestamp) -> Option<Timestamp>;
    /// Forget the observations of `key` (after a threshold fired: the next alert needs a new burst).
    fn reset(&mut self, key: u64);
    /// Whether `key` is muted at `time`; when it is not, mute it until `time + duration`.
    fn suppressed(&mut self, key: u64, time: Timestamp, duration: SignedDuration) -> bool;
    /// The sequence rules' state (step occurrences by join key), when this store keeps it.
    /// A store that keeps none makes sequence rules silent.
    fn sequences(&mut self) -> Option<&mut SequenceState> {
        None
    }
}

/// In-memory state, bounded: at most `max_keys` keys and `max_per_key` observations per key.
///
/// Each key keeps its observations sorted by event time with a running sum and, for distinct
/// thresholds, a count per value, so an observation in time order costs amortized O(1): push at
/// the back, pop what fell out of the window at the front, read the count, the sum or the number
/// of distinct values off the running totals. An observation older than the newest one is
/// inserted at its place (the distance from the back, usually a few entries) and counted with a
/// scan of the window: late records are rare and stay correct.
///
/// Every observation at `t` forgets the key's observations older than `t - window`; a record
/// that arrives later with an older time is counted against what is left.
///
/// Keys are hashes of attacker-influenced text (user names, addresses), so the maps use a
/// per-process seeded hasher (foldhash) and are capped: `max_keys` keys, `max_per_key`
/// observations (and distinct values) per key.
#[derive(Debug)]
pub struct InMemoryState {
    windows: HashMap<u64, Window, foldhash::fast::RandomState>,
    muted: HashMap<u64, i64, foldhash::fast::RandomState>,
    max_keys: usize,
    max_per_key: usize,
    sequences: SequenceState,
}

/// The observations of one key, oldest first, with running totals.
#[derive(Debug, Default)]
struct Window {
    /// (event time in µs, value): the distinct-value hash or the amount.
    q: VecDeque<(i64, u64)>,
    /// Sum of the values in `q` (for sums).
    sum: u64,
    /// How often each value occurs in `q` (for distinct counts; empty otherwise).
    counts: HashMap<u64, u32, foldhash::fast::RandomState>,
    /// Whether `counts` is maintained (the key's rule counts distinct values).
    distinct: bool,
}

impl Window {
    fn latest(&self) -> Option<i64> {
        self.q.back().map(|(t, _)| *t)
    }

    fn push(&mut self, now: i64, value: u64) {
        let at = match self.q.back() {
            Some((t, _)) if *t > now => self.q.partition_point(|(t, _)| *t <= now),
            _ => self.q.len(),
        };
        self.q.insert(at, (now, value));
        self.sum = self.sum.saturating_add(value);
        if self.distinct {
            *self.counts.entry(value).or_default() += 1;
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, value)) = self.q.pop_front() {
            self.sum = self.sum.saturating_sub(value);
            if self.distinct
                && let Some(n) = self.counts.get_mut(&value)
            {
                *n -= 1;
                if *n == 0 {
                    self.counts.remove(&value);
                }
            }
        }
    }

    /// The observations after `now` (late arrivals put earlier ones behind them).
    fn after(&self, now: i64) -> usize {
        match self.q.back() {
            Some((t, _)) if *t > now => self.q.len() - self.q.partition_point(|(t, _)| *t <= now),
            _ => 0,
        }
    }
}

impl Default for InMemoryState {
    fn default() -> Self {
        InMemoryState::new(100_000, 10_000)
    }
}

/// What a window reports for an observation.
#[derive(Clone, Copy)]
enum Measure {
    Count,
    Distinct,
    Sum,
}

impl InMemoryState {
    /// A store with the given bounds.
    pub fn new(max_keys: usize, max_per_key: usize) -> Self {
        InMemoryState {
            windows: HashMap::default(),
            muted: HashMap::default(),
            max_keys,
            max_per_key: max_per_key.max(1),
            sequences: SequenceState::default(),
        }
    }

    /// Keep memory bounded: drop keys with nothing recent, then, if still full, everything but
    /// the most recently active half.
    fn evict(&mut self, now: i64) {
        let horizon = now - 86_400_000_000;
        self.windows
            .retain(|_, w| w.latest().is_some_and(|t| t >= horizon));
        if self.windows.len() >= self.max_keys {
            let mut last: Vec<i64> = self.windows.values().filter_map(Window::latest).collect();
            last.sort_unstable();
            let cut = last.get(last.len() / 2).copied().unwrap_or(i64::MIN);
            self.windows.retain(|_, w| w.latest().is_some_and(|t| t > cut));
        }
        self.muted.retain(|_, until| *until >= now);
    }

    /// Add `(time, value)` to the window of `key`, keep it bounded, and measure the
    /// observations within `window` ending at `time`.
    fn record(
        &mut self,
        key: u64,
        time: Timestamp,
        window: SignedDuration,
        value: u64,
        measure: Measure,
    ) -> u64 {
        let now = time.as_microsecond();
        if !self.windows.contains_key(&key) && self.windows.len() >= self.max_keys {
            self.evict(now);
        }
        let start = now.saturating_sub(window.as_micros().clamp(0, i64::MAX as i128) as i64);
        let max_per_key = self.max_per_key;
        let w = self.windows.entry(key).or_default();
        if matches!(measure, Measure::Distinct) && !w.distinct {
            // First distinct observation of the key: count what is already there.
            w.distinct = true;
            for (_, v) in &w.q {
                *w.counts.entry(*v).or_default() += 1;
            }
        }
        w.push(now, value);
        while w.q.front().is_some_and(|(t, _)| *t < start) {
            w.pop_front();
        }
        while w.q.len() > max_per_key {
            w.pop_front();
        }
        let late = w.after(now);
        if late == 0 {
            return match measure {
                Measure::Count => w.q.len() as u64,
                Measure::Sum => w.sum,
                Measure::Distinct => w.counts.len() as u64,
            };
        }
        // A late observation: only what is not newer than it counts.
        let within = w.q.range(..w.q.len() - late);
        match measure {
            Measure::Count => within.count() as u64,
            Measure::Sum => within.fold(0u64, |acc, (_, v)| acc.saturating_add(*v)),
            Measure::Distinct => {
                let mut seen: Vec<u64> = within.map(|(_, v)| *v).collect();
                seen.sort_unstable();
                seen.dedup();
                seen.len() as u64
            }
        }
    }
}

impl StateStore for InMemoryState {
    fn observe_sum(&mut self, key: u64, time: Timestamp, window: SignedDuration, amount: u64) -> u64 {
        self.record(key, time, window, amount, Measure::Sum)
    }

    fn observe(&mut self, key: u64, time: Timestamp, window: SignedDuration, distinct: Option<u64>) -> u64 {
        match distinct {
            None => self.record(key, time, window, 0, Measure::Count),
            Some(d) => self.record(key, time, window, d, Measure::Distinct),
        }
    }

    fn first_seen(&self, key: u64, until: Timestamp) -> Option<Timestamp> {
        let (t, _) = self.windows.get(&key)?.q.front()?;
        (*t <= until.as_microsecond())
            .then(|| Timestamp::from_microsecond(*t).ok())
            .flatten()
    }

    fn reset(&mut self, key: u64) {
        self.windows.remove(&key);
    }

    fn suppressed(&mut self, key: u64, time: Timestamp, duration: SignedDuration) -> bool {
        let now = time.as_microsecond();
        if let Some(until) = self.muted.get(&key)
            && now < *until
        {
            return true;
        }
        if self.muted.len() >= self.max_keys {
            self.evict(now);
        }
        let d = duration.as_micros().clamp(0, i64::MAX as i128) as i64;
        self.muted.insert(key, now.saturating_add(d));
        false
    }

    fn sequences(&mut self) -> Option<&mut SequenceState> {
        Some(&mut self.sequences)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    #[test]
    fn windows_and_distinct() {
        let mut s = InMemoryState::default();
        let w = SignedDuration::from_secs(60);
        assert_eq!(s.observe(1, t(0), w, None), 1);
        assert_eq!(s.observe(1, t(30), w, None), 2);
        assert_eq!(s.observe(1, t(90), w, None), 2); // t(0) fell out
        assert_eq!(s.first_seen(1, t(90)), Some(t(30)));
        assert_eq!(s.first_seen(1, t(10)), None); // nothing as old as a late t(10)
        assert_eq!(s.first_seen(99, t(90)), None);
        assert_eq!(s.observe(2, t(0), w, Some(7)), 1);
        assert_eq!(s.observe(2, t(1), w, Some(7)), 1);
        assert_eq!(s.observe(2, t(2), w, Some(8)), 2);
        s.reset(2);
        assert_eq!(s.observe(2, t(3), w, Some(8)), 1);
        assert_eq!(s.observe_sum(3, t(0), w, 400), 400);
        assert_eq!(s.observe_sum(3, t(30), w, 700), 1100);
        assert_eq!(s.observe_sum(3, t(80), w, 5), 705); // the 400 fell out
    }

    #[test]
    fn suppression() {
        let mut s = InMemoryState::default();
        let d = SignedDuration::from_secs(3600);
        assert!(!s.suppressed(9, t(0), d));
        assert!(s.suppressed(9, t(10), d));
        assert!(!s.suppressed(9, t(3601), d));
    }

    #[test]
    fn bounded() {
        let mut s = InMemoryState::new(10, 5);
        for k in 0..100 {
            s.observe(k, t(k as i64), SignedDuration::from_secs(60), None);
        }
        assert!(s.windows.len() <= 10);
        for i in 0..20 {
            s.observe(1000, t(i), SignedDuration::from_secs(3600), None);
        }
        assert!(s.windows[&1000].q.len() <= 5);
    }

    /// A million distinct keys in one window (a spray of addresses, users): the default store
    /// stays at its 100k-key bound, and a key seen again is counted from scratch, not lost track
    /// of the others.
    #[test]
    fn a_million_distinct_keys_stay_bounded() {
        let mut s = InMemoryState::default();
        let w = SignedDuration::from_secs(3600);
        for k in 0..1_000_000u64 {
            s.observe(
                k.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                t((k / 1000) as i64),
                w,
                None,
            );
            assert!(s.windows.len() <= s.max_keys);
        }
        assert!(s.windows.len() >= s.max_keys / 2, "{}", s.windows.len());
        assert_eq!(s.observe(42, t(1000), w, None), 1);
    }

    /// The reference the windows must agree with: every observation of a key kept in time
    /// order, those before the current window start dropped from the front, counted by a scan.
    #[derive(Default)]
    struct Model {
        keys: HashMap<u64, Vec<(i64, u64)>>,
    }

    impl Model {
        fn observe(&mut self, key: u64, now: i64, window: i64, value: u64, max: usize) -> (u64, u64, u64) {
            let q = self.keys.entry(key).or_default();
            let at = q.partition_point(|(t, _)| *t <= now);
            q.insert(at, (now, value));
            while q.first().is_some_and(|(t, _)| *t < now - window) {
                q.remove(0);
            }
            while q.len() > max {
                q.remove(0);
            }
            let within: Vec<_> = q
                .iter()
                .filter(|(t, _)| *t >= now - window && *t <= now)
                .collect();
            let mut distinct: Vec<u64> = within.iter().map(|(_, v)| *v).collect();
            distinct.sort_unstable();
            distinct.dedup();
            (
                within.len() as u64,
                distinct.len() as u64,
                within.iter().map(|(_, v)| *v).sum(),
            )
        }
    }

    proptest::proptest! {
        /// In order, late, and over the per-key cap: count, distinct and sum agree with the model.
        #[test]
        fn windows_agree_with_a_full_scan(
            steps in proptest::collection::vec((0u64..3, -20i64..40, 0u64..6), 1..300),
            window in 1i64..120,
            max in 1usize..50,
        ) {
            let w = SignedDuration::from_secs(window);
            let (mut count, mut distinct, mut sum) =
                (InMemoryState::new(100, max), InMemoryState::new(100, max), InMemoryState::new(100, max));
            let (mut mc, mut md, mut ms) = (Model::default(), Model::default(), Model::default());
            let mut clock = 0i64;
            for (key, step, value) in steps {
                clock += step;
                let us = (1_700_000_000 + clock) * 1_000_000;
                let w_us = window * 1_000_000;
                proptest::prop_assert_eq!(count.observe(key, t(clock), w, None), mc.observe(key, us, w_us, 0, max).0);
                proptest::prop_assert_eq!(distinct.observe(key, t(clock), w, Some(value)), md.observe(key, us, w_us, value, max).1);
                proptest::prop_assert_eq!(sum.observe_sum(key, t(clock), w, value), ms.observe(key, us, w_us, value, max).2);
            }
        }
    }
}
