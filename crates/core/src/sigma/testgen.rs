//! The `[[tests]]` that `laneguard sigma convert` adds for review: one CloudTrail record built to
//! match the rule and one that differs from it in a single field and does not match.
//!
//! They are derived from the rule itself, so they show what the rule does, not whether it is
//! right: a reviewer should replace them with real records. Each is checked through the real
//! parser and the compiled rule before it is printed; when no record can be built (a regex, a
//! zone the generator cannot place) the rule gets no generated test and says so.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use super::Converted;
use super::detection::{Expr, KEYWORD_FIELD};
use super::fields;
use crate::policy::Policy;
use crate::rule_tests::run_test;
use crate::rules::{RuleSet, TestInput, TestSpec};

/// A generated test: its name, whether the rule must fire, and the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Generated {
    /// What the test shows.
    pub name: String,
    /// Whether the rule must fire.
    pub expect: bool,
    /// The CloudTrail record (compact JSON).
    pub record: String,
}

/// The record every generated test starts from: an IAM user's call, accepted by AWS.
fn base() -> Json {
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLEGENERATED",
            "arn": "arn:aws:iam::111122223333:user/reviewer",
            "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLEGENERATED",
            "userName": "reviewer"
        },
        "eventTime": "2026-01-01T00:00:00Z",
        "eventSource": "generated.amazonaws.com",
        "eventName": "GeneratedCall",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "generated-test",
        "requestParameters": null,
        "responseElements": null,
        "requestID": "00000000-0000-4000-8000-000000000000",
        "eventID": "00000000-0000-4000-8000-000000000001",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    })
}

/// The CloudTrail path a laneguard path is written at (keywords: a request parameter).
fn record_path(path: &str) -> Option<Vec<String>> {
    if path == KEYWORD_FIELD {
        return Some(vec!["requestParameters".into(), "generatedKeyword".into()]);
    }
    fields::unmap(path).map(|p| p.split('.').map(str::to_owned).collect())
}

fn set(rec: &mut Json, path: &[String], v: Json) {
    let mut node = rec;
    for (i, seg) in path.iter().enumerate() {
        if !node.is_object() {
            *node = Json::Object(Map::new());
        }
        let Json::Object(map) = node else { return };
        if i + 1 == path.len() {
            map.insert(seg.clone(), v);
            return;
        }
        node = map.entry(seg.clone()).or_insert(Json::Null);
    }
}

fn remove(rec: &mut Json, path: &[String]) {
    let Some((last, init)) = path.split_last() else {
        return;
    };
    let mut node = rec;
    for seg in init {
        match node.get_mut(seg) {
            Some(n) => node = n,
            None => return,
        }
    }
    if let Json::Object(map) = node {
        map.remove(last);
    }
}

fn get<'j>(rec: &'j Json, path: &[String]) -> Option<&'j Json> {
    path.iter().try_fold(rec, |n, seg| n.get(seg))
}

fn first(v: &toml::Value) -> Option<&toml::Value> {
    match v {
        toml::Value::Array(a) => a.first(),
        other => Some(other),
    }
}

fn to_json(v: &toml::Value) -> Option<Json> {
    Some(match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(n) => json!(n),
        toml::Value::Float(x) => json!(x),
        toml::Value::Boolean(b) => Json::Bool(*b),
        _ => return None,
    })
}

/// A value a leaf's spec accepts (`None`: the field must be absent; `Err`: no value known).
fn witness(spec: &toml::Value, rec: &Json) -> Result<Option<Json>, ()> {
    let toml::Value::Table(ops) = spec else {
        return first(spec).and_then(to_json).map(Some).ok_or(());
    };
    let mut out: Option<Json> = None;
    for (op, v) in ops {
        let one = first(v).ok_or(())?;
        let value = match (op.as_str(), one) {
            ("exists", toml::Value::Boolean(false)) => return Ok(None),
            ("exists", _) => Json::String("generated".into()),
            ("eq" | "in", x) => to_json(x).ok_or(())?,
            ("glob", toml::Value::String(g)) => {
                let t: String = g.replace('*', "").replace('?', "x");
                Json::String(if t.is_empty() { "generated".into() } else { t })
            }
            ("contains", toml::Value::String(c)) => Json::String(format!("generated {c} value")),
            ("cidr", toml::Value::String(c)) => {
                let net: ipnet::IpNet = c.parse().map_err(|_| ())?;
                Json::String(net.network().to_string())
            }
            ("gt" | "gte" | "lt" | "lte", x) => {
                let n = match x {
                    toml::Value::Integer(n) => *n as f64,
                    toml::Value::Float(f) => *f,
                    _ => return Err(()),
                };
                let n = match op.as_str() {
                    "gt" => n + 1.0,
                    "lt" => n - 1.0,
                    _ => n,
                };
                if n.fract() == 0.0 {
                    json!(n as i64)
                } else {
                    json!(n)
                }
            }
            (
                "eq_field" | "contains_field" | "starts_with_field" | "ends_with_field",
                toml::Value::String(p),
            ) => {
                let other = record_path(p).ok_or(())?;
                get(rec, &other)
                    .cloned()
                    .unwrap_or(Json::String("generated".into()))
            }
            _ => return Err(()),
        };
        match &out {
            Some(prev) if *prev != value => return Err(()),
            _ => out = Some(value),
        }
    }
    out.map(Some).ok_or(())
}

/// Make `e` hold (`want`) or fail on `rec`, greedily; false when the generator cannot.
fn solve(e: &Expr, want: bool, rec: &mut Json) -> bool {
    match (e, want) {
        (Expr::Not(x), w) => solve(x, !w, rec),
        (Expr::All(parts), true) | (Expr::Any(parts), false) => parts.iter().all(|p| solve(p, want, rec)),
        (Expr::All(parts), false) | (Expr::Any(parts), true) => parts.iter().any(|p| {
            let mut trial = rec.clone();
            let ok = solve(p, want, &mut trial);
            if ok {
                *rec = trial;
            }
            ok
        }),
        (Expr::Leaf(path, spec), true) => {
            let Some(at) = record_path(path) else { return false };
            match witness(spec, rec) {
                Ok(Some(v)) => set(rec, &at, v),
                Ok(None) => remove(rec, &at),
                Err(()) => return false,
            }
            true
        }
        (Expr::Leaf(path, spec), false) => {
            let Some(at) = record_path(path) else { return false };
            match witness(spec, rec) {
                Ok(None) => set(rec, &at, Json::String("generated".into())),
                _ => remove(rec, &at),
            }
            true
        }
    }
}

/// The leaves of `e` with the polarity they hold in (for near misses).
fn leaves<'e>(e: &'e Expr, positive: bool, out: &mut Vec<(&'e str, &'e toml::Value, bool)>) {
    match e {
        Expr::All(p) | Expr::Any(p) => p.iter().for_each(|x| leaves(x, positive, out)),
        Expr::Not(x) => leaves(x, !positive, out),
        Expr::Leaf(f, v) => out.push((f, v, positive)),
    }
}

/// Whether the converted rule fires on `record` (through the real parser and the rule alone).
fn fires(set: &RuleSet, record: &str, expect: bool, policy: Option<&Arc<Policy>>) -> bool {
    let Some(rule) = set.rules().first() else {
        return false;
    };
    let test = TestSpec::single(
        None,
        expect,
        TestInput {
            source: "cloudtrail".into(),
            record: Some(record.to_owned()),
            records: Vec::new(),
            log_group: None,
        },
    );
    run_test(rule, 0, &test, policy).passed
}

/// A matching and a near-missing record for a converted rule, each checked; with a note when
/// none could be built.
pub fn generate(c: &Converted, policy: Option<&Arc<Policy>>) -> (Vec<Generated>, Option<String>) {
    let (rules, errors) = RuleSet::from_sources([(format!("{}.toml", c.id).as_str(), c.toml.as_str())]);
    if !errors.is_empty() {
        return (Vec::new(), Some("the rule does not compile".into()));
    }
    let mut rec = base();
    if !solve(&c.condition, true, &mut rec) {
        return (
            Vec::new(),
            Some("no record could be built to match (regexes and zones need a hand-written test)".into()),
        );
    }
    let positive = rec.to_string();
    if !fires(&rules, &positive, true, policy) {
        return (
            Vec::new(),
            Some("the record built to match does not match: write the tests by hand".into()),
        );
    }
    let mut out = vec![Generated {
        name: "generated: built to match (review it)".into(),
        expect: true,
        record: positive,
    }];
    let mut candidates = Vec::new();
    leaves(&c.condition, true, &mut candidates);
    for (path, spec, positive) in candidates {
        let Some(at) = record_path(path) else { continue };
        let mut miss = rec.clone();
        if positive {
            match get(&miss, &at) {
                Some(Json::String(s)) => {
                    let changed = format!("{s}-changed");
                    set(&mut miss, &at, Json::String(changed));
                }
                Some(_) => remove(&mut miss, &at),
                None => set(&mut miss, &at, Json::String("generated".into())),
            }
        } else {
            match witness(spec, &miss) {
                Ok(Some(v)) => set(&mut miss, &at, v),
                _ => continue,
            }
        }
        let text = miss.to_string();
        if text != out[0].record && fires(&rules, &text, false, policy) {
            out.push(Generated {
                name: format!(
                    "generated: just misses ({} changed; review it)",
                    fields::unmap(path).unwrap_or_else(|| path.to_owned())
                ),
                expect: false,
                record: text,
            });
            return (out, None);
        }
    }
    (
        out,
        Some("no near-missing record found: add a negative test by hand".into()),
    )
}

/// The `[[tests]]` entries of generated tests, as TOML.
pub fn toml(tests: &[Generated]) -> String {
    let mut out = String::new();
    for t in tests {
        out.push_str("\n[[tests]]\n");
        super::emit::entries(
            &mut out,
            &[
                ("name", toml::Value::String(t.name.clone())),
                ("expect", toml::Value::Boolean(t.expect)),
            ],
        );
        let mut input = toml::Table::new();
        input.insert("source".into(), toml::Value::String("cloudtrail".into()));
        input.insert("record".into(), toml::Value::String(t.record.clone()));
        out.push_str(&format!("input = {}\n", toml::Value::Table(input)));
    }
    out
}
