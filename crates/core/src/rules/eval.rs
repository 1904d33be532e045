//! Evaluating compiled conditions against one event.
//!
//! Keywords (`contains`) of every rule share one Aho-Corasick automaton: an event's text is
//! scanned once per field, whatever the number of rules. Regexes run one by one, lazily, only
//! for the rules still in play (each result cached per event). Rules evaluate a copy of their
//! condition with cheap fixed-field tests first ([`Condition::planned`]); the part of a verdict
//! that a statement's shape settles is computed once per shape ([`Condition::settle`]).

use std::net::IpAddr;

use ipnet::IpNet;
use regex::Regex;

use super::condition::{Cmp, Condition, FieldCmp, Scalar, Shared, Test};
use super::field::{Docs, Field, Val, any_value, any_value_at, describe, fixed_index};
use crate::event::{Classification, Event};

/// Per-event evaluation state: parsed CloudTrail documents, and the keyword and regex hits of
/// each text field, computed on first use.
#[derive(Debug)]
pub struct EvalCtx<'r, 'e, 'a> {
    /// The event.
    pub event: &'e Event<'a>,
    pub(crate) docs: Docs,
    hits: &'r mut Hits,
    scanners: &'r Scanners,
}

/// The keyword and regex results of one event, in buffers a rule set keeps from event to event
/// so that evaluating an event allocates nothing once the buffers have grown (they are reset,
/// not freed, by [`EvalCtx::new`]).
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// Per field slot: whether its keyword hits were computed for this event.
    keywords_done: Vec<bool>,
    /// Keyword hits, `keyword_count` per slot, valid where `keywords_done` says so.
    keywords: Vec<bool>,
    /// Regex results, flat by [`Scanners::regex_base`] of the slot plus the regex id:
    /// 0 = not yet run, 1 = no match, 2 = match. Each regex runs on its own, on first use, so an
    /// event pays only for the regexes a candidate rule asks about.
    regexes: Vec<u8>,
}

impl Hits {
    fn reset(&mut self, scanners: &Scanners) {
        let slots = scanners.fields.len();
        self.keywords_done.clear();
        self.keywords_done.resize(slots, false);
        if self.keywords.len() != slots * scanners.keyword_count {
            self.keywords.clear();
            self.keywords.resize(slots * scanners.keyword_count, false);
        }
        self.regexes.clear();
        self.regexes.resize(scanners.regex_total, 0);
    }
}

/// The compiled scanners of a rule set: one keyword automaton, the regexes of each field.
#[derive(Clone, Debug)]
pub struct Scanners {
    pub(crate) keywords: Option<aho_corasick::AhoCorasick>,
    pub(crate) keyword_count: usize,
    /// The regexes of each field slot, by id, each run on its own and only when a candidate
    /// rule asks (an anchored `^CALL …` fails at the first byte; a set would scan the whole
    /// text for every pattern of the field).
    pub(crate) regexes: Vec<Vec<Regex>>,
    pub(crate) fields: Vec<Field>,
    /// Fixed-field index of each slot's field (see `field::fixed_index`).
    pub(crate) fixed: Vec<Option<usize>>,
    /// Where each slot's regex results start in [`Hits`].
    pub(crate) regex_base: Vec<usize>,
    /// The number of regexes of all slots.
    pub(crate) regex_total: usize,
}

impl Scanners {
    /// Build the scanners from the shared registries.
    pub fn build(shared: &Shared) -> Result<Scanners, String> {
        let keywords = if shared.keywords.is_empty() {
            None
        } else {
            Some(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(&shared.keywords)
                    .map_err(|e| format!("keyword automaton: {e}"))?,
            )
        };
        // Each regex was compiled (with its size limit) when its rule compiled; a field's
        // regexes run one by one, never as a set (see `regexes` above).
        let regexes = shared
            .regexes
            .iter()
            .map(|list| list.iter().map(|(_, re)| re.clone()).collect())
            .collect();
        let fixed = shared
            .fields
            .iter()
            .map(|f| match f {
                Field::Fixed(name) => fixed_index(name),
                Field::Json(..) => None,
            })
            .collect();
        let mut regex_base = Vec::with_capacity(shared.regexes.len());
        let mut regex_total = 0;
        for list in &shared.regexes {
            regex_base.push(regex_total);
            regex_total += list.len();
        }
        Ok(Scanners {
            keywords,
            keyword_count: shared.keywords.len(),
            regexes,
            fields: shared.fields.clone(),
            fixed,
            regex_base,
            regex_total,
        })
    }
}

impl<'r, 'e, 'a> EvalCtx<'r, 'e, 'a> {
    /// A context for one event, with `hits` (the rule set's reused buffers) reset.
    pub fn new(event: &'e Event<'a>, scanners: &'r Scanners, hits: &'r mut Hits) -> Self {
        hits.reset(scanners);
        EvalCtx {
            event,
            docs: Docs::default(),
            hits,
            scanners,
        }
    }

    fn keywords(&mut self, slot: usize) -> &[bool] {
        let count = self.scanners.keyword_count;
        let Some(range) = slot.checked_mul(count).and_then(|start| {
            self.hits
                .keywords
                .get(start..start + count)
                .map(|_| start..start + count)
        }) else {
            return &[];
        };
        if self.hits.keywords_done.get(slot) == Some(&false) {
            let hits = &mut self.hits.keywords[range.clone()];
            hits.fill(false);
            if let Some(ac) = &self.scanners.keywords {
                let field = &self.scanners.fields[slot];
                let fixed = self.scanners.fixed.get(slot).copied().flatten();
                any_value_at(self.event, &mut self.docs, field, fixed, &mut |v| {
                    if let Some(text) = v.as_text() {
                        for m in ac.find_overlapping_iter(text.as_ref()) {
                            hits[m.pattern().as_usize()] = true;
                        }
                    }
                    false
                });
            }
            self.hits.keywords_done[slot] = true;
        }
        &self.hits.keywords[range]
    }

    /// Whether regex `id` of `slot` matches some value of the slot's field (computed once).
    fn regex(&mut self, slot: usize, id: usize) -> bool {
        let Some(re) = self.scanners.regexes.get(slot).and_then(|l| l.get(id)) else {
            return false;
        };
        let Some(at) = self.scanners.regex_base.get(slot).map(|b| b + id) else {
            return false;
        };
        match self.hits.regexes.get(at).copied() {
            Some(1) => return false,
            Some(2) => return true,
            _ => {}
        }
        let field = &self.scanners.fields[slot];
        let fixed = self.scanners.fixed.get(slot).copied().flatten();
        let hit = any_value_at(self.event, &mut self.docs, field, fixed, &mut |v| {
            v.as_text().is_some_and(|text| re.is_match(text.as_ref()))
        });
        if let Some(k) = self.hits.regexes.get_mut(at) {
            *k = if hit { 2 } else { 1 };
        }
        hit
    }
}

fn scalar_eq(s: &Scalar, v: &Val<'_>) -> bool {
    match (s, v) {
        (Scalar::Str(a), Val::Str(b)) => a == b.as_ref(),
        (Scalar::Str(a), Val::Ip(ip)) => a.parse::<IpAddr>().is_ok_and(|x| x == *ip),
        (Scalar::Str(a), Val::Int(n)) => a.parse::<i64>().is_ok_and(|x| x == *n),
        (Scalar::Str(a), Val::Bool(b)) => a == if *b { "true" } else { "false" },
        (Scalar::Int(a), Val::Int(n)) => a == n,
        (Scalar::Int(a), Val::Str(b)) => b.parse::<i64>().is_ok_and(|x| x == *a),
        // AWS writes some booleans as strings ("true").
        (Scalar::Bool(a), Val::Bool(b)) => a == b,
        (Scalar::Bool(a), Val::Str(b)) => b.eq_ignore_ascii_case(if *a { "true" } else { "false" }),
        // An object or array is its compact JSON text.
        (Scalar::Str(a), Val::Json(j)) => *a == j.to_string(),
        _ => false,
    }
}

fn as_number(field: &Field, v: &Val<'_>) -> Option<f64> {
    match v {
        Val::Int(n) => Some(*n as f64),
        Val::Str(s) if *field == Field::Fixed("classification") => {
            Classification::from_name(s).map(|c| c as u8 as f64)
        }
        Val::Str(s) => s.parse().ok(),
        _ => None,
    }
}

fn as_net(v: &Val<'_>) -> Option<IpNet> {
    match v {
        Val::Ip(ip) => Some(IpNet::from(*ip)),
        Val::Str(s) => s
            .parse::<IpNet>()
            .ok()
            .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from)),
        _ => None,
    }
}

fn test_holds(
    ctx: &mut EvalCtx<'_, '_, '_>,
    field: &Field,
    fixed: Option<usize>,
    slot: usize,
    test: &Test,
) -> bool {
    let event = ctx.event;
    match test {
        Test::Contains(ids) => {
            let hits = ctx.keywords(slot);
            ids.iter().any(|i| hits.get(*i).copied().unwrap_or(false))
        }
        Test::Regex(ids) => ids.iter().any(|&i| ctx.regex(slot, i)),
        Test::Exists(want) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |_| true) == *want,
        Test::Field(other, cmp) => {
            let mut others: Vec<String> = Vec::new();
            any_value(event, &mut ctx.docs, other, &mut |v| {
                if let Some(t) = v.as_text() {
                    others.push(t.into_owned());
                }
                false
            });
            any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
                v.as_text().is_some_and(|t| {
                    let t = t.as_ref();
                    let some = |f: &dyn Fn(&str) -> bool| others.iter().any(|o| f(o));
                    match cmp {
                        FieldCmp::Eq => some(&|o| t == o),
                        FieldCmp::Ne => !others.is_empty() && !some(&|o| t == o),
                        FieldCmp::Contains => some(&|o| t.contains(o)),
                        FieldCmp::StartsWith => some(&|o| t.starts_with(o)),
                        FieldCmp::EndsWith => some(&|o| t.ends_with(o)),
                    }
                })
            })
        }
        Test::AllOf(wanted) => wanted
            .iter()
            .all(|w| any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| scalar_eq(w, v))),
        Test::In(set) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            set.iter().any(|s| scalar_eq(s, v))
        }),
        Test::Glob(re, _) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            v.as_text().is_some_and(|t| re.is_match(&t))
        }),
        Test::StartsWith(p) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            v.as_text()
                .is_some_and(|t| p.iter().any(|p| t.starts_with(p.as_str())))
        }),
        Test::EndsWith(p) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            v.as_text()
                .is_some_and(|t| p.iter().any(|p| t.ends_with(p.as_str())))
        }),
        Test::Cidr(nets) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            as_net(v).is_some_and(|n| nets.iter().any(|net| net.contains(&n)))
        }),
        Test::PrefixLte(max) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            as_net(v).is_some_and(|n| n.prefix_len() <= *max)
        }),
        Test::Compare(op, x) => any_value_at(event, &mut ctx.docs, field, fixed, &mut |v| {
            as_number(field, v).is_some_and(|n| match op {
                Cmp::Gt => n > *x,
                Cmp::Gte => n >= *x,
                Cmp::Lt => n < *x,
                Cmp::Lte => n <= *x,
            })
        }),
    }
}

impl Condition {
    /// Rough evaluation cost, for ordering: fixed-field compares are cheap, document parses,
    /// keyword and regex scans are not.
    fn cost(&self) -> u32 {
        match self {
            Condition::All(parts) | Condition::Any(parts) => parts.iter().map(Condition::cost).sum(),
            Condition::Not(p) => p.cost(),
            Condition::Leaf { field, tests, .. } => {
                let base = match field {
                    Field::Fixed(_) => 1,
                    Field::Json(..) => 20,
                };
                base + tests
                    .iter()
                    .map(|t| match t {
                        Test::Contains(_) | Test::Regex(_) => 50,
                        Test::Field(..) => 20,
                        Test::Glob(..) | Test::Cidr(_) | Test::PrefixLte(_) => 5,
                        _ => 1,
                    })
                    .sum::<u32>()
            }
        }
    }

    /// The same condition for evaluation: the parts of every `all` and `any` ordered cheapest
    /// first (stable), so that a rule is usually rejected by a fixed-field compare before any
    /// text scan. Conditions are pure, so the order never changes the result; `explain` keeps
    /// using the condition as written.
    pub fn planned(&self) -> Condition {
        match self {
            Condition::All(parts) | Condition::Any(parts) => {
                let mut parts: Vec<Condition> = parts.iter().map(Condition::planned).collect();
                parts.sort_by_key(Condition::cost);
                if matches!(self, Condition::All(_)) {
                    Condition::All(parts)
                } else {
                    Condition::Any(parts)
                }
            }
            Condition::Not(p) => Condition::Not(Box::new(p.planned())),
            Condition::Leaf { .. } => self.clone(),
        }
    }

    /// Three-valued evaluation that reads only the fields `known` accepts: `Some(result)` when
    /// those leaves settle the condition whatever the other leaves would say, `None` when it
    /// depends on them. Conditions are pure, so a settled result equals [`Condition::holds`] for
    /// every event whose `known` fields have the same values.
    pub fn settle(&self, ctx: &mut EvalCtx<'_, '_, '_>, known: fn(&Field) -> bool) -> Option<bool> {
        match self {
            Condition::All(parts) => {
                let mut open = false;
                for p in parts {
                    match p.settle(ctx, known) {
                        Some(false) => return Some(false),
                        Some(true) => {}
                        None => open = true,
                    }
                }
                if open { None } else { Some(true) }
            }
            Condition::Any(parts) => {
                let mut open = false;
                for p in parts {
                    match p.settle(ctx, known) {
                        Some(true) => return Some(true),
                        Some(false) => {}
                        None => open = true,
                    }
                }
                if open { None } else { Some(false) }
            }
            Condition::Not(p) => p.settle(ctx, known).map(|b| !b),
            Condition::Leaf { field, tests, .. } => {
                if known(field) && !tests.iter().any(|t| matches!(t, Test::Field(..))) {
                    Some(self.holds(ctx))
                } else {
                    None
                }
            }
        }
    }

    /// Whether the condition holds for the event.
    pub fn holds(&self, ctx: &mut EvalCtx<'_, '_, '_>) -> bool {
        match self {
            Condition::All(parts) => parts.iter().all(|p| p.holds(ctx)),
            Condition::Any(parts) => parts.iter().any(|p| p.holds(ctx)),
            Condition::Not(p) => !p.holds(ctx),
            Condition::Leaf {
                field,
                slot,
                tests,
                fixed,
                ..
            } => tests.iter().all(|t| test_holds(ctx, field, *fixed, *slot, t)),
        }
    }

    /// Why the condition does not hold: the failing leaves with the values the event had.
    pub fn explain(&self, ctx: &mut EvalCtx<'_, '_, '_>, out: &mut Vec<String>) {
        match self {
            Condition::All(parts) => {
                for p in parts {
                    if !p.holds(ctx) {
                        p.explain(ctx, out);
                    }
                }
            }
            Condition::Any(parts) => {
                if !self.holds(ctx) {
                    let mut inner = Vec::new();
                    for p in parts {
                        p.explain(ctx, &mut inner);
                    }
                    out.push(format!("none of `any` held: {}", inner.join("; ")));
                }
            }
            Condition::Not(p) => {
                if p.holds(ctx) {
                    out.push("the `not` condition held".to_owned());
                }
            }
            Condition::Leaf { field, written, .. } => {
                if !self.holds(ctx) {
                    let event = ctx.event;
                    out.push(format!(
                        "{written} did not hold (event has {})",
                        describe(event, &mut ctx.docs, field)
                    ));
                }
            }
        }
    }
}
