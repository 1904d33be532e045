//! The rule index: which rules an event can meet, looked up by the values of a few equality keys
//! instead of evaluating every rule of its source and kind.
//!
//! Most rules name what they are about with an equality: a CloudTrail rule its `api.action`
//! (or at least its `api.service`), a flow rule its `target.port` or `flow.action`. When a
//! rule's condition can only hold if such a field has one of a few values — whatever the rest of
//! the condition says — the rule is filed under those values. An event reads its key values,
//! looks them up, and evaluates only the rules filed under them plus the rules filed under no
//! key, in rule order, so findings come out exactly as they would without the index.
//!
//! Filing is exact, never a heuristic: an `in` test files under its values with the same
//! comparison the test makes ([`super::eval`]'s `scalar_eq`), a `glob` without wildcards under
//! its ASCII lower-cased text (the glob matches case-insensitively; an event value that is not
//! ASCII meets all such rules, since Unicode case folding is wider than ASCII's), an `any`
//! under the union of its branches when every branch is filed under the same field, an `all`
//! under any one of its parts. A rule that fits none of these is filed under no key.

use std::collections::HashMap;

use super::Rule;
use super::condition::{Condition, Scalar, Test};
use super::field::Field;
use crate::event::{Event, Kind};

/// Hasher of the index maps: their keys are the rules' own values (never inserted from
/// events), so a fixed fast hasher is safe.
type Map<K> = HashMap<K, Vec<u32>, foldhash::fast::FixedState>;

/// An index field and how an event's value for it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyField {
    ApiAction,
    ApiService,
    TargetPort,
    FlowAction,
}

/// The index fields, most selective first: a rule is filed under the first it is bound to.
const KEY_FIELDS: [(KeyField, &str); 4] = [
    (KeyField::ApiAction, "api.action"),
    (KeyField::ApiService, "api.service"),
    (KeyField::TargetPort, "target.port"),
    (KeyField::FlowAction, "flow.action"),
];

impl KeyField {
    /// Whether the event's value is a number (`Val::Int`) rather than text (`Val::Str`).
    fn numeric(self) -> bool {
        self == KeyField::TargetPort
    }
}

/// An event's value of an index field, as `rules::field` reads it.
enum KeyValue<'e> {
    Text(&'e str),
    Int(i64),
}

fn value_of<'e>(event: &'e Event<'_>, field: KeyField) -> Option<KeyValue<'e>> {
    match (field, &event.kind) {
        (KeyField::ApiAction, Kind::ApiCall(api)) => Some(KeyValue::Text(&api.action)),
        (KeyField::ApiService, Kind::ApiCall(api)) => Some(KeyValue::Text(&api.service)),
        (KeyField::FlowAction, Kind::Flow(flow)) => flow.action.as_deref().map(KeyValue::Text),
        (KeyField::TargetPort, _) => event.target.port.map(|p| KeyValue::Int(i64::from(p))),
        _ => None,
    }
}

/// The values a field must have for a condition to hold.
#[derive(Debug, Default)]
struct Required {
    /// Exact texts (`in` of strings).
    exact: Vec<String>,
    /// ASCII lower-cased texts compared case-insensitively (`glob` without wildcards).
    folded: Vec<String>,
    /// Numbers (`in` on a numeric field).
    ints: Vec<i64>,
}

impl Required {
    fn len(&self) -> usize {
        self.exact.len() + self.folded.len() + self.ints.len()
    }

    fn extend(&mut self, other: Required) {
        self.exact.extend(other.exact);
        self.folded.extend(other.folded);
        self.ints.extend(other.ints);
    }
}

/// What one test of a leaf on `field` requires, if it can be filed.
fn required_by_test(test: &Test, numeric: bool) -> Option<Required> {
    match test {
        // A text field compares strings exactly; a number written as a string would compare
        // by parsing (`scalar_eq`), so such a set is not filed.
        Test::In(set) if !numeric => set
            .iter()
            .map(|s| match s {
                Scalar::Str(x) => Some(x.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|exact| Required {
                exact,
                ..Required::default()
            }),
        // A numeric field equals an integer, or a string that parses to it; nothing else can
        // equal a number, so it is left out (it could never match).
        Test::In(set) => Some(Required {
            ints: set
                .iter()
                .filter_map(|s| match s {
                    Scalar::Int(n) => Some(*n),
                    Scalar::Str(x) => x.parse().ok(),
                    Scalar::Bool(_) => None,
                })
                .collect(),
            ..Required::default()
        }),
        Test::Glob(_, Some(literals)) if !numeric => Some(Required {
            folded: literals.to_vec(),
            ..Required::default()
        }),
        _ => None,
    }
}

/// The values `field` must have for `cond` to hold, when the condition says so.
fn required(cond: &Condition, field: &str, numeric: bool) -> Option<Required> {
    match cond {
        Condition::Leaf {
            field: Field::Fixed(name),
            tests,
            ..
        } if *name == field => tests
            .iter()
            .filter_map(|t| required_by_test(t, numeric))
            .min_by_key(Required::len),
        Condition::Leaf { .. } | Condition::Not(_) => None,
        Condition::All(parts) => parts
            .iter()
            .filter_map(|p| required(p, field, numeric))
            .min_by_key(Required::len),
        Condition::Any(parts) if parts.is_empty() => None,
        Condition::Any(parts) => {
            let mut all = Required::default();
            for p in parts {
                all.extend(required(p, field, numeric)?);
            }
            Some(all)
        }
    }
}

/// Rules filed by the values of one field.
#[derive(Clone, Debug)]
struct KeyIndex {
    field: KeyField,
    exact: Map<Box<str>>,
    folded: Map<Box<str>>,
    /// Every position filed under a folded text: what an event whose value is not ASCII meets.
    folded_all: Vec<u32>,
    ints: Map<i64>,
}

impl KeyIndex {
    fn new(field: KeyField) -> Self {
        KeyIndex {
            field,
            exact: Map::default(),
            folded: Map::default(),
            folded_all: Vec::new(),
            ints: Map::default(),
        }
    }

    fn file(&mut self, pos: u32, req: Required) {
        let push = |list: &mut Vec<u32>| {
            if list.last() != Some(&pos) {
                list.push(pos);
            }
        };
        for v in req.exact {
            push(self.exact.entry(v.into_boxed_str()).or_default());
        }
        if !req.folded.is_empty() {
            push(&mut self.folded_all);
        }
        for v in req.folded {
            push(self.folded.entry(v.into_boxed_str()).or_default());
        }
        for v in req.ints {
            push(self.ints.entry(v).or_default());
        }
    }

    /// Add the positions `event` meets to `out`.
    fn lookup(&self, event: &Event<'_>, fold: &mut String, out: &mut Vec<u32>) {
        match value_of(event, self.field) {
            None => {}
            Some(KeyValue::Int(n)) => out.extend(self.ints.get(&n).into_iter().flatten()),
            Some(KeyValue::Text(t)) => {
                out.extend(self.exact.get(t).into_iter().flatten());
                if self.folded_all.is_empty() {
                    return;
                }
                if t.is_ascii() {
                    fold.clear();
                    fold.push_str(t);
                    fold.make_ascii_lowercase();
                    out.extend(self.folded.get(fold.as_str()).into_iter().flatten());
                } else {
                    out.extend(&self.folded_all);
                }
            }
        }
    }
}

/// The rules of one (source, kind), filed by key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bucket {
    /// Indexes (in the rule set) of the rules of this source and kind, in rule order; the
    /// positions below index this list.
    pub(crate) rules: Vec<usize>,
    /// Every position, in order (what an event meets when nothing is filed).
    every: Vec<u32>,
    /// Positions filed under no key.
    open: Vec<u32>,
    keys: Vec<KeyIndex>,
}

impl Bucket {
    /// File `members` (indexes into `rules`, in rule order).
    pub(crate) fn build(members: Vec<usize>, rules: &[Rule]) -> Bucket {
        let mut keys: Vec<KeyIndex> = Vec::new();
        let mut open = Vec::new();
        for (pos, &i) in members.iter().enumerate() {
            let pos = pos as u32;
            let filed = KEY_FIELDS.iter().find_map(|&(field, name)| {
                required(&rules[i].condition, name, field.numeric()).map(|req| (field, req))
            });
            match filed {
                None => open.push(pos),
                Some((field, req)) => {
                    let at = match keys.iter().position(|k| k.field == field) {
                        Some(at) => at,
                        None => {
                            keys.push(KeyIndex::new(field));
                            keys.len() - 1
                        }
                    };
                    keys[at].file(pos, req);
                }
            }
        }
        Bucket {
            every: (0..members.len() as u32).collect(),
            rules: members,
            open,
            keys,
        }
    }

    /// The positions of the rules `event` can meet, in rule order (`scratch` and `fold` are
    /// reused buffers: no allocation once they have grown).
    pub(crate) fn candidates<'s>(
        &'s self,
        event: &Event<'_>,
        scratch: &'s mut Vec<u32>,
        fold: &mut String,
    ) -> &'s [u32] {
        if self.keys.is_empty() {
            return &self.every;
        }
        scratch.clear();
        scratch.extend_from_slice(&self.open);
        for k in &self.keys {
            k.lookup(event, fold, scratch);
        }
        // Each rule is filed under one field, and once per value list: no duplicates.
        scratch.sort_unstable();
        scratch
    }

    /// Rules filed under a key, and rules filed under none (for `laneguard rules` statistics
    /// and tests).
    #[cfg(test)]
    fn filed(&self) -> (usize, usize) {
        (self.rules.len() - self.open.len(), self.open.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    fn rule(text: &str) -> Vec<Rule> {
        let (set, errors) = RuleSet::from_sources([("r.toml", text)]);
        assert!(errors.is_empty(), "{errors:?}");
        set.rules().to_vec()
    }

    #[test]
    fn filing() {
        let filed = |m: &str| {
            let text = format!("id = \"r\"\ntitle = \"t\"\nseverity = \"low\"\n{m}");
            Bucket::build(vec![0], &rule(&text)).filed()
        };
        assert_eq!(filed("[match]\napi.action = [\"A\", \"B\"]\n"), (1, 0));
        assert_eq!(
            filed("[match]\napi.action = { glob = \"Delete*\" }\napi.service = \"rds.amazonaws.com\"\n"),
            (1, 0)
        );
        assert_eq!(filed("[match]\napi.action = { glob = \"Delete*\" }\n"), (0, 1));
        assert_eq!(
            filed(
                "[match]\n[[match.any]]\napi.action = \"A\"\n[[match.any]]\napi.action = { glob = \"b\" }\n"
            ),
            (1, 0)
        );
        assert_eq!(
            filed("[match]\n[[match.any]]\napi.action = \"A\"\n[[match.any]]\nactor.user = \"x\"\n"),
            (0, 1)
        );
        assert_eq!(filed("[match.not]\napi.action = \"A\"\n"), (0, 1));
        assert_eq!(filed("[match]\ntarget.port = [3306, \"5432\"]\n"), (1, 0));
    }
}
