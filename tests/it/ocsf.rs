//! OCSF output (DESIGN.md §6): every record laneguard renders from every reference sample —
//! each event as its activity class, each event as a Detection Finding — validates against the
//! OCSF 1.8.0 JSON Schemas vendored in `tests/fixtures/ocsf/`, carries the class, activity and
//! status its event implies, and never carries a literal of the raw SQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use laneguard_core::event::{Classification, Enrichment, Event, Kind};
use laneguard_core::finding::{Finding, Severity};
use laneguard_core::input::InputOptions;
use laneguard_core::ocsf;
use serde_json::Value;

use crate::common::{for_each_event, repo};

/// The vendored OCSF schemas, one validator per class.
pub struct Schemas {
    by_class: BTreeMap<u64, jsonschema::Validator>,
}

impl Schemas {
    /// Load and compile the vendored schemas (once per test: it takes a moment).
    pub fn load() -> Schemas {
        let mut by_class = BTreeMap::new();
        for (class, file) in [
            (2004, "detection_finding"),
            (6005, "datastore_activity"),
            (6003, "api_activity"),
            (4001, "network_activity"),
        ] {
            let path = repo().join(format!("tests/fixtures/ocsf/{file}.schema.json"));
            // The generated schemas name three Windows objects `win/…` in `$defs` and refer to
            // them as `#/$defs/win/…`, which JSON Pointer reads as two levels; escape the `/` as
            // RFC 6901 requires (`~1`) so the references resolve. Nothing else is touched.
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("\"#/$defs/win/", "\"#/$defs/win~1");
            let schema: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(schema["properties"]["class_uid"]["const"], class, "{file}");
            by_class.insert(class, jsonschema::draft202012::new(&schema).unwrap());
        }
        Schemas { by_class }
    }

    /// Schema errors of a record (empty when it validates), judged by its own `class_uid`.
    pub fn errors(&self, record: &Value) -> Vec<String> {
        let Some(class) = record["class_uid"].as_u64() else {
            return vec!["no class_uid".into()];
        };
        let Some(v) = self.by_class.get(&class) else {
            return vec![format!("class_uid {class} is not one laneguard emits")];
        };
        v.iter_errors(record)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

/// The vendored-schema errors of one OCSF record (for other test modules).
pub fn schema_errors(record: &Value) -> Vec<String> {
    Schemas::load().errors(record)
}

fn sample_files() -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(repo().join("samples/reference"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".md"))
        .map(|n| format!("samples/reference/{n}"))
        .collect();
    files.sort();
    files
}

/// The event as a deployment with a policy sees it: zone, datastore, domain, classification.
fn enriched<'a>(e: &Event<'a>) -> Event<'a> {
    let mut e = e.clone();
    e.enrichment = Enrichment {
        zone: Some(Arc::from("corp-vpn")),
        principal_zone: Some(Arc::from("app-tier")),
        datastore: Some(Arc::from("orders-db")),
        domain: Some(Arc::from("orders")),
        classification: Some(Classification::Restricted),
        ..Enrichment::default()
    };
    e
}

/// Single-quoted string literals of a statement (at least 4 characters: shorter ones collide
/// with words that legitimately appear elsewhere in a record).
fn literals(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut lit = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        lit.push(n);
                    }
                }
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    lit.push('\'');
                }
                '\'' => break,
                c => lit.push(c),
            }
        }
        if lit.chars().count() >= 4 {
            out.push(lit);
        }
    }
    out
}

/// What one event's OCSF activity record must say, derived from the event itself.
fn check_activity(e: &Event<'_>, v: &Value) -> Result<(), String> {
    let class = v["class_uid"].as_u64().unwrap_or(0);
    let activity = v["activity_id"].as_u64().unwrap_or(1000);
    let expected_class = match e.kind {
        Kind::ApiCall(_) => 6003,
        Kind::Flow(_) => 4001,
        _ => 6005,
    };
    let mut problems = Vec::new();
    if class != expected_class {
        problems.push(format!("class {class}, want {expected_class}"));
    }
    if v["type_uid"].as_u64() != Some(class * 100 + activity) {
        problems.push(format!("type_uid {} for activity {activity}", v["type_uid"]));
    }
    if v["time"].as_i64() != Some(e.time.as_millisecond()) {
        problems.push(format!("time {} != {}", v["time"], e.time.as_millisecond()));
    }
    if v["metadata"]["product"]["version"] != env!("CARGO_PKG_VERSION") || v["metadata"]["version"] != "1.8.0"
    {
        problems.push(format!("metadata {}", v["metadata"]));
    }
    if v["metadata"]["log_provider"] != e.source.as_str() {
        problems.push(format!("log_provider {}", v["metadata"]["log_provider"]));
    }
    let failed = match &e.kind {
        Kind::Statement(st) => !st.succeeded,
        Kind::FailedConnect(_) => true,
        Kind::ApiCall(c) => c.error_code.is_some(),
        _ => false,
    };
    if !matches!(e.kind, Kind::Flow(_)) && v["status_id"].as_u64() != Some(if failed { 2 } else { 1 }) {
        problems.push(format!("status_id {} but failed={failed}", v["status_id"]));
    }
    match &e.kind {
        Kind::Connect(_) | Kind::FailedConnect(_) if activity != 3 => {
            problems.push(format!("login as activity {activity}"));
        }
        Kind::Statement(_) => {
            let sql = e.sql.as_ref().ok_or("statement without analysis")?;
            if v["query_info"]["query_string"] != sql.analysis.normalized.as_str() {
                problems.push(format!("query_info {}", v["query_info"]));
            }
        }
        Kind::ApiCall(c) => {
            if v["api"]["operation"] != c.action.as_ref() || v["api"]["service"]["name"] != c.service.as_ref()
            {
                problems.push(format!("api {}", v["api"]));
            }
            let want = ocsf::api::api_verb(&c.action, c.read_only).0;
            if activity != u64::from(want) {
                problems.push(format!("api activity {activity}, want {want}"));
            }
        }
        Kind::Flow(f) => {
            let want = if f.action.as_deref() == Some("REJECT") {
                5
            } else {
                6
            };
            if activity != want {
                problems.push(format!("flow {:?} as activity {activity}", f.action));
            }
            if v["src_endpoint"]["ip"]
                .as_str()
                .map(str::parse)
                .and_then(Result::ok)
                != e.actor.ip
            {
                problems.push(format!("src_endpoint {}", v["src_endpoint"]));
            }
        }
        _ => {}
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

const SEVERITIES: [Severity; 5] = [
    Severity::Info,
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

#[derive(Default)]
struct Tally {
    records: usize,
    with_account: usize,
    with_arn: usize,
    by_type: BTreeMap<u64, usize>,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, schemas: &Schemas, what: &str, v: &Value, line: &str) {
        self.records += 1;
        *self
            .by_type
            .entry(v["type_uid"].as_u64().unwrap_or(0))
            .or_default() += 1;
        for err in schemas.errors(v) {
            self.failures.push(format!("{what}: {err}\n  {line}"));
        }
        if line.contains('\n') {
            self.failures.push(format!("{what}: not one line"));
        }
    }
}

#[test]
fn every_sample_renders_valid_ocsf() {
    let schemas = Schemas::load();
    let mut tally = Tally::default();
    let files = sample_files();
    assert!(files.len() >= 19, "{files:?}");
    for file in &files {
        let mut n = 0usize;
        let (_findings, diagnostics) = for_each_event(&[file], InputOptions::default(), &mut |e| {
            for (variant, e) in [("plain", e.clone()), ("enriched", enriched(e))] {
                let what = format!("{file} event {n} ({variant}, {})", e.kind.name());
                let line = serde_json::to_string(&ocsf::event_record(&e)).unwrap();
                let v: Value = serde_json::from_str(&line).unwrap();
                tally.record(&schemas, &what, &v, &line);
                if let Err(p) = check_activity(&e, &v) {
                    tally.failures.push(format!("{what}: {p}\n  {line}"));
                }
                if variant == "enriched"
                    && !matches!(e.kind, Kind::Flow(_) | Kind::ApiCall(_))
                    && (v["src_endpoint"]["zone"] != "corp-vpn"
                        || v["database"]["groups"][0]["name"] != "orders"
                        || v["database"]["uid"] != "orders-db")
                {
                    tally
                        .failures
                        .push(format!("{what}: enrichment not rendered\n  {line}"));
                }

                let severity = SEVERITIES[n % SEVERITIES.len()];
                let mut f = Finding::from_event("ocsf.test-rule", "OCSF test rule", severity, &e);
                if n % 2 == 1 {
                    f.attack = vec!["T1537".to_string(), "T1562.008".to_string()];
                    f.shadow = n % 4 == 1;
                }
                // Every third finding as a threshold's, its window opened a minute earlier.
                let window = n % 3 == 0;
                if window {
                    f.set_window(f.time.checked_sub(jiff::SignedDuration::from_secs(60)).ok());
                }
                let line = serde_json::to_string(&ocsf::detection_finding(&f)).unwrap();
                let v: Value = serde_json::from_str(&line).unwrap();
                let what = format!("{what} as finding");
                tally.record(&schemas, &what, &v, &line);
                let expected_severity = SEVERITIES.iter().position(|s| *s == severity).unwrap() as u64 + 1;
                if v["severity_id"].as_u64() != Some(expected_severity)
                    || v["finding_info"]["uid"] != f.id.as_str()
                    || v["finding_info"]["analytic"]["uid"] != "ocsf.test-rule"
                    || v["time"].as_i64() != Some(f.time.as_millisecond())
                    || v["count"].as_u64() != Some(f.count)
                {
                    tally.failures.push(format!("{what}: wrong header\n  {line}"));
                }
                if let Some(st) = &f.statement {
                    if v["evidences"][0]["data"]["statement"]["normalized"] != st.normalized.as_str() {
                        tally
                            .failures
                            .push(format!("{what}: statement missing\n  {line}"));
                    }
                }
                let (first, last) = (
                    v["finding_info"]["first_seen_time"].as_i64(),
                    v["finding_info"]["last_seen_time"].as_i64(),
                );
                let time = f.time.as_millisecond();
                if (window && (first != Some(time - 60_000) || last != Some(time)))
                    || (!window && (first != Some(time) || last != Some(time)))
                {
                    tally
                        .failures
                        .push(format!("{what}: first/last seen {first:?} {last:?}\n  {line}"));
                }
                // What a SIEM joins on: the account and region of the record, the ARN of the
                // datastore as resources[0].uid when known.
                if v["cloud"]["account"]["uid"].as_str() != f.account.as_deref()
                    || v["cloud"]["region"].as_str() != f.region.as_deref()
                    || (f.account.is_some() || f.region.is_some()) != (v["cloud"]["provider"] == "AWS")
                {
                    tally
                        .failures
                        .push(format!("{what}: cloud {}\n  {line}", v["cloud"]));
                }
                if let (Some(arn), Some(_)) = (&f.arn, &f.datastore)
                    && v["resources"][0]["uid"] != arn.as_str()
                {
                    tally
                        .failures
                        .push(format!("{what}: resource uid not the ARN\n  {line}"));
                }
                if f.account.is_some() {
                    tally.with_account += 1;
                }
                if f.arn.is_some() || !f.resources.is_empty() {
                    tally.with_arn += 1;
                }
                if n % 2 == 1 && v["finding_info"]["attacks"][1]["sub_technique"]["uid"] != "T1562.008" {
                    tally.failures.push(format!("{what}: attacks missing\n  {line}"));
                }
                if v["is_alert"] != (severity >= Severity::Low && !f.shadow) {
                    tally.failures.push(format!(
                        "{what}: is_alert wrong for shadow={}\n  {line}",
                        f.shadow
                    ));
                }
                if variant == "enriched"
                    && (f.classification.is_none()
                        || v["resources"][0]["data_classification"]["confidentiality"] != "restricted")
                {
                    tally
                        .failures
                        .push(format!("{what}: classification not rendered\n  {line}"));
                }
            }
            n += 1;
        });
        assert!(diagnostics.is_empty(), "{file}: {diagnostics:#?}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failures:\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
    // Every class laneguard emits was exercised, including failures and refusals.
    for type_uid in [200401, 600503, 600504, 600599, 600301, 600303, 400105, 400106] {
        assert!(
            tally.by_type.contains_key(&type_uid),
            "no record of type {type_uid}: {:?}",
            tally.by_type
        );
    }
    assert!(tally.records > 500, "{} records", tally.records);
    // The samples name accounts (CloudTrail, flow logs) and resources by ARN (CloudTrail).
    assert!(
        tally.with_account > 50 && tally.with_arn > 0,
        "{} findings with an account, {} with ARNs",
        tally.with_account,
        tally.with_arn
    );
}

/// Every attribute of a Detection Finding laneguard writes is one the OCSF 1.8.0 schema declares
/// (the vendored schemas allow unknown properties, so validation alone would not notice a
/// misplaced one): walked through `$ref`s, objects and arrays; free-form objects (no declared
/// properties: `unmapped`, `data`) end the walk.
#[test]
fn every_finding_attribute_is_declared_by_the_schema() {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/ocsf/detection_finding.schema.json"))
        .unwrap()
        .replace("\"#/$defs/win/", "\"#/$defs/win~1");
    let schema: Value = serde_json::from_str(&text).unwrap();
    fn walk(root: &Value, node: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
        let node = match node["$ref"].as_str() {
            Some(r) => root.pointer(&r[1..]).unwrap_or(&Value::Null),
            None => node,
        };
        match v {
            Value::Object(map) => {
                let Some(props) = node["properties"].as_object().filter(|p| !p.is_empty()) else {
                    return;
                };
                for (k, child) in map {
                    match props.get(k) {
                        Some(p) => walk(root, p, child, &format!("{path}.{k}"), out),
                        None => out.push(format!("{path}.{k}")),
                    }
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(root, &node["items"], item, &format!("{path}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut undeclared = std::collections::BTreeSet::new();
    let mut seen = 0;
    for file in sample_files() {
        for_each_event(&[&file], InputOptions::default(), &mut |e| {
            let e = enriched(e);
            let mut f = Finding::from_event("r", "t", Severity::High, &e);
            f.attack = vec!["T1562.008".into()];
            f.set_window(Some(f.time));
            // A sequence's earlier events (`finding_info.related_events`, `unmapped.related`).
            f.evidence.related = vec![f.evidence.origin.clone()];
            let v = serde_json::to_value(ocsf::detection_finding(&f)).unwrap();
            if seen == 0 {
                let errors = schema_errors(&v);
                assert!(errors.is_empty(), "{errors:?}");
            }
            let mut out = Vec::new();
            walk(&schema, &schema, &v, "", &mut out);
            undeclared.extend(out);
            seen += 1;
        });
    }
    assert!(seen > 100);
    assert!(undeclared.is_empty(), "not in the OCSF schema: {undeclared:#?}");
}

#[test]
fn no_sql_literal_leaves_in_ocsf() {
    let mut failures = Vec::new();
    let mut checked = 0usize;
    for file in sample_files() {
        let mut rendered = Vec::new();
        let mut lits = Vec::new();
        // What the records may show because it is not (only) a literal: normalized statements,
        // objects (MySQL writes account names as literals), users, login details.
        let mut shown = String::new();
        for_each_event(&[&file], InputOptions::default(), &mut |e| {
            if let Kind::Statement(st) = &e.kind {
                for text in [&st.text, &st.parameter].into_iter().flatten() {
                    lits.extend(literals(text));
                }
            }
            if let Some(sql) = &e.sql {
                shown.push_str(&sql.analysis.normalized);
                shown.push('\n');
                shown.push_str(&sql.objects.join("\n"));
                shown.push('\n');
            }
            if let Kind::Connect(s) | Kind::Disconnect(s) | Kind::FailedConnect(s) = &e.kind {
                shown.push_str(s.detail.as_deref().unwrap_or(""));
                shown.push('\n');
            }
            shown.push_str(e.actor.user.as_deref().unwrap_or(""));
            shown.push('\n');
            let e = enriched(e);
            rendered.push(serde_json::to_string(&ocsf::event_record(&e)).unwrap());
            let f = Finding::from_event("r", "t", Severity::High, &e);
            rendered.push(serde_json::to_string(&ocsf::detection_finding(&f)).unwrap());
        });
        for lit in &lits {
            if shown.contains(lit.as_str()) {
                continue;
            }
            // The JSON form of the literal, as it would appear inside a serialized string.
            let json = serde_json::to_string(lit).unwrap();
            let needle = &json[1..json.len() - 1];
            checked += 1;
            if let Some(r) = rendered.iter().find(|r| r.contains(needle)) {
                failures.push(format!("{file}: literal {lit:?} in {r}"));
            }
        }
        if file.ends_with("mariadb-server-audit-captured.log") || file.ends_with("pgaudit-captured.log") {
            for email in ["x@example.com", "a@example.com", "b@example.com"] {
                assert!(
                    !rendered.iter().any(|r| r.contains(email)),
                    "{file}: {email} leaked"
                );
            }
            assert!(
                lits.iter().any(|l| l.contains("@example.com")),
                "{file}: the sample lost its literal"
            );
        }
    }
    assert!(checked > 20, "only {checked} literals checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn vendored_schemas_match_shared_reference() {
    let shared = repo().join("../shared/reference/ocsf");
    if !shared.is_dir() {
        // A clone without the team's shared folder: the vendored copies are the reference.
        return;
    }
    for file in [
        "detection_finding.schema.json",
        "datastore_activity.schema.json",
        "api_activity.schema.json",
        "network_activity.schema.json",
    ] {
        let vendored = std::fs::read(repo().join("tests/fixtures/ocsf").join(file)).unwrap();
        let reference = std::fs::read(shared.join(file)).unwrap();
        assert!(
            vendored == reference,
            "tests/fixtures/ocsf/{file} differs from shared/reference/ocsf"
        );
    }
}

#[test]
fn schemas_reject_what_laneguard_must_not_write() {
    // The validation above can fail: a record with a wrong class, type or missing field does not
    // pass the vendored schemas.
    let schemas = Schemas::load();
    let mut found = false;
    for_each_event(
        &["samples/reference/cloudtrail-records.jsonl"],
        InputOptions::default(),
        &mut |e| {
            if found {
                return;
            }
            found = true;
            let good = serde_json::to_value(ocsf::event_record(e)).unwrap();
            assert!(schemas.errors(&good).is_empty(), "{good}");
            let mut bad = good.clone();
            bad["activity_id"] = 7.into();
            bad["type_uid"] = 600307.into();
            assert!(!schemas.errors(&bad).is_empty());
            let mut bad = good.clone();
            bad.as_object_mut().unwrap().remove("api");
            assert!(!schemas.errors(&bad).is_empty());
            let mut bad = good;
            bad["time"] = "2024-08-01T12:38:06Z".into();
            assert!(!schemas.errors(&bad).is_empty());
            let f = Finding::from_event("r", "t", Severity::Low, e);
            let mut bad = serde_json::to_value(ocsf::detection_finding(&f)).unwrap();
            bad["severity_id"] = 9.into();
            assert!(!schemas.errors(&bad).is_empty());
        },
    );
    assert!(found);
}
