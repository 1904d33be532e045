//! Detection state across events: threshold windows and suppression.
//!
//! Behind a trait so a store shared by several Lambda containers (DynamoDB with TTL, say) can
//! replace the in-memory one without touching rules. Time is event time, never the wall clock,
//! so a replay of last month's logs fires exactly as the live run did.

use std::collections::{HashMap, VecDeque};

use jiff::{SignedDuration, Timestamp};

/// Where thresholds and suppressions keep their state.
pub trait StateStore {
    /// Record an observation for `key` at `time` and return how many observations (or, with
    /// `distinct`, how many distinct values) fall within `window` ending at `time`.
    fn observe(&mut self, key: u64, time: Timestamp, window: SignedDuration, distinct: Option<u64>) -> u64;
    /// Record `amount` for `key` at `time` and return the sum of the amounts within `window`
    /// ending at `time` (volume thresholds: rows read).
    fn observe_sum(&mut self, key: u64, time: Timestamp, window: SignedDuration, amount: u64) -> u64;
    /// Forget the observations of `key` (after a threshold fired: the next alert needs a new burst).
    fn reset(&mut self, key: u64);
    /// Whether `key` is muted at `time`; when it is not, mute it until `time + duration`.
    fn suppressed(&mut self, key: u64, time: Timestamp, duration: SignedDuration) -> bool;
}

/// In-memory state, bounded: at most `max_keys` keys and `max_per_key` observations per key.
#[derive(Debug)]
pub struct InMemoryState {
    windows: HashMap<u64, VecDeque<(i64, u64)>>,
    muted: HashMap<u64, i64>,
    max_keys: usize,
    max_per_key: usize,
}

impl Default for InMemoryState {
    fn default() -> Self {
        InMemoryState::new(100_000, 10_000)
    }
}

impl InMemoryState {
    /// A store with the given bounds.
    pub fn new(max_keys: usize, max_per_key: usize) -> Self {
        InMemoryState {
            windows: HashMap::new(),
            muted: HashMap::new(),
            max_keys,
            max_per_key,
        }
    }

    /// Keep memory bounded: drop keys with nothing recent, then, if still full, everything but
    /// the most recently active half.
    fn evict(&mut self, now: i64) {
        let horizon = now - 86_400_000_000;
        self.windows
            .retain(|_, q| q.back().is_some_and(|(t, _)| *t >= horizon));
        if self.windows.len() >= self.max_keys {
            let mut last: Vec<i64> = self
                .windows
                .values()
                .filter_map(|q| q.back().map(|(t, _)| *t))
                .collect();
            last.sort_unstable();
            let cut = last.get(last.len() / 2).copied().unwrap_or(i64::MIN);
            self.windows
                .retain(|_, q| q.back().is_some_and(|(t, _)| *t > cut));
        }
        self.muted.retain(|_, until| *until >= now);
    }
}

impl InMemoryState {
    /// Append `(now, value)` to the window of `key`, keep it bounded, and return the window's
    /// observations within `window` ending at `time`, with `now` and the window start.
    fn push(
        &mut self,
        key: u64,
        time: Timestamp,
        window: SignedDuration,
        value: u64,
    ) -> (&VecDeque<(i64, u64)>, i64, i64) {
        let now = time.as_microsecond();
        if !self.windows.contains_key(&key) && self.windows.len() >= self.max_keys {
            self.evict(now);
        }
        let start = now - window.as_micros().clamp(0, i64::MAX as i128) as i64;
        let max_per_key = self.max_per_key;
        let q = self.windows.entry(key).or_default();
        q.push_back((now, value));
        // Events arrive nearly in order; drop what fell out of the window before `now`.
        while q.front().is_some_and(|(t, _)| *t < start) {
            q.pop_front();
        }
        while q.len() > max_per_key {
            q.pop_front();
        }
        (q, start, now)
    }
}

impl StateStore for InMemoryState {
    fn observe_sum(&mut self, key: u64, time: Timestamp, window: SignedDuration, amount: u64) -> u64 {
        let (q, start, now) = self.push(key, time, window, amount);
        q.iter()
            .filter(|(t, _)| *t >= start && *t <= now)
            .fold(0u64, |acc, (_, v)| acc.saturating_add(*v))
    }

    fn observe(&mut self, key: u64, time: Timestamp, window: SignedDuration, distinct: Option<u64>) -> u64 {
        let (q, start, now) = self.push(key, time, window, distinct.unwrap_or(0));
        let in_window = q.iter().filter(|(t, _)| *t >= start && *t <= now);
        match distinct {
            None => in_window.count() as u64,
            Some(_) => {
                let mut seen: Vec<u64> = in_window.map(|(_, d)| *d).collect();
                seen.sort_unstable();
                seen.dedup();
                seen.len() as u64
            }
        }
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
        assert!(s.windows[&1000].len() <= 5);
    }
}
