//! Threshold windows shared by every container of a function, in DynamoDB.
//!
//! Lambda runs several containers at once for one log group, and a cold start forgets what a
//! container counted, so a brute force spread over three containers would never reach any one
//! container's threshold. The rule set leaves its threshold observations to this store
//! ([`laneguard_core::detector::DeferredThreshold`]); after each batch, [`SharedState::resolve`]
//! adds them to counters shared by all containers and raises a threshold finding once per burst,
//! whichever container completes it.
//!
//! The table (one string partition key `k`, TTL on `ttl`) holds two kinds of items, each with a
//! format version `v`:
//! - **buckets** `c#<key>#<bucket>`: `n`, the observations in one tenth of the rule's window
//!   (`ADD`, atomic; a volume threshold — `sum` — adds each observation's amount, e.g. rows read,
//!   instead of 1), `d`, the distinct values seen (a number set, `ADD`, at most
//!   [`MAX_DISTINCT`] per bucket so an item stays small), and `f`, the event time (ms) of the
//!   earliest observation of the first batch that wrote the bucket (`if_not_exists`: a later
//!   batch with an earlier event in the same bucket does not move it, so the window's first seen
//!   is exact to within one bucket, like its edges); items written before `f` existed have none;
//! - **burst markers** `f#<key>`: `u`, the event time (ms) of the last finding of the key, and
//!   `c`, the count its bucket held then. A finding is raised by the container whose conditional
//!   write moves `u` from the value it read — so exactly one container raises it.
//!
//!
//! Sequence rules ([`crate::sequences`]) keep three more kinds of items in the same table, format
//! version `v` = [`crate::sequences::SEQUENCE_VERSION`]:
//! - **key items** `q#<key>`: `r`, the rule id; `o`, a map of the key's occurrences named
//!   `<step>#<record id hex>`, each `{t: event time µs, s: step, c: coverage hex, g: origin JSON,
//!   f: finding JSON}` (`f` only on the completing step, `c` only for absence rules; an absent-step
//!   event holds `t` and `s` only; a consumed one is a tombstone `{t, s, x: 1}`); `n`, the decision
//!   counter every decision's conditional write moves; TTL a day past the rule's `within` and
//!   `late` after the newest event (or now); bounded by [`crate::sequences::MAX_LIVE`],
//!   [`crate::sequences::MAX_ABSENT`], [`crate::sequences::MAX_TOMBSTONES`] and
//!   [`crate::sequences::MAX_ITEM_BYTES`];
//! - **coverage markers** `v#<coverage key>`: seen on an absent-step event (TTL 30 days);
//! - **due lists** `d#<rule id>`: `s`, a string set of `<deadline µs, 20 digits>#<key hex>`, the
//!   keys of an absence rule with an undecided chain end (at most [`crate::sequences::MAX_DUE`]).
//!
//! The window is counted in buckets of a tenth of its length, so its edges are exact to within
//! one bucket. Observations before the last finding's bucket are consumed by it; in its bucket,
//! only those counted after it (`n − c`) remain; distinct values of that bucket count as consumed. Items expire
//! (TTL) a window after their bucket. When DynamoDB cannot be reached (after the SDK's retries)
//! the batch is not lost: the key is decided on this container's own count and the fallback is
//! counted ([`Resolution::decided_locally`], an EMF metric). An item of another format version or
//! shape is ignored and counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use jiff::Timestamp;
use laneguard_core::detector::DeferredThreshold;
use laneguard_core::finding::Finding;

/// Format version of the items this code writes and reads.
pub const ITEM_VERSION: &str = "1";
/// Most distinct values kept per bucket item (a number set of 1,000 u64 is ~20 KB, far under
/// DynamoDB's 400 KB item limit).
pub const MAX_DISTINCT: usize = 1_000;
/// Most keys per `BatchGetItem` call.
const BATCH_GET_KEYS: usize = 100;
/// Buckets per window.
const BUCKETS: i64 = 10;

/// What one [`SharedState::resolve`] decided and how.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resolution {
    /// Threshold findings raised by this container.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// Keys that crossed their threshold in the shared counts.
    pub crossed: u64,
    /// Of those, keys another container had already raised (its conditional write won).
    pub raised_elsewhere: u64,
    /// Keys decided on this container's counts because the store failed.
    pub decided_locally: u64,
    /// DynamoDB calls that failed after the SDK's retries.
    pub store_errors: u64,
    /// Items of another format version or shape, ignored.
    pub items_ignored: u64,
    /// Findings not raised because the rule's suppression muted the key.
    pub suppressed: u64,
}

/// The DynamoDB-backed store of one function.
#[derive(Debug)]
pub struct SharedState {
    pub(crate) client: Client,
    pub(crate) table: String,
    /// The container's part of the sequence store ([`crate::sequences`]).
    pub(crate) sequences: Mutex<crate::sequences::Memory>,
    /// Suppression (`[suppress]` of threshold rules) stays per container: key → muted until.
    muted: Mutex<HashMap<u64, Timestamp>>,
}

/// The observations of one key in one batch.
struct KeyBatch {
    threshold: u64,
    window_ms: i64,
    bucket_ms: i64,
    /// bucket → (count, distinct hashes, earliest event time in ms).
    buckets: BTreeMap<i64, (u64, BTreeSet<u64>, i64)>,
    distinct: bool,
    local_max: u64,
    /// The latest observation: its finding is the one raised.
    latest: DeferredThreshold,
}

fn bucket_ms(window_ms: i64) -> i64 {
    (window_ms / BUCKETS).max(1_000)
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl SharedState {
    /// A store in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        SharedState {
            client,
            table: table.into(),
            sequences: Mutex::new(crate::sequences::Memory::default()),
            muted: Mutex::new(HashMap::new()),
        }
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Add a batch's observations to the shared counts and return the findings this container
    /// raises. Never fails: a key whose counts cannot be read or written is decided on
    /// `local_count` (and counted as such).
    pub async fn resolve(&self, pending: Vec<DeferredThreshold>) -> Resolution {
        let mut res = Resolution::default();
        let mut keys: BTreeMap<u64, KeyBatch> = BTreeMap::new();
        for p in pending {
            let window_ms = i64::try_from(p.window.as_millis()).unwrap_or(i64::MAX).max(1);
            let b_ms = bucket_ms(window_ms);
            let bucket = p.time.as_millisecond().div_euclid(b_ms);
            let entry = keys.entry(p.key).or_insert_with(|| KeyBatch {
                threshold: p.threshold,
                window_ms,
                bucket_ms: b_ms,
                buckets: BTreeMap::new(),
                distinct: p.distinct.is_some(),
                local_max: 0,
                latest: p.clone(),
            });
            let slot = entry
                .buckets
                .entry(bucket)
                .or_insert((0, BTreeSet::new(), i64::MAX));
            slot.0 += p.amount;
            slot.2 = slot.2.min(p.time.as_millisecond());
            if let Some(d) = p.distinct {
                slot.1.insert(d);
            }
            entry.local_max = entry.local_max.max(p.local_count);
            if p.time >= entry.latest.time {
                entry.latest = p;
            }
        }
        for (key, batch) in &keys {
            // Add this container's observations, then decide on the shared count; if the store
            // fails at either step, decide on this container's own count.
            let shared = match self.add(*key, batch).await {
                Ok(()) => self.decide(*key, batch, &mut res).await,
                Err(e) => Err(e),
            };
            if let Err(e) = shared {
                tracing::warn!(table = %self.table, error = %e, "shared threshold store unavailable; deciding on this container's count");
                res.store_errors += 1;
                res.decided_locally += 1;
                if batch.local_max >= batch.threshold {
                    self.raise(batch, batch.local_max, None, &mut res);
                }
            }
        }
        res
    }

    /// Raise the finding of `batch` with `count` behind it and the shared window's first event
    /// time (ms; `None`: this container's window, as the rule set set it), unless suppressed.
    fn raise(&self, batch: &KeyBatch, count: u64, first_ms: Option<i64>, res: &mut Resolution) {
        let latest = &batch.latest;
        if let Some((key, duration)) = latest.suppress {
            let mut muted = match self.muted.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            if muted.get(&key).is_some_and(|until| latest.time < *until) {
                res.suppressed += 1;
                return;
            }
            if muted.len() >= 100_000 {
                muted.retain(|_, until| *until > latest.time);
            }
            muted.insert(key, latest.time.checked_add(duration).unwrap_or(latest.time));
        }
        let mut f = latest.finding.clone();
        f.count = count;
        if let Some(first) = first_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()) {
            f.set_window(Some(first));
        }
        res.findings.push(f);
    }

    /// Add this batch's counts to the shared bucket items.
    async fn add(&self, key: u64, batch: &KeyBatch) -> Result<(), String> {
        for (bucket, (count, distinct, first)) in &batch.buckets {
            let ttl = (bucket + 1) * batch.bucket_ms / 1000 + batch.window_ms / 1000 + 3600;
            let k = format!("c#{key:016x}#{bucket}");
            let base = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("k", s(&k))
                .expression_attribute_values(":n", n(count))
                .expression_attribute_values(":ttl", n(ttl))
                .expression_attribute_values(":f", n(first))
                .expression_attribute_values(":v", s(ITEM_VERSION));
            if batch.distinct && !distinct.is_empty() {
                let set: Vec<String> = distinct.iter().map(u64::to_string).collect();
                let with_set = base
                    .clone()
                    .update_expression("ADD n :n, d :d SET #ttl = :ttl, v = :v, f = if_not_exists(f, :f)")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":d", AttributeValue::Ns(set))
                    .expression_attribute_values(":cap", n(MAX_DISTINCT))
                    .condition_expression("attribute_not_exists(d) OR size(d) < :cap");
                match with_set.send().await {
                    Ok(_) => continue,
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        // The bucket holds enough distinct values already: count, keep the set.
                    }
                    Err(e) => return Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
                }
            }
            base.update_expression("ADD n :n SET #ttl = :ttl, v = :v, f = if_not_exists(f, :f)")
                .expression_attribute_names("#ttl", "ttl")
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        }
        Ok(())
    }

    /// Read the window of `key` and raise its finding if the shared count crossed the threshold
    /// and this container's conditional write consumes the burst.
    async fn decide(&self, key: u64, batch: &KeyBatch, res: &mut Resolution) -> Result<(), String> {
        let now_ms = batch.latest.time.as_millisecond();
        let last = now_ms.div_euclid(batch.bucket_ms);
        let first = (now_ms - batch.window_ms).div_euclid(batch.bucket_ms) + 1;
        let marker_key = format!("f#{key:016x}");
        let mut wanted: Vec<String> = (first..=last).map(|b| format!("c#{key:016x}#{b}")).collect();
        wanted.push(marker_key.clone());
        let items = self.batch_get(&wanted).await?;
        let mut consumed_until: Option<i64> = None;
        let mut consumed_in_bucket = 0u64;
        // The marker's `u` as stored, whatever its shape: the conditional write below must move
        // exactly that value (an unreadable marker is ignored for counting, then replaced).
        let mut marker_raw: Option<AttributeValue> = None;
        if let Some(item) = items.get(&marker_key) {
            marker_raw = item.get("u").cloned();
            match (item.get("v"), item.get("u")) {
                (Some(AttributeValue::S(v)), Some(AttributeValue::N(u))) if v == ITEM_VERSION => {
                    match u.parse::<i64>() {
                        Ok(u) => {
                            consumed_until = Some(u);
                            consumed_in_bucket = match item.get("c") {
                                Some(AttributeValue::N(c)) => c.parse().unwrap_or(0),
                                _ => 0,
                            };
                        }
                        Err(_) => res.items_ignored += 1,
                    }
                }
                _ => res.items_ignored += 1,
            }
        }
        let mut total = 0u64;
        let mut distinct: BTreeSet<String> = BTreeSet::new();
        let fired_bucket = consumed_until.map(|u| u.div_euclid(batch.bucket_ms));
        let mut last_bucket_count = 0u64;
        // The earliest `f` of the buckets counted (in the bucket of the last finding, no earlier
        // than that finding: what came before it was consumed).
        let mut first_ms: Option<i64> = None;
        for b in first..=last {
            if fired_bucket.is_some_and(|f| b < f) {
                continue;
            }
            let Some(item) = items.get(&format!("c#{key:016x}#{b}")) else {
                continue;
            };
            match (item.get("v"), item.get("n")) {
                (Some(AttributeValue::S(v)), Some(AttributeValue::N(count))) if v == ITEM_VERSION => {
                    let Ok(c) = count.parse::<u64>() else {
                        res.items_ignored += 1;
                        continue;
                    };
                    if b == last {
                        last_bucket_count = c;
                    }
                    let f = match item.get("f") {
                        Some(AttributeValue::N(f)) => f.parse::<i64>().ok(),
                        _ => None,
                    };
                    if fired_bucket == Some(b) {
                        // Only what arrived after the last finding.
                        let after = c.saturating_sub(consumed_in_bucket);
                        total += after;
                        if after > 0
                            && let (Some(f), Some(u)) = (f, consumed_until)
                        {
                            first_ms = first_ms.or(Some(f.max(u)));
                        }
                        continue;
                    }
                    total += c;
                    if c > 0 {
                        first_ms = first_ms.or(f);
                    }
                    if let Some(AttributeValue::Ns(set)) = item.get("d") {
                        distinct.extend(set.iter().cloned());
                    }
                }
                _ => res.items_ignored += 1,
            }
        }
        let count = if batch.distinct {
            distinct.len() as u64
        } else {
            total
        };
        if count < batch.threshold {
            return Ok(());
        }
        res.crossed += 1;
        // Consume the burst: move `u` from what was read to this observation's time.
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("k", s(&marker_key))
            .update_expression("SET u = :t, c = :c, v = :v, #ttl = :ttl")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":t", n(now_ms))
            .expression_attribute_values(":c", n(last_bucket_count))
            .expression_attribute_values(":v", s(ITEM_VERSION))
            .expression_attribute_values(":ttl", n(now_ms / 1000 + batch.window_ms / 1000 + 3600));
        req = match marker_raw {
            Some(old) => req
                .condition_expression("u = :old")
                .expression_attribute_values(":old", old),
            None => req.condition_expression("attribute_not_exists(u)"),
        };
        match req.send().await {
            Ok(_) => {
                self.raise(batch, count, first_ms, res);
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                res.raised_elsewhere += 1;
                Ok(())
            }
            Err(e) => Err(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()),
        }
    }

    /// `BatchGetItem` of `keys` (strongly consistent), unprocessed keys retried.
    pub(crate) async fn batch_get(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, HashMap<String, AttributeValue>>, String> {
        let mut out = HashMap::new();
        for chunk in keys.chunks(BATCH_GET_KEYS) {
            let mut todo: Vec<HashMap<String, AttributeValue>> = chunk
                .iter()
                .map(|k| HashMap::from([("k".to_owned(), s(k))]))
                .collect();
            for _attempt in 0..8 {
                if todo.is_empty() {
                    break;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut todo)))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| e.to_string())?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
                for item in resp
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    if let Some(AttributeValue::S(k)) = item.get("k") {
                        out.insert(k.clone(), item.clone());
                    }
                }
                if let Some(left) = resp.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                    todo = left.keys().to_vec();
                }
            }
            if !todo.is_empty() {
                return Err(format!("{} keys left unprocessed by BatchGetItem", todo.len()));
            }
        }
        Ok(out)
    }
}

/// Lock a mutex; a panic that poisoned it elsewhere does not stop the function.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_a_tenth_of_the_window_and_at_least_a_second() {
        assert_eq!(bucket_ms(600_000), 60_000);
        assert_eq!(bucket_ms(5_000), 1_000);
    }
}
