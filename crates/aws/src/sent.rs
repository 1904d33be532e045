//! The per-container record of what a sink already delivered, so a retried invocation does not
//! deliver it twice.
//!
//! Lambda retries a failed asynchronous invocation with the same event, usually on the same
//! (warm) execution environment. Finding ids are deterministic (`finding::finding_id`: same record
//! and rule, same id), so remembering the ids delivered in this process is enough to skip them
//! on the retry. The record is bounded (an LRU of 128-bit digests, ~50 bytes each), so it forgets
//! the oldest ids first; it lives in memory only, so another execution environment does not know
//! it (see `docs/DEPLOY.md`, "Delivery guarantees").

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;

/// Default number of delivered keys remembered per sink (~5 MB).
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Keys (finding ids, activity-record keys) a sink has delivered, most recent kept.
///
/// The lock is held only for a lookup or an insert, never across an `.await`.
#[derive(Debug)]
pub struct SentLog {
    keys: Mutex<LruCache<u128, ()>>,
}

impl Default for SentLog {
    fn default() -> Self {
        SentLog::new(DEFAULT_CAPACITY)
    }
}

impl SentLog {
    /// A record of at most `capacity` keys (at least 1).
    pub fn new(capacity: usize) -> Self {
        SentLog {
            keys: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn digest(key: &str) -> u128 {
        xxhash_rust::xxh3::xxh3_128(key.as_bytes())
    }

    /// Whether `key` was delivered (and still remembered).
    pub fn contains(&self, key: &str) -> bool {
        let d = Self::digest(key);
        match self.keys.lock() {
            Ok(mut k) => k.get(&d).is_some(),
            Err(poisoned) => poisoned.into_inner().get(&d).is_some(),
        }
    }

    /// Remember that `key` was delivered.
    pub fn insert(&self, key: &str) {
        let d = Self::digest(key);
        match self.keys.lock() {
            Ok(mut k) => k.put(d, ()),
            Err(poisoned) => poisoned.into_inner().put(d, ()),
        };
    }

    /// Number of keys remembered.
    pub fn len(&self) -> usize {
        match self.keys.lock() {
            Ok(k) => k.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::SentLog;

    #[test]
    fn bounded_and_recent_first() {
        let s = SentLog::new(2);
        s.insert("a");
        s.insert("b");
        assert!(s.contains("a"));
        s.insert("c"); // evicts b (a was just used)
        assert!(s.contains("a"));
        assert!(!s.contains("b"));
        assert_eq!(s.len(), 2);
    }
}
