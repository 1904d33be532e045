//! Sequence rules across functions, in the DynamoDB table of shared state ([`crate::state`]).
//!
//! Each function sees one source, in containers of its own: the CloudTrail half of "audit
//! weakened, then DDL" and its audit-log half meet only here. The rule set leaves every step
//! match of a sequence rule to this store ([`laneguard_core::rules::sequence::Observation`],
//! `Engine::take_sequences`); after each batch, [`SharedState::resolve_sequences`] files them
//! under their join key, looks for chains with the core's own logic
//! ([`laneguard_core::rules::sequence::decide_held`]: the chains and findings `laneguard replay`
//! raises, whatever the arrival order) and raises a chain's finding in the one container whose
//! conditional write consumes it.
//!
//! Items (format version `v` = [`SEQUENCE_VERSION`]; the layout is in [`crate::state`]'s
//! module doc): `q#<key>` (the occurrences of one join key of one rule), `v#<coverage>` (a
//! coverage key seen on an absent-step event) and `d#<rule>` (the keys of an absence rule with
//! undecided occurrences, by deadline).
//!
//! Exactly once: writing an occurrence is `SET o.#e = if_not_exists(o.#e, :occ)` (a redelivered
//! record, or one already consumed, changes nothing); a decision is a write that replaces the
//! consumed occurrences by tombstones and moves the item's decision counter `n` from the value
//! read — only one container's write succeeds for one state of the item, the others re-read
//! and decide again (and find the chain consumed).
//!
//! When DynamoDB fails (after the SDK's retries), the key's observations of the batch go to the
//! container's own in-memory [`SequenceState`] (so what this container sees whole is still
//! detected) and the fallback is counted; nothing panics and the batch is not lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::{SignedDuration, Timestamp};
use laneguard_core::event::OriginBuf;
use laneguard_core::finding::Finding;
use laneguard_core::rules::sequence::{Held, Observation, Sequence, SequenceState, decide_held};
use laneguard_core::rules::{Mode, Rule};

use crate::state::SharedState;

/// Format version of the sequence items (`q#`, `v#`, `d#`).
pub const SEQUENCE_VERSION: &str = "1";
/// Most live positive-step occurrences kept per key item (oldest evicted first; the core keeps
/// 256 in memory, an item must also stay far below DynamoDB's 400 KB).
pub const MAX_LIVE: usize = 192;
/// Most absent-step events kept per key item (already thinned: see [`thin`]).
pub const MAX_ABSENT: usize = 256;
/// Most tombstones (consumed occurrences, ~60 bytes each) kept per key item.
pub const MAX_TOMBSTONES: usize = 512;
/// A key item estimated larger than this is pruned (oldest live occurrences first)…
pub const MAX_ITEM_BYTES: usize = 160 * 1024;
/// …down to this.
pub const PRUNED_ITEM_BYTES: usize = 120 * 1024;
/// An occurrence larger than this (its finding, mostly) is not written to the table: decided on
/// this container's state, and counted.
pub const MAX_OCCURRENCE_BYTES: usize = 16 * 1024;
/// Most keys an absence rule's due list holds (~40 bytes each).
pub const MAX_DUE: usize = 4_000;
/// Occurrences per write (the 4 KB expression limit) and their bytes.
const WRITE_CHUNK: usize = 40;
const WRITE_CHUNK_BYTES: usize = 48 * 1024;
/// Tombstones and removals per write.
const CONSUME_CHUNK: usize = 150;
/// Decisions tried per key before leaving it to a later batch.
const DECIDE_ATTEMPTS: usize = 4;
/// How long a coverage marker lives, and how often a container rewrites one.
const COVERAGE_TTL_S: i64 = 30 * 86_400;
const COVERAGE_REWRITE: Duration = Duration::from_secs(3_600);
/// A due list is read again after this long even when no deadline known to the container is due.
const DUE_RECHECK: Duration = Duration::from_secs(60);
/// How long an item outlives its newest event (or now, whichever is later), past `within` and
/// `late`.
const TTL_MARGIN_S: i64 = 86_400;

/// What one [`SharedState::resolve_sequences`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SequenceResolution {
    /// Sequence findings raised by this container.
    #[serde(skip)]
    pub findings: Vec<Finding>,
    /// Step matches of the batch.
    pub observations: u64,
    /// Keys decided in the table (the batch's and due ones).
    pub keys: u64,
    /// Of those, keys of an absence rule taken from its due list.
    pub due_decided: u64,
    /// Decisions another container's write consumed first (this one re-read and decided again).
    pub raced: u64,
    /// Keys left undecided after every attempt lost a race (decided by a later batch).
    pub contended: u64,
    /// Keys decided on this container's state because the table failed.
    pub decided_locally: u64,
    /// DynamoDB calls that failed after the SDK's retries.
    pub store_errors: u64,
    /// Items or occurrences of another format version or shape, ignored.
    pub items_ignored: u64,
    /// Occurrences evicted by the per-item bounds.
    pub occurrences_evicted: u64,
    /// Occurrences over [`MAX_OCCURRENCE_BYTES`], decided on this container's state.
    pub too_large: u64,
    /// Events of an absence rule of one positive step not written: an earlier event of their
    /// key and window in the same batch stands for them.
    pub windowed_folded: u64,
    /// Absence chains not raised because no absent-step event was seen for their coverage key.
    pub not_covered: u64,
    /// Keys not added to a full due list (decided when a batch touches them again).
    pub due_full: u64,
    /// Findings not raised because the rule's suppression muted the key (per container).
    pub suppressed: u64,
}

/// What the store needs to know of the rule set: the absence rules (their due lists are read
/// even when a batch has no step of theirs) and each sequence rule's suppression.
#[derive(Clone, Debug, Default)]
pub struct SequenceRules {
    /// The absence rules.
    pub absences: Vec<Arc<Sequence>>,
    /// Rule id → suppression duration.
    pub suppress: HashMap<String, SignedDuration>,
}

impl SequenceRules {
    /// The sequence rules of `rules` that are not off.
    pub fn of(rules: &[Rule]) -> SequenceRules {
        let mut out = SequenceRules::default();
        for r in rules.iter().filter(|r| r.mode != Mode::Off) {
            let Some(seq) = &r.sequence else { continue };
            if seq.absent_step().is_some() {
                out.absences.push(Arc::clone(seq));
            }
            if let Some(s) = &r.suppress {
                out.suppress.insert(r.id.clone(), s.duration);
            }
        }
        out
    }

    /// Whether any rule is a sequence the store must look at without a step in the batch.
    pub fn has_absences(&self) -> bool {
        !self.absences.is_empty()
    }
}

/// The container's part of the sequence store: its fallback state, what it wrote and read.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// Keys the table could not take: the container's own in-memory state.
    local: SequenceState,
    /// Coverage keys written, and when.
    coverage: HashMap<u64, Instant>,
    /// Per absence rule: when its due list was read, and the earliest deadline (µs) known since.
    due: HashMap<String, (Instant, Option<i64>)>,
    /// Suppression: (rule, key) → muted until.
    muted: HashMap<(String, u64), Timestamp>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn err(e: impl Into<aws_sdk_dynamodb::Error>) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e.into()).to_string()
}

fn micros(d: SignedDuration) -> i64 {
    d.as_micros().clamp(0, i128::from(i64::MAX)) as i64
}

/// The name of an occurrence in an item's `o` map: unique per (step, record).
fn entry_name(step: usize, id: u64) -> String {
    format!("{step}#{id:016x}")
}

/// An entry of a key item, as read.
#[derive(Debug)]
struct Entry {
    name: String,
    step: usize,
    time: i64,
    tomb: bool,
    bytes: usize,
    held: Option<Held>,
}

/// A key item, as read.
#[derive(Debug, Default)]
struct KeyItem {
    /// The decision counter (`None`: never decided).
    counter: Option<AttributeValue>,
    entries: Vec<Entry>,
}

/// The batch's observations of one key.
struct KeyBatch {
    sequence: Arc<Sequence>,
    /// Occurrence entries to write: (name, value, bytes).
    writes: Vec<(String, AttributeValue, usize)>,
    /// The observations, for the fallback.
    observations: Vec<Observation>,
    newest: i64,
}

/// Keep, of absent-step event times (µs, sorted, with their indices), the fewest whose
/// consecutive points within each run (points at most `gap` apart) stay at most `gap` apart, the
/// run's first and last kept: "an absent-step event within a range at least `gap` long" (what
/// absence asks) has the same answer for the kept points as for all of them. Returns the kept
/// indices.
fn thin(times: &[(i64, usize)], gap: i64) -> Vec<usize> {
    let mut kept = Vec::new();
    let mut i = 0;
    while i < times.len() {
        kept.push(times[i].1);
        let mut last = i;
        let mut j = i;
        while j + 1 < times.len() && times[j + 1].0 - times[j].0 <= gap {
            if times[j + 1].0 - times[last].0 > gap {
                kept.push(times[j].1);
                last = j;
            }
            j += 1;
        }
        if j != last {
            kept.push(times[j].1);
        }
        i = j + 1;
    }
    kept
}

/// The map value of an occurrence.
fn occurrence_value(o: &Observation) -> Result<(AttributeValue, usize), String> {
    let mut m = HashMap::new();
    m.insert("t".to_owned(), n(o.time.as_microsecond()));
    m.insert("s".to_owned(), n(o.step));
    let absent = o.sequence.steps.get(o.step).is_some_and(|s| s.absent.is_some());
    let mut bytes = 40;
    if !absent {
        if let Some(c) = o.coverage {
            m.insert("c".to_owned(), s(format!("{c:016x}")));
            bytes += 20;
        }
        let origin = serde_json::to_string(&o.origin).map_err(|e| e.to_string())?;
        bytes += origin.len();
        m.insert("g".to_owned(), s(origin));
        if let Some(f) = &o.finding {
            let f = serde_json::to_string(f).map_err(|e| e.to_string())?;
            bytes += f.len();
            m.insert("f".to_owned(), s(f));
        }
    }
    Ok((AttributeValue::M(m), bytes))
}

/// Read an entry of the `o` map (`None`: not of this format; counted by the caller).
fn read_entry(name: &str, v: &AttributeValue, absent: Option<usize>) -> Option<Entry> {
    let m = v.as_m().ok()?;
    let num = |k: &str| {
        m.get(k)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
    };
    let (step_text, id_text) = name.split_once('#')?;
    let step: usize = step_text.parse().ok()?;
    let id = u64::from_str_radix(id_text, 16).ok()?;
    let time = num("t")?;
    if num("s")? != step as i64 {
        return None;
    }
    let tomb = m.contains_key("x");
    let mut bytes = name.len() + 30;
    let held = if tomb {
        None
    } else {
        let coverage = match m.get("c") {
            Some(c) => Some(u64::from_str_radix(c.as_s().ok()?, 16).ok()?),
            None => None,
        };
        let origin: OriginBuf = match m.get("g") {
            Some(g) => {
                let g = g.as_s().ok()?;
                bytes += g.len();
                serde_json::from_str(g).ok()?
            }
            None if Some(step) == absent => OriginBuf::default(),
            None => return None,
        };
        let finding = match m.get("f") {
            Some(f) => {
                let f = f.as_s().ok()?;
                bytes += f.len();
                Some(Box::new(serde_json::from_str::<Finding>(f).ok()?))
            }
            None => None,
        };
        Some(Held {
            step,
            time: Timestamp::from_microsecond(time).ok()?,
            id,
            coverage,
            origin,
            finding,
        })
    };
    Some(Entry {
        name: name.to_owned(),
        step,
        time,
        tomb,
        bytes,
        held,
    })
}

impl SharedState {
    /// File a batch's sequence step matches in the table, decide the keys they touch and the
    /// keys of absence rules whose deadline `watermark` (the newest event time of the batch)
    /// has passed, and return the findings this container raises. Never fails: a key the
    /// table cannot take is decided on the container's own state (and counted).
    pub async fn resolve_sequences(
        &self,
        observations: Vec<Observation>,
        watermark: Option<Timestamp>,
        rules: &SequenceRules,
    ) -> SequenceResolution {
        let mut res = SequenceResolution {
            observations: observations.len() as u64,
            ..SequenceResolution::default()
        };
        let mut local: Vec<Observation> = Vec::new();
        let mut coverage: BTreeSet<u64> = BTreeSet::new();
        let mut keys: BTreeMap<u64, KeyBatch> = BTreeMap::new();
        // Absent-step times per key, thinned before writing.
        let mut absent: BTreeMap<u64, Vec<(i64, usize)>> = BTreeMap::new();
        let mut all: Vec<Option<Observation>> = observations.into_iter().map(Some).collect();
        for (i, o) in all.iter().enumerate() {
            let Some(o) = o else { continue };
            if o.sequence.absent_step() == Some(o.step) {
                if let Some(c) = o.coverage {
                    coverage.insert(c);
                }
                absent
                    .entry(o.key)
                    .or_default()
                    .push((o.time.as_microsecond(), i));
            }
        }
        let mut skip: BTreeSet<usize> = BTreeSet::new();
        // An absence rule of one positive step keeps one occurrence per window of `within`
        // (`Sequence::windowed`): of a batch's events of one key and window only the earliest is
        // written — the one the table's state would keep (the same finding id as replay; the
        // count is the events written, a lower bound). A flow function's records to a busy
        // datastore then cost a write per client and window, not one per record.
        let mut earliest: BTreeMap<(u64, i64), (i64, u64, usize)> = BTreeMap::new();
        for (i, o) in all.iter().enumerate() {
            let Some(o) = o else { continue };
            if !o.sequence.windowed() || o.sequence.absent_step() == Some(o.step) {
                continue;
            }
            let now = o.time.as_microsecond();
            let bucket = now.div_euclid(micros(o.sequence.within).max(1));
            let e = earliest.entry((o.key, bucket)).or_insert((now, o.id, i));
            if (now, o.id) < (e.0, e.1) {
                skip.insert(e.2);
                *e = (now, o.id, i);
                res.windowed_folded += 1;
            } else if e.2 != i {
                skip.insert(i);
                res.windowed_folded += 1;
            }
        }
        for mut times in absent.into_values() {
            times.sort_unstable();
            let gap = all[times[0].1].as_ref().map_or(0, |o| micros(o.sequence.within));
            let kept: BTreeSet<usize> = thin(&times, gap).into_iter().collect();
            skip.extend(times.iter().map(|(_, i)| *i).filter(|i| !kept.contains(i)));
        }
        for (i, slot) in all.iter_mut().enumerate() {
            let Some(o) = slot.take() else { continue };
            let batch = keys.entry(o.key).or_insert_with(|| KeyBatch {
                sequence: Arc::clone(&o.sequence),
                writes: Vec::new(),
                observations: Vec::new(),
                newest: i64::MIN,
            });
            batch.newest = batch.newest.max(o.time.as_microsecond());
            if !skip.contains(&i) {
                match occurrence_value(&o) {
                    Ok((v, bytes)) if bytes <= MAX_OCCURRENCE_BYTES => {
                        batch.writes.push((entry_name(o.step, o.id), v, bytes));
                    }
                    Ok(_) | Err(_) => {
                        res.too_large += 1;
                        local.push(o);
                        continue;
                    }
                }
            }
            batch.observations.push(o);
        }
        self.write_coverage(&coverage, &mut res).await;
        let mut decided: BTreeSet<u64> = BTreeSet::new();
        for (key, batch) in keys {
            decided.insert(key);
            let done = match self.write_occurrences(key, &batch).await {
                Ok(()) => {
                    self.decide_key(key, &batch.sequence, watermark, rules, &mut res)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = done {
                tracing::warn!(table = %self.table, error = %e, "shared sequence store unavailable; deciding on this container's state");
                res.store_errors += 1;
                res.decided_locally += 1;
                local.extend(batch.observations);
            }
        }
        if let Some(w) = watermark {
            for seq in &rules.absences {
                if let Err(e) = self.decide_due(seq, w, rules, &mut decided, &mut res).await {
                    tracing::warn!(table = %self.table, rule = %seq.rule, error = %e, "due list of an absence rule unreadable");
                    res.store_errors += 1;
                }
            }
        }
        // The fallback: this container's own state, settled at the watermark like the core's.
        let mut found = Vec::new();
        {
            let mut mem = crate::state::lock(&self.sequences);
            for o in local {
                found.extend(mem.local.observe(o));
            }
            if !mem.local.is_empty() {
                mem.local.settle(watermark, &mut found);
            }
        }
        // (The rule's suppression is keyed by join key, which a fallback finding does not carry:
        // not applied here.)
        res.findings.extend(found);
        res
    }

    /// Raise `f` unless the rule's suppression muted its (rule, key) in this container.
    fn raise_sequence(
        &self,
        f: Finding,
        rule: &str,
        key: u64,
        rules: &SequenceRules,
        res: &mut SequenceResolution,
    ) {
        if let Some(duration) = rules.suppress.get(rule) {
            let mut mem = crate::state::lock(&self.sequences);
            let k = (rule.to_owned(), key);
            if mem.muted.get(&k).is_some_and(|until| f.time < *until) {
                res.suppressed += 1;
                return;
            }
            if mem.muted.len() >= 100_000 {
                let t = f.time;
                mem.muted.retain(|_, until| *until > t);
            }
            mem.muted
                .insert(k, f.time.checked_add(*duration).unwrap_or(f.time));
        }
        res.findings.push(f);
    }

    /// Mark the coverage keys of the batch's absent-step events as seen (once an hour per
    /// container and key).
    async fn write_coverage(&self, coverage: &BTreeSet<u64>, res: &mut SequenceResolution) {
        let now = Instant::now();
        for c in coverage {
            let fresh = crate::state::lock(&self.sequences)
                .coverage
                .get(c)
                .is_some_and(|at| now.duration_since(*at) < COVERAGE_REWRITE);
            if fresh {
                continue;
            }
            let ttl = Timestamp::now().as_second() + COVERAGE_TTL_S;
            let sent = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("k", s(format!("v#{c:016x}")))
                .update_expression("SET v = :v, #ttl = :ttl")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":v", s(SEQUENCE_VERSION))
                .expression_attribute_values(":ttl", n(ttl))
                .send()
                .await;
            match sent {
                Ok(_) => {
                    let mut mem = crate::state::lock(&self.sequences);
                    if mem.coverage.len() >= 100_000 {
                        mem.coverage.clear();
                    }
                    mem.coverage.insert(*c, now);
                }
                Err(e) => {
                    tracing::warn!(table = %self.table, error = %err(e), "coverage marker not written");
                    res.store_errors += 1;
                }
            }
        }
    }

    /// The item's TTL: a day past `within` and `late` after its newest event or now.
    fn ttl(seq: &Sequence, newest_us: i64) -> i64 {
        let base = Timestamp::now().as_second().max(newest_us.div_euclid(1_000_000));
        base + micros(seq.within) / 1_000_000 + micros(seq.late) / 1_000_000 + TTL_MARGIN_S
    }

    /// Write the batch's occurrences of `key` (`if_not_exists`: idempotent, and a consumed
    /// occurrence's tombstone stays).
    async fn write_occurrences(&self, key: u64, batch: &KeyBatch) -> Result<(), String> {
        let k = format!("q#{key:016x}");
        let ttl = Self::ttl(&batch.sequence, batch.newest);
        let mut chunk: Vec<&(String, AttributeValue, usize)> = Vec::new();
        let mut bytes = 0;
        let mut chunks = Vec::new();
        for w in &batch.writes {
            if !chunk.is_empty() && (chunk.len() >= WRITE_CHUNK || bytes + w.2 > WRITE_CHUNK_BYTES) {
                chunks.push(std::mem::take(&mut chunk));
                bytes = 0;
            }
            bytes += w.2;
            chunk.push(w);
        }
        if !chunk.is_empty() {
            chunks.push(chunk);
        }
        for chunk in chunks {
            let mut sets = Vec::new();
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("k", s(&k))
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":v", s(SEQUENCE_VERSION))
                .expression_attribute_values(":ttl", n(ttl))
                .expression_attribute_values(":r", s(&batch.sequence.rule));
            let mut whole = HashMap::new();
            for (i, (name, value, _)) in chunk.iter().enumerate() {
                sets.push(format!("o.#e{i} = if_not_exists(o.#e{i}, :e{i})"));
                req = req
                    .expression_attribute_names(format!("#e{i}"), name.clone())
                    .expression_attribute_values(format!(":e{i}"), value.clone());
                whole.insert(name.clone(), value.clone());
            }
            let nested = req
                .clone()
                .update_expression(format!("SET {}, v = :v, #ttl = :ttl, r = :r", sets.join(", ")));
            let e = match nested.send().await {
                Ok(_) => continue,
                Err(e) => e,
            };
            if e.code() != Some("ValidationException") {
                return Err(err(e));
            }
            // No `o` map yet (a nested path needs its parent): create it with this chunk, unless
            // another container just did — then write into it.
            let create = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("k", s(&k))
                .update_expression("SET o = :o, v = :v, #ttl = :ttl, r = :r")
                .condition_expression("attribute_not_exists(o)")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":o", AttributeValue::M(whole))
                .expression_attribute_values(":v", s(SEQUENCE_VERSION))
                .expression_attribute_values(":ttl", n(ttl))
                .expression_attribute_values(":r", s(&batch.sequence.rule))
                .send()
                .await;
            match create {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    req.update_expression(format!("SET {}, v = :v, #ttl = :ttl, r = :r", sets.join(", ")))
                        .send()
                        .await
                        .map_err(err)?;
                }
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    }

    /// Read a key item (strongly consistent).
    async fn read_key(
        &self,
        key: u64,
        seq: &Sequence,
        res: &mut SequenceResolution,
    ) -> Result<KeyItem, String> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("k", s(format!("q#{key:016x}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        let mut item = KeyItem::default();
        let Some(attrs) = out.item() else {
            return Ok(item);
        };
        if attrs.get("v").and_then(|v| v.as_s().ok()).map(String::as_str) != Some(SEQUENCE_VERSION) {
            res.items_ignored += 1;
            return Ok(item);
        }
        item.counter = attrs.get("n").cloned();
        let absent = seq.absent_step();
        if let Some(AttributeValue::M(o)) = attrs.get("o") {
            for (name, v) in o {
                match read_entry(name, v, absent) {
                    Some(e) if e.step < seq.steps.len() => item.entries.push(e),
                    _ => res.items_ignored += 1,
                }
            }
        }
        item.entries
            .sort_by(|a, b| (a.time, &a.name).cmp(&(b.time, &b.name)));
        Ok(item)
    }

    /// The entries to evict from `item` to keep it within its bounds (oldest first), counted.
    fn over_bounds(item: &KeyItem, seq: &Sequence, res: &mut SequenceResolution) -> BTreeSet<String> {
        let absent = seq.absent_step();
        let mut out = BTreeSet::new();
        let live: Vec<&Entry> = item
            .entries
            .iter()
            .filter(|e| !e.tomb && Some(e.step) != absent)
            .collect();
        let abs: Vec<&Entry> = item
            .entries
            .iter()
            .filter(|e| !e.tomb && Some(e.step) == absent)
            .collect();
        let tombs: Vec<&Entry> = item.entries.iter().filter(|e| e.tomb).collect();
        for (list, cap, counted) in [
            (&live, MAX_LIVE, true),
            (&abs, MAX_ABSENT, true),
            (&tombs, MAX_TOMBSTONES, false),
        ] {
            for e in list.iter().take(list.len().saturating_sub(cap)) {
                out.insert(e.name.clone());
                if counted {
                    res.occurrences_evicted += 1;
                }
            }
        }
        let mut size: usize = item
            .entries
            .iter()
            .filter(|e| !out.contains(&e.name))
            .map(|e| e.bytes)
            .sum();
        if size > MAX_ITEM_BYTES {
            for e in live.iter().chain(tombs.iter()) {
                if size <= PRUNED_ITEM_BYTES {
                    break;
                }
                if out.insert(e.name.clone()) {
                    size -= e.bytes;
                    if !e.tomb {
                        res.occurrences_evicted += 1;
                    }
                }
            }
        }
        out
    }

    /// Remove `names` from a key item's map (idempotent: no condition).
    async fn remove_entries(&self, key: u64, names: &BTreeSet<String>) -> Result<(), String> {
        let names: Vec<&String> = names.iter().collect();
        for chunk in names.chunks(CONSUME_CHUNK) {
            let mut req = self
                .client
                .update_item()
                .table_name(&self.table)
                .key("k", s(format!("q#{key:016x}")))
                .condition_expression("attribute_exists(o)");
            let mut parts = Vec::new();
            for (i, name) in chunk.iter().enumerate() {
                parts.push(format!("o.#p{i}"));
                req = req.expression_attribute_names(format!("#p{i}"), (*name).clone());
            }
            match req
                .update_expression(format!("REMOVE {}", parts.join(", ")))
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(())
    }

    /// Whether each coverage key was seen on an absent-step event, in any container.
    async fn read_coverage(&self, wanted: &BTreeSet<u64>) -> Result<BTreeSet<u64>, String> {
        if wanted.is_empty() {
            return Ok(BTreeSet::new());
        }
        let names: Vec<String> = wanted.iter().map(|c| format!("v#{c:016x}")).collect();
        let items = self.batch_get(&names).await?;
        Ok(wanted
            .iter()
            .filter(|c| {
                items.get(&format!("v#{c:016x}")).is_some_and(|i| {
                    i.get("v").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(SEQUENCE_VERSION)
                })
            })
            .copied()
            .collect())
    }

    /// Decide `key`: read it, evict over its bounds, run the core's decision, and consume what
    /// it names with a write conditional on the item's decision counter; raise the findings
    /// only if that write succeeded. Register an absence rule's key in its due list while it
    /// holds undecided chain ends.
    async fn decide_key(
        &self,
        key: u64,
        seq: &Arc<Sequence>,
        watermark: Option<Timestamp>,
        rules: &SequenceRules,
        res: &mut SequenceResolution,
    ) -> Result<(), String> {
        res.keys += 1;
        let absent = seq.absent_step();
        for _attempt in 0..DECIDE_ATTEMPTS {
            let mut item = self.read_key(key, seq, res).await?;
            let evict = Self::over_bounds(&item, seq, res);
            if !evict.is_empty() {
                self.remove_entries(key, &evict).await?;
                item.entries.retain(|e| !evict.contains(&e.name));
            }
            let mut names = Vec::new();
            let mut held = Vec::new();
            for e in &mut item.entries {
                if let Some(h) = e.held.take() {
                    names.push((e.name.clone(), e.step, e.time));
                    held.push(h);
                }
            }
            let covered = if seq.covered {
                let wanted: BTreeSet<u64> = held
                    .iter()
                    .filter(|h| Some(h.step) != absent)
                    .filter_map(|h| h.coverage)
                    .collect();
                self.read_coverage(&wanted).await?
            } else {
                BTreeSet::new()
            };
            let decision = decide_held(seq, &held, &|c| covered.contains(&c), watermark);
            // The chain ends still undecided: the earliest is when the key is next due.
            let last = seq.positives().saturating_sub(1);
            let late = micros(seq.within).saturating_add(micros(seq.late));
            // (Chain ends due at or before the watermark were decided: one left is no chain's end
            // until more comes for the key, which decides it again.)
            let w = watermark.map_or(i64::MIN, |w| w.as_microsecond());
            let next_due = absent.and_then(|_| {
                names
                    .iter()
                    .enumerate()
                    .filter(|(i, (_, step, _))| *step == last && !decision.consumed.contains(i))
                    .map(|(_, (_, _, t))| t.saturating_add(late))
                    .filter(|d| *d > w)
                    .min()
            });
            if decision.consumed.is_empty() {
                if let Some(d) = next_due {
                    self.add_due(seq, key, d, res).await?;
                }
                return Ok(());
            }
            let consumed: Vec<&(String, usize, i64)> = decision.consumed.iter().map(|&i| &names[i]).collect();
            if self.consume(key, &item, &consumed).await? {
                res.not_covered += decision.counters.not_covered;
                for f in decision.findings {
                    let rule = seq.rule.clone();
                    self.raise_sequence(f, &rule, key, rules, res);
                }
                if let Some(d) = next_due {
                    self.add_due(seq, key, d, res).await?;
                }
                return Ok(());
            }
            res.raced += 1;
        }
        res.contended += 1;
        Ok(())
    }

    /// Replace `consumed` by tombstones, if the item's decision counter is still what was read.
    /// `Ok(false)`: another container decided first.
    async fn consume(
        &self,
        key: u64,
        item: &KeyItem,
        consumed: &[&(String, usize, i64)],
    ) -> Result<bool, String> {
        // One write: a decision is all or nothing (the bounds keep it within the 4 KB expression).
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("k", s(format!("q#{key:016x}")));
        let mut sets = Vec::new();
        for (i, (name, step, time)) in consumed.iter().take(MAX_LIVE).enumerate() {
            sets.push(format!("o.#c{i} = :c{i}"));
            let tomb = HashMap::from([
                ("t".to_owned(), n(time)),
                ("s".to_owned(), n(step)),
                ("x".to_owned(), n(1)),
            ]);
            req = req
                .expression_attribute_names(format!("#c{i}"), name.clone())
                .expression_attribute_values(format!(":c{i}"), AttributeValue::M(tomb));
        }
        let (condition, next) = match &item.counter {
            Some(AttributeValue::N(c)) => ("n = :n0", c.parse::<u64>().unwrap_or(0) + 1),
            _ => ("attribute_not_exists(n)", 1),
        };
        if let Some(c) = &item.counter {
            req = req.expression_attribute_values(":n0", c.clone());
        }
        let sent = req
            .update_expression(format!("SET {}, n = :n1", sets.join(", ")))
            .condition_expression(format!("attribute_exists(o) AND {condition}"))
            .expression_attribute_values(":n1", n(next))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Add `key` to the due list of its absence rule, due at `deadline` (µs).
    async fn add_due(
        &self,
        seq: &Sequence,
        key: u64,
        deadline: i64,
        res: &mut SequenceResolution,
    ) -> Result<(), String> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("k", s(format!("d#{}", seq.rule)))
            .update_expression("ADD s :e SET v = :v, #ttl = :ttl")
            .condition_expression("attribute_not_exists(s) OR size(s) < :cap")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":e", AttributeValue::Ss(vec![due_element(deadline, key)]))
            .expression_attribute_values(":v", s(SEQUENCE_VERSION))
            .expression_attribute_values(":ttl", n(Timestamp::now().as_second() + COVERAGE_TTL_S))
            .expression_attribute_values(":cap", n(MAX_DUE))
            .send()
            .await;
        match sent {
            Ok(_) => {
                let mut mem = crate::state::lock(&self.sequences);
                if let Some((_, next)) = mem.due.get_mut(&seq.rule) {
                    *next = Some(next.map_or(deadline, |d| d.min(deadline)));
                }
                Ok(())
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                res.due_full += 1;
                Ok(())
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Decide the keys of an absence rule whose deadline `watermark` has passed (read at most
    /// once a minute per container unless a deadline it knows of is due).
    async fn decide_due(
        &self,
        seq: &Arc<Sequence>,
        watermark: Timestamp,
        rules: &SequenceRules,
        decided: &mut BTreeSet<u64>,
        res: &mut SequenceResolution,
    ) -> Result<(), String> {
        let w = watermark.as_microsecond();
        let now = Instant::now();
        let due = crate::state::lock(&self.sequences).due.get(&seq.rule).copied();
        if let Some((read, next)) = due
            && now.duration_since(read) < DUE_RECHECK
            && next.is_none_or(|d| d > w)
        {
            return Ok(());
        }
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("k", s(format!("d#{}", seq.rule)))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        let mut elements: Vec<(i64, u64, String)> = Vec::new();
        if let Some(item) = out.item() {
            if item.get("v").and_then(|v| v.as_s().ok()).map(String::as_str) == Some(SEQUENCE_VERSION) {
                if let Some(AttributeValue::Ss(set)) = item.get("s") {
                    for e in set {
                        match parse_due(e) {
                            Some((d, k)) => elements.push((d, k, e.clone())),
                            None => res.items_ignored += 1,
                        }
                    }
                }
            } else {
                res.items_ignored += 1;
            }
        }
        elements.sort_unstable();
        let mut next: Option<i64> = None;
        let mut done: Vec<String> = Vec::new();
        for (deadline, key, element) in elements {
            if deadline > w {
                next = Some(next.map_or(deadline, |d| d.min(deadline)));
                continue;
            }
            if decided.insert(key) {
                res.due_decided += 1;
                // Re-registered by the decision if the key still holds undecided chain ends.
                self.decide_key(key, seq, Some(watermark), rules, res).await?;
            }
            done.push(element);
        }
        if !done.is_empty() {
            self.client
                .update_item()
                .table_name(&self.table)
                .key("k", s(format!("d#{}", seq.rule)))
                .update_expression("DELETE s :e")
                .expression_attribute_values(":e", AttributeValue::Ss(done))
                .send()
                .await
                .map_err(err)?;
        }
        let mut mem = crate::state::lock(&self.sequences);
        let merged = match mem.due.get(&seq.rule) {
            // Deadlines this container registered while deciding.
            Some((_, Some(d))) if *d > w => Some(next.map_or(*d, |x| x.min(*d))),
            _ => next,
        };
        mem.due.insert(seq.rule.clone(), (now, merged));
        Ok(())
    }
}

/// `<deadline µs, 20 digits>#<key hex>`: a due list's elements sort by deadline.
fn due_element(deadline: i64, key: u64) -> String {
    format!("{:020}#{key:016x}", deadline.max(0))
}

fn parse_due(e: &str) -> Option<(i64, u64)> {
    let (d, k) = e.split_once('#')?;
    Some((d.parse().ok()?, u64::from_str_radix(k, 16).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinning_keeps_every_range_answer() {
        let gap = 10;
        for points in [
            vec![5i64, 100, 12, 30, 21, 200, 95],
            vec![
                0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 40,
            ],
            vec![0, 9, 18, 27, 36, 45, 54],
            vec![0, 11, 22, 33],
            vec![7],
        ] {
            let mut times: Vec<(i64, usize)> = points.iter().enumerate().map(|(i, p)| (*p, i)).collect();
            times.sort_unstable();
            let kept: Vec<i64> = thin(&times, gap).into_iter().map(|i| points[i]).collect();
            for a in -20..250i64 {
                let b = a + gap;
                let truth = points.iter().any(|p| *p >= a && *p <= b);
                let answer = kept.iter().any(|p| *p >= a && *p <= b);
                assert_eq!(truth, answer, "[{a}, {b}] {points:?} kept {kept:?}");
            }
        }
    }

    fn sequence() -> Arc<Sequence> {
        use laneguard_core::rules::sequence::{Absence, Step};
        Arc::new(Sequence {
            rule: "t.x".into(),
            within: SignedDuration::from_mins(5),
            late: SignedDuration::from_mins(1),
            skew: SignedDuration::ZERO,
            steps: vec![
                Step {
                    name: "a".into(),
                    count: 1,
                    absent: None,
                },
                Step {
                    name: "b".into(),
                    count: 1,
                    absent: Some(Absence::Around),
                },
            ],
            covered: true,
        })
    }

    /// What an occurrence is written as is what it is read back as: the finding whole (its id,
    /// evidence and times are what the table's decision raises), the origin, the coverage.
    #[test]
    fn an_occurrence_reads_back_as_written() {
        let finding: Finding = serde_json::from_value(serde_json::json!({
            "id": "f-1", "rule_id": "t.x", "title": "x", "severity": "high",
            "time": "2026-11-28T09:20:00Z", "source": "vpc-flow", "actor": {"ip": "10.0.16.9"},
            "evidence": {"origin": {"log_group": "/vpc/flow-logs", "event_id": "1", "index": 0}},
            "count": 1, "datastore": "payments-db"
        }))
        .unwrap();
        let obs = Observation {
            sequence: sequence(),
            step: 0,
            key: 7,
            coverage: Some(u64::MAX - 1),
            time: finding.time,
            id: 0xfeed,
            origin: finding.evidence.origin.clone(),
            finding: Some(Box::new(finding.clone())),
        };
        let (value, bytes) = occurrence_value(&obs).unwrap();
        assert!(bytes < MAX_OCCURRENCE_BYTES);
        let e = read_entry(&entry_name(0, 0xfeed), &value, Some(1)).unwrap();
        assert_eq!(
            (e.step, e.time, e.tomb),
            (0, finding.time.as_microsecond(), false)
        );
        let h = e.held.unwrap();
        assert_eq!(
            (h.id, h.coverage, h.time),
            (0xfeed, Some(u64::MAX - 1), finding.time)
        );
        assert_eq!(h.origin, finding.evidence.origin);
        assert_eq!(h.finding.as_deref(), Some(&finding));
        // An absent-step event holds its time only; a name of another shape is not ours.
        let absent = Observation {
            step: 1,
            finding: None,
            ..obs
        };
        let (value, _) = occurrence_value(&absent).unwrap();
        let e = read_entry(&entry_name(1, 3), &value, Some(1)).unwrap();
        assert!(
            e.held
                .is_some_and(|h| h.coverage.is_none() && h.finding.is_none())
        );
        assert!(read_entry("x#y", &value, Some(1)).is_none());
    }

    /// Over its bounds, an item loses its oldest live occurrences (counted) and tombstones.
    #[test]
    fn items_are_bounded_oldest_first() {
        let seq = sequence();
        let entry = |step: usize, time: i64, tomb: bool, bytes: usize| Entry {
            name: entry_name(step, time as u64),
            step,
            time,
            tomb,
            bytes,
            held: None,
        };
        let mut item = KeyItem::default();
        for t in 0..(MAX_LIVE as i64 + 8) {
            item.entries.push(entry(0, t, false, 100));
        }
        for t in 0..(MAX_TOMBSTONES as i64 + 3) {
            item.entries.push(entry(0, 10_000 + t, true, 60));
        }
        item.entries.sort_by_key(|e| e.time);
        let mut res = SequenceResolution::default();
        let evict = SharedState::over_bounds(&item, &seq, &mut res);
        assert_eq!(res.occurrences_evicted, 8);
        assert_eq!(evict.len(), 8 + 3);
        assert!(evict.contains(&entry_name(0, 0)) && !evict.contains(&entry_name(0, 8)));
        // By size: the oldest live ones go until the item is back under the pruned size.
        let mut big = KeyItem::default();
        for t in 0..20 {
            big.entries.push(entry(0, t, false, 12 * 1024));
        }
        let mut res = SequenceResolution::default();
        let evict = SharedState::over_bounds(&big, &seq, &mut res);
        let left: usize = 20 - evict.len();
        assert!(left * 12 * 1024 <= PRUNED_ITEM_BYTES, "{left}");
        assert!((left + 1) * 12 * 1024 > PRUNED_ITEM_BYTES, "{left}");
        assert!(evict.contains(&entry_name(0, 0)));
    }

    #[test]
    fn due_elements_sort_by_deadline() {
        let a = due_element(9_000_000, u64::MAX);
        let b = due_element(10_000_000, 1);
        assert!(a < b);
        assert_eq!(parse_due(&b), Some((10_000_000, 1)));
    }
}
