//! Sigma rules imported unchanged: the 45 SigmaHQ CloudTrail rules against hand-written
//! CloudTrail records (tests/fixtures/sigma/cases, written from the CloudTrail record reference,
//! not derived from the rules), every modifier and the condition grammar through the real parser
//! and pipeline, converted TOML against the loaded YAML, placeholders against policy zones, bad
//! input, the finding and OCSF metadata, and the command line.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::cli::laneguard;
use crate::common::{repo, run_bytes_with};
use laneguard_core::config::{Config, PolicySource, RulesSource, Sources};
use laneguard_core::finding::Finding;
use laneguard_core::input::InputOptions;
use laneguard_core::rules::{Mode, RuleSet};
use laneguard_core::sigma::{self, settings::SigmaSettings};

const FIXTURES: &str = "tests/fixtures/sigma";

fn sigmahq() -> PathBuf {
    repo().join(FIXTURES).join("sigmahq")
}

/// The Sigma files of the reference set, sorted.
fn reference_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sigmahq())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    files.sort();
    files
}

fn config(rules: Vec<(String, String)>, policy: PolicySource) -> Config {
    Config::load(&Sources {
        policy,
        rules: RulesSource::Files(rules),
        ..Sources::default()
    })
    .unwrap()
}

/// The findings of `rules` (files as `(name, text)`) on one CloudTrail record, through the real
/// parser, enrichment with `policy`, the policy checks and the rules.
fn findings(rules: &[(String, String)], policy: &PolicySource, record: &Value) -> Vec<Finding> {
    let cfg = config(rules.to_vec(), policy.clone());
    assert!(cfg.rejected.is_empty(), "{:?}", cfg.rejected);
    let line = format!("{}\n", serde_json::to_string(record).unwrap());
    let run = run_bytes_with(
        cfg.engine(),
        "case.jsonl",
        line.as_bytes(),
        InputOptions::default(),
    );
    assert!(run.diagnostics.is_empty(), "{:?} on {record}", run.diagnostics);
    assert_eq!(run.stats.total_events(), 1, "{record}");
    run.findings
}

fn fires(rules: &[(String, String)], policy: &PolicySource, id: &str, record: &Value) -> bool {
    findings(rules, policy, record).iter().any(|f| f.rule_id == id)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Every reference rule loads (none is refused: expectations.md), and the whole set loads from a
/// directory next to TOML rules.
#[test]
fn reference_rules_all_load() {
    let (set, errors) = RuleSet::load_dir(&sigmahq()).unwrap();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(set.rules().len(), 45);
    assert_eq!(reference_files().len(), 45);
    for r in set.rules() {
        assert!(r.id.starts_with("sigma.aws_"), "{}", r.id);
        let s = r.sigma.as_ref().unwrap();
        assert!(
            s.id.is_some() && s.author.is_some(),
            "{}: id and author kept",
            r.id
        );
        assert!(s.credit.contains("SigmaHQ") && s.credit.contains(s.author.as_deref().unwrap()));
        assert_eq!(r.sources, [laneguard_core::event::Source::CloudTrail]);
        // status → mode: experimental/test → shadow, stable → alert.
        let want = match s.status.as_deref() {
            Some("stable") => Mode::Alert,
            _ => Mode::Shadow,
        };
        assert_eq!(r.mode, want, "{}", r.id);
    }
}

/// For every rule, each hand-written matching record fires it and each missing one does not,
/// through the real CloudTrail parser and the whole pipeline.
#[test]
fn hand_written_cases_hold() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in reference_files() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let case: Value = serde_json::from_str(&read(
            &repo().join(FIXTURES).join("cases").join(format!("{stem}.json")),
        ))
        .unwrap();
        assert_eq!(case["rule"], format!("{stem}.yml"));
        let rules = vec![(path.display().to_string(), read(&path))];
        let id = format!("sigma.{stem}");
        let (matches, misses) = (
            case["matches"].as_array().unwrap(),
            case["misses"].as_array().unwrap(),
        );
        assert!(!matches.is_empty() && !misses.is_empty(), "{stem}");
        for (want, records) in [(true, matches), (false, misses)] {
            for (i, r) in records.iter().enumerate() {
                checked += 1;
                if fires(&rules, &PolicySource::Embedded, &id, r) != want {
                    failures.push(format!(
                        "{stem}: {} #{i} should {}fire",
                        if want { "matches" } else { "misses" },
                        if want { "" } else { "not " }
                    ));
                }
            }
        }
    }
    assert!(checked > 150, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The laneguard rule `sigma convert` prints, loaded as a TOML file, gives the same findings as
/// the YAML on every hand-written record and on the CloudTrail samples.
#[test]
fn converted_toml_behaves_like_the_yaml() {
    let samples = read(&repo().join("samples/reference/cloudtrail-records.jsonl"));
    let sample_records: Vec<Value> = samples
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for path in reference_files() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = read(&path);
        let yml = vec![(format!("{stem}.yml"), text.clone())];
        let converted = sigma::convert(&format!("{stem}.yml"), &text, &SigmaSettings::default()).unwrap();
        let toml = vec![(format!("{stem}.toml"), converted.toml.clone())];
        let case: Value = serde_json::from_str(&read(
            &repo().join(FIXTURES).join("cases").join(format!("{stem}.json")),
        ))
        .unwrap();
        let records = case["matches"]
            .as_array()
            .unwrap()
            .iter()
            .chain(case["misses"].as_array().unwrap())
            .chain(&sample_records);
        for r in records {
            let a = findings(&yml, &PolicySource::Embedded, r);
            let b = findings(&toml, &PolicySource::Embedded, r);
            assert_eq!(a, b, "{stem} on {r}");
        }
    }
}

/// The findings of an imported rule carry the Sigma metadata; its OCSF rendering names the Sigma
/// rule and its author and still validates (the schema tests run every finding of tests/it/ocsf.rs
/// too); rules that are not Sigma render as before.
#[test]
fn findings_and_ocsf_carry_the_sigma_rule() {
    let path = sigmahq().join("aws_ec2_vm_export_failure.yml");
    let rules = vec![(path.display().to_string(), read(&path))];
    let case: Value = serde_json::from_str(&read(
        &repo().join(FIXTURES).join("cases/aws_ec2_vm_export_failure.json"),
    ))
    .unwrap();
    let f = findings(&rules, &PolicySource::Embedded, &case["matches"][0])
        .into_iter()
        .find(|f| f.rule_id == "sigma.aws_ec2_vm_export_failure")
        .unwrap();
    let s = f.sigma.as_deref().unwrap();
    assert_eq!(s.id.as_deref(), Some("54b9a76a-3c71-4673-b4b3-2edb4566ea7b"));
    assert_eq!(
        (s.level.as_deref(), s.author.as_deref()),
        (Some("low"), Some("Diogo Braz"))
    );
    assert_eq!(f.attack, ["T1005", "T1537"]);
    assert!(f.shadow, "status test → shadow");
    let json = serde_json::to_value(&f).unwrap();
    assert_eq!(json["sigma"]["author"], "Diogo Braz");
    let ocsf = serde_json::to_value(laneguard_core::ocsf::detection_finding(&f)).unwrap();
    let info = &ocsf["finding_info"];
    assert_eq!(info["analytic"]["uid"], "sigma.aws_ec2_vm_export_failure");
    assert_eq!(
        info["related_analytics"][0]["uid"],
        "54b9a76a-3c71-4673-b4b3-2edb4566ea7b"
    );
    assert_eq!(info["related_analytics"][0]["category"], "Sigma");
    assert!(
        info["related_analytics"][0]["desc"]
            .as_str()
            .unwrap()
            .contains("Diogo Braz")
    );
    let tags = info["tags"].as_array().unwrap();
    assert!(
        tags.iter()
            .any(|t| t["name"] == "sigma.author" && t["value"] == "Diogo Braz")
    );
    assert!(
        tags.iter()
            .any(|t| t["name"] == "sigma.credit" && t["value"].as_str().unwrap().contains("SigmaHQ"))
    );
    assert_eq!(info["attacks"][0]["technique"]["uid"], "T1005");
    let errors = crate::ocsf::schema_errors(&ocsf);
    assert!(errors.is_empty(), "{errors:?}");
    // A finding of a TOML rule has no Sigma keys at all.
    let mut plain = f.clone();
    plain.sigma = None;
    let v = serde_json::to_value(laneguard_core::ocsf::detection_finding(&plain)).unwrap();
    assert!(v["finding_info"].get("tags").is_none() && v["finding_info"].get("related_analytics").is_none());
    assert!(v["finding_info"]["analytic"].get("category").is_none());
    assert!(serde_json::to_value(&plain).unwrap().get("sigma").is_none());
}

// ---- the detection language, one modifier at a time -------------------------------------

/// A Sigma rule around a `detection` body (indented by the caller).
fn rule_yaml(detection: &str) -> String {
    format!(
        "title: table test\nid: 11111111-1111-4111-8111-111111111111\nstatus: stable\nauthor: laneguard tests\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n{detection}\nlevel: high\n"
    )
}

/// A CloudTrail record with `extra` merged in at the top level.
fn record(extra: Value) -> Value {
    let mut r = json!({
        "eventVersion": "1.10",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "userName": "alice"},
        "eventTime": "2026-09-15T13:20:05Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "DeleteBucket",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.77",
        "userAgent": "aws-cli/2.27.41 Python/3.13",
        "requestParameters": {"bucketName": "acme-backups", "Host": "acme-backups.s3.amazonaws.com"},
        "responseElements": null,
        "eventID": "0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management"
    });
    if let (Value::Object(base), Value::Object(more)) = (&mut r, extra) {
        base.extend(more);
    }
    r
}

fn check_table(policy: &PolicySource, cases: &[(&str, Value, bool)]) {
    let mut failures = Vec::new();
    for (detection, extra, want) in cases {
        let rules = vec![("t.yml".to_owned(), rule_yaml(detection))];
        let got = fires(&rules, policy, "sigma.t", &record(extra.clone()));
        if got != *want {
            failures.push(format!("{detection}\n  on {extra} → {got}, want {want}"));
        }
        // The converted rule agrees.
        let converted = sigma::convert("t.yml", &rule_yaml(detection), &SigmaSettings::default());
        if let (Ok(c), PolicySource::Embedded) = (converted, policy) {
            let toml = vec![("t.toml".to_owned(), c.toml)];
            assert_eq!(
                fires(&toml, policy, "sigma.t", &record(extra.clone())),
                got,
                "converted: {detection}"
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn plain_values_wildcards_and_case() {
    let s = |d: &str| format!("    sel:\n{d}\n    condition: sel");
    check_table(
        &PolicySource::Embedded,
        &[
            (&s("        eventName: deletebucket"), json!({}), true),
            (&s("        eventName: DeleteBucke"), json!({}), false),
            (&s("        eventName: 'Delete*'"), json!({}), true),
            (&s("        eventName: 'Delete?ucket'"), json!({}), true),
            (&s("        eventName: 'Delete?'"), json!({}), false),
            (
                &s("        eventName: 'a\\*b'"),
                json!({"eventName": "a*b"}),
                true,
            ),
            (
                &s("        eventName: 'a\\*b'"),
                json!({"eventName": "axxb"}),
                false,
            ),
            (
                &s("        eventName: 'a\\\\*'"),
                json!({"eventName": "a\\zz"}),
                true,
            ),
            (
                &s("        eventName:\n            - PutBucketPolicy\n            - DeleteBucket"),
                json!({}),
                true,
            ),
            (&s("        eventName: ''"), json!({"eventName": ""}), true),
            (&s("        eventName: ''"), json!({}), false),
            (&s("        errorCode: '*'"), json!({}), false),
            (&s("        errorCode: '*'"), json!({"errorCode": null}), false),
            (&s("        errorCode: '*'"), json!({"errorCode": ""}), true),
            (&s("        errorCode: null"), json!({}), true),
            (&s("        errorCode: null"), json!({"errorCode": null}), true),
            (
                &s("        errorCode: null"),
                json!({"errorCode": "AccessDenied"}),
                false,
            ),
            (
                &s("        requestParameters.fromPort: 22"),
                json!({"requestParameters": {"fromPort": 22}}),
                true,
            ),
            (
                &s("        requestParameters.fromPort: 22"),
                json!({"requestParameters": {"fromPort": "22"}}),
                true,
            ),
            (
                &s("        requestParameters.fromPort: '22'"),
                json!({"requestParameters": {"fromPort": 22}}),
                true,
            ),
            (
                &s("        requestParameters.fromPort: 22"),
                json!({"requestParameters": {"fromPort": 23}}),
                false,
            ),
            (&s("        readOnly: false"), json!({}), true),
            (&s("        readOnly: true"), json!({}), false),
            (&s("        readOnly: true"), json!({"readOnly": "true"}), true),
            (
                &s("        requestParameters.ratio: 1.5"),
                json!({"requestParameters": {"ratio": 1.5}}),
                true,
            ),
            (
                &s("        requestParameters.ratio: 1.5"),
                json!({"requestParameters": {"ratio": 2}}),
                false,
            ),
            (
                &s("        userIdentity.type: iamuser\n        userIdentity.userName: ALICE"),
                json!({}),
                true,
            ),
            (
                &s("        userIdentity.type: iamuser\n        userIdentity.userName: bob"),
                json!({}),
                false,
            ),
            (
                &s("        requestParameters.items.name: b"),
                json!({"requestParameters": {"items": [{"name": "a"}, {"name": "B"}]}}),
                true,
            ),
            (
                &s("        requestParameters.items.name: c"),
                json!({"requestParameters": {"items": [{"name": "a"}, {"name": "b"}]}}),
                false,
            ),
            (
                &s("        tlsDetails.tlsVersion: TLSv1.3"),
                json!({"tlsDetails": {"tlsVersion": "TLSv1.3"}}),
                true,
            ),
            (
                &s("        sourceIPAddress: 'AWS Internal'"),
                json!({"sourceIPAddress": "AWS Internal"}),
                true,
            ),
        ],
    );
}

#[test]
fn string_modifiers() {
    let s = |d: &str| format!("    sel:\n{d}\n    condition: sel");
    let ua = |u: &str| json!({"userAgent": u});
    check_table(
        &PolicySource::Embedded,
        &[
            (&s("        userAgent|contains: PYTHON"), json!({}), true),
            (&s("        userAgent|contains: perl"), json!({}), false),
            (&s("        userAgent|contains: 'cli*Python'"), json!({}), true),
            (&s("        userAgent|startswith: AWS-CLI"), json!({}), true),
            (&s("        userAgent|startswith: Python"), json!({}), false),
            (&s("        userAgent|endswith: '/3.13'"), json!({}), true),
            (&s("        userAgent|endswith: aws"), json!({}), false),
            (
                &s("        userAgent|contains|all:\n            - cli\n            - python"),
                json!({}),
                true,
            ),
            (
                &s("        userAgent|contains|all:\n            - cli\n            - perl"),
                json!({}),
                false,
            ),
            (
                &s("        userAgent|contains:\n            - perl\n            - python"),
                json!({}),
                true,
            ),
            (
                &s("        userAgent|cased: aws-cli/2.27.41 Python/3.13"),
                json!({}),
                true,
            ),
            (
                &s("        userAgent|cased: AWS-CLI/2.27.41 Python/3.13"),
                json!({}),
                false,
            ),
            (&s("        userAgent|contains|cased: Python"), json!({}), true),
            (&s("        userAgent|contains|cased: python"), json!({}), false),
            (&s("        userAgent|re: '^aws-cli/\\d+\\.'"), json!({}), true),
            (&s("        userAgent|re: '^AWS-CLI'"), json!({}), false),
            (&s("        userAgent|re|i: '^AWS-CLI'"), json!({}), true),
            (&s("        userAgent|re: 'a.b'"), ua("a\nb"), false),
            (&s("        userAgent|re|s: 'a.b'"), ua("a\nb"), true),
            (&s("        userAgent|re: '^b$'"), ua("a\nb"), false),
            (&s("        userAgent|re|m: '^b$'"), ua("a\nb"), true),
            (&s("        userAgent|re|contains: 'cli/2'"), json!({}), true),
            (
                &s("        userAgent|windash|contains: ' -enc'"),
                ua("powershell /enc AAAA"),
                true,
            ),
            (
                &s("        userAgent|windash|contains: ' -enc'"),
                ua("powershell \u{2014}enc AAAA"),
                true,
            ),
            (
                &s("        userAgent|windash|contains: ' -enc'"),
                ua("powershell +enc"),
                false,
            ),
            (&s("        userAgent|neq: x"), json!({}), true),
            (&s("        userAgent|neq: 'aws-cli*'"), json!({}), false),
            (
                &s("        requestParameters|contains: acme-backups.s3"),
                json!({}),
                true,
            ),
            (
                &s("        requestParameters|contains: bucketname"),
                json!({}),
                true,
            ),
            (&s("        requestParameters|contains: other"), json!({}), false),
            (
                &s("        requestParameters.items|contains: '\"k\":\"v\"'"),
                json!({"requestParameters": {"items": [{"k": "v"}]}}),
                true,
            ),
        ],
    );
}

#[test]
fn encodings_fields_numbers_and_networks() {
    let s = |d: &str| format!("    sel:\n{d}\n    condition: sel");
    let data = |v: Value| json!({"requestParameters": {"data": v}});
    check_table(
        &PolicySource::Embedded,
        &[
            (
                &s("        requestParameters.data|base64: secret"),
                data(json!("c2VjcmV0")),
                true,
            ),
            (
                &s("        requestParameters.data|base64: secret"),
                data(json!("c2VjcmV0Cg==")),
                false,
            ),
            (
                &s("        requestParameters.data|base64|contains: secret"),
                data(json!("xx c2VjcmV0 yy")),
                true,
            ),
            (
                &s("        requestParameters.data|base64offset|contains: http://"),
                data(json!("Y3VybCBodHRwOi8vZXZpbA==")),
                true,
            ),
            (
                &s("        requestParameters.data|base64offset|contains: https://"),
                data(json!("Y3VybCBodHRwOi8vZXZpbA==")),
                false,
            ),
            (
                &s("        requestParameters.data|utf16le|base64offset|contains: cmd"),
                data(json!("YwBtAGQA")),
                true,
            ),
            (
                &s("        requestParameters.data|wide|base64offset|contains: cmd"),
                data(json!("YwBtAGQA")),
                true,
            ),
            (
                &s("        requestParameters.data|utf16be|base64: c"),
                data(json!("AGM=")),
                true,
            ),
            (
                &s("        requestParameters.data|utf16|base64: cmd"),
                data(json!("//5jAG0AZAA=")),
                true,
            ),
            (
                &s("        requestParameters.fromPort|gt: 21"),
                json!({"requestParameters": {"fromPort": 22}}),
                true,
            ),
            (
                &s("        requestParameters.fromPort|gt: 22"),
                json!({"requestParameters": {"fromPort": 22}}),
                false,
            ),
            (
                &s("        requestParameters.fromPort|gte: 22"),
                json!({"requestParameters": {"fromPort": 22}}),
                true,
            ),
            (
                &s("        requestParameters.fromPort|lt: 22"),
                json!({"requestParameters": {"fromPort": 22}}),
                false,
            ),
            (
                &s("        requestParameters.fromPort|lte: 22"),
                json!({"requestParameters": {"fromPort": "22"}}),
                true,
            ),
            (&s("        requestParameters.fromPort|lt: 5"), json!({}), false),
            (&s("        sourceIPAddress|cidr: 192.0.2.0/24"), json!({}), true),
            (
                &s("        sourceIPAddress|cidr:\n            - 10.0.0.0/8\n            - 2001:db8::/32"),
                json!({}),
                false,
            ),
            (
                &s("        sourceIPAddress|cidr: 2001:db8::/32"),
                json!({"sourceIPAddress": "2001:db8::5"}),
                true,
            ),
            (
                &s("        sourceIPAddress|cidr: 10.0.0.0/8"),
                json!({"sourceIPAddress": "ec2.amazonaws.com"}),
                false,
            ),
            (
                &s("        errorCode|exists: true"),
                json!({"errorCode": "AccessDenied"}),
                true,
            ),
            (&s("        errorCode|exists: true"), json!({}), false),
            (&s("        errorCode|exists: false"), json!({}), true),
            (
                &s("        requestParameters.bucketName|exists: true"),
                json!({}),
                true,
            ),
            (
                &s("        userIdentity.userName|fieldref: requestParameters.userName"),
                json!({"requestParameters": {"userName": "alice"}}),
                true,
            ),
            (
                &s("        userIdentity.userName|fieldref: requestParameters.userName"),
                json!({"requestParameters": {"userName": "bob"}}),
                false,
            ),
            (
                &s("        userIdentity.arn|fieldref|endswith: requestParameters.userName"),
                json!({"requestParameters": {"userName": "alice"}}),
                true,
            ),
            (
                &s("        userIdentity.arn|fieldref|contains: requestParameters.userName"),
                json!({"requestParameters": {"userName": "user/al"}}),
                true,
            ),
            (
                &s("        userIdentity.arn|fieldref|startswith: requestParameters.userName"),
                json!({"requestParameters": {"userName": "alice"}}),
                false,
            ),
        ],
    );
}

#[test]
fn keywords_and_conditions() {
    check_table(
        &PolicySource::Embedded,
        &[
            (
                "    keywords:\n        - acme-backups\n    condition: keywords",
                json!({}),
                true,
            ),
            (
                "    keywords:\n        - ACME-BACK\n    condition: keywords",
                json!({}),
                true,
            ),
            (
                "    keywords:\n        - bucketName\n    condition: keywords",
                json!({}),
                false,
            ),
            ("    keywords: 'alice'\n    condition: keywords", json!({}), true),
            (
                "    keywords:\n        '|all':\n            - alice\n            - acme\n    condition: keywords",
                json!({}),
                true,
            ),
            (
                "    keywords:\n        '|all':\n            - alice\n            - bob\n    condition: keywords",
                json!({}),
                false,
            ),
            (
                "    keywords:\n        - 'acme*s3'\n    condition: keywords",
                json!({}),
                true,
            ),
            (
                "    a:\n        eventName: DeleteBucket\n    b:\n        eventSource: ec2.amazonaws.com\n    condition: a or b",
                json!({}),
                true,
            ),
            (
                "    a:\n        eventName: DeleteBucket\n    b:\n        eventSource: ec2.amazonaws.com\n    condition: a and b",
                json!({}),
                false,
            ),
            (
                "    a:\n        eventName: DeleteBucket\n    b:\n        eventSource: ec2.amazonaws.com\n    condition: a and not b",
                json!({}),
                true,
            ),
            (
                "    a:\n        eventName: X\n    b:\n        eventSource: ec2.amazonaws.com\n    c:\n        awsRegion: us-east-1\n    condition: a or b and not c",
                json!({}),
                false,
            ),
            (
                "    a:\n        eventName: X\n    b:\n        eventSource: s3.amazonaws.com\n    c:\n        awsRegion: us-east-1\n    condition: (a or b) and c",
                json!({}),
                true,
            ),
            (
                "    sel_1:\n        eventName: X\n    sel_2:\n        eventName: DeleteBucket\n    condition: 1 of sel_*",
                json!({}),
                true,
            ),
            (
                "    sel_1:\n        eventName: X\n    sel_2:\n        eventName: DeleteBucket\n    condition: all of sel_*",
                json!({}),
                false,
            ),
            (
                "    sel_1:\n        eventName: DeleteBucket\n    sel_2:\n        eventSource: s3.amazonaws.com\n    condition: all of them",
                json!({}),
                true,
            ),
            (
                "    sel:\n        eventName: X\n    _hidden:\n        eventName: DeleteBucket\n    condition: 1 of them",
                json!({}),
                false,
            ),
            (
                "    sel:\n        - eventName: X\n        - eventSource: s3.amazonaws.com\n    condition: sel",
                json!({}),
                true,
            ),
            (
                "    a:\n        eventName: X\n    b:\n        eventName: DeleteBucket\n    condition:\n        - a\n        - b",
                json!({}),
                true,
            ),
        ],
    );
}

/// `%placeholder%` with `expand` resolves against the policy: zones by name or role compile to
/// the event's zone for the source address (so "not from the management zone" works), to the
/// zones' CIDRs for other fields, and `values` to plain values.
#[test]
fn placeholders_resolve_to_policy_zones() {
    let policy = r#"
[[zones]]
name = "admin-vpn"
cidrs = ["10.8.0.0/16"]
role = "management"

[[zones]]
name = "apps"
cidrs = ["10.1.0.0/16"]
role = "application"

[[zones]]
name = "internet"
cidrs = ["0.0.0.0/0"]
role = "external"

[sigma]
test = "alert"

[sigma.placeholders.Admin_Networks]
roles = ["management"]

[sigma.placeholders.App_Zones]
zones = ["apps"]

[sigma.placeholders.Trusted_Agents]
values = ["aws-cli/*", "Boto3/*"]
"#;
    let policy = PolicySource::Text {
        origin: "policy.toml".into(),
        text: policy.into(),
    };
    let s = |d: &str| {
        format!(
            "    sel:\n        eventName: DeleteBucket\n    filter:\n{d}\n    condition: sel and not filter"
        )
    };
    let from = |ip: &str| json!({"sourceIPAddress": ip});
    check_table(
        &policy,
        &[
            (
                &s("        sourceIPAddress|expand: '%Admin_Networks%'"),
                from("10.8.3.4"),
                false,
            ),
            (
                &s("        sourceIPAddress|expand: '%Admin_Networks%'"),
                from("10.1.3.4"),
                true,
            ),
            (
                &s("        sourceIPAddress|expand: '%Admin_Networks%'"),
                from("198.51.100.7"),
                true,
            ),
            (
                &s("        sourceIPAddress|expand: '%app_zones%'"),
                from("10.1.0.9"),
                false,
            ),
            (
                &s("        requestParameters.cidrIp|expand: '%Admin_Networks%'"),
                json!({"requestParameters": {"cidrIp": "10.8.9.9"}}),
                false,
            ),
            (
                &s("        requestParameters.cidrIp|expand: '%Admin_Networks%'"),
                json!({"requestParameters": {"cidrIp": "10.9.9.9"}}),
                true,
            ),
            (
                &s("        userAgent|expand: '%Trusted_Agents%'"),
                json!({}),
                false,
            ),
            (
                &s("        userAgent|expand: '%Trusted_Agents%'"),
                json!({"userAgent": "curl/8"}),
                true,
            ),
            (
                &s("        userAgent|expand|contains: '%Trusted_Agents%'"),
                json!({"userAgent": "x Boto3/1.2 y"}),
                false,
            ),
        ],
    );
    // A placeholder the policy does not define refuses the rule, with its line.
    let rules = vec![(
        "p.yml".to_owned(),
        rule_yaml(&s("        sourceIPAddress|expand: '%Nope%'")),
    )];
    let cfg = config(rules, policy);
    assert_eq!(cfg.rejected.len(), 1);
    let e = cfg.rejected[0].to_string();
    assert!(
        e.starts_with("p.yml:12: ")
            && e.contains("%Nope% is not defined")
            && e.contains("11111111-1111-4111-8111-111111111111"),
        "{e}"
    );
}

/// Status → mode follows the policy's `[sigma]`, per-rule overrides win, and `require_success`
/// adds "AWS accepted the call" to rules without an errorCode test.
#[test]
fn settings_decide_modes_and_success() {
    let path = sigmahq().join("aws_disable_bucket_versioning.yml");
    let rules = vec![(path.display().to_string(), read(&path))];
    let case: Value = serde_json::from_str(&read(
        &repo()
            .join(FIXTURES)
            .join("cases/aws_disable_bucket_versioning.json"),
    ))
    .unwrap();
    let (ok, refused) = (&case["matches"][0], &case["matches"][1]);
    assert!(refused.get("errorCode").is_some() && ok.get("errorCode").is_none());
    let policy = |sigma: &str| PolicySource::Text {
        origin: "policy.toml".into(),
        text: format!("{}\n{sigma}\n", laneguard_core::policy::Policy::embedded_text()),
    };
    let id = "sigma.aws_disable_bucket_versioning";
    let mode = |p: &PolicySource| config(rules.clone(), p.clone()).rules.rules()[0].mode;
    assert_eq!(mode(&PolicySource::Embedded), Mode::Shadow);
    assert_eq!(mode(&policy("[sigma]\ntest = \"alert\"")), Mode::Alert);
    assert_eq!(
        mode(&policy(
            "[sigma]\ntest = \"alert\"\n[sigma.rules.\"sigma.aws_disable_bucket_versioning\"]\nmode = \"off\""
        )),
        Mode::Off
    );
    assert_eq!(
        mode(&policy(
            "[sigma.rules.\"a136ac98-b2bc-4189-a14d-f0d0388e57a7\"]\nmode = \"alert\""
        )),
        Mode::Alert,
        "by Sigma id"
    );
    assert!(fires(&rules, &PolicySource::Embedded, id, refused));
    let strict = policy("[sigma]\nrequire_success = true");
    assert!(!fires(&rules, &strict, id, refused));
    assert!(fires(&rules, &strict, id, ok));
    let cfg = config(rules.clone(), PolicySource::Embedded);
    assert!(
        cfg.warnings()
            .iter()
            .any(|w| w.contains("matches calls that AWS refused")),
        "{:?}",
        cfg.warnings()
    );
    assert!(
        !config(rules, strict)
            .warnings()
            .iter()
            .any(|w| w.contains("matches calls that AWS refused"))
    );
}

// ---- bad input ---------------------------------------------------------------------------

/// Each bad rule is refused with `file:line`, its Sigma id and a clear reason, and the good
/// rules of the same directory still load.
#[test]
fn bad_rules_are_refused_with_coordinates_and_the_rest_loads() {
    let dir = tempdir("bad-sigma");
    let good = read(&sigmahq().join("aws_root_account_usage.yml"));
    std::fs::write(dir.join("good.yml"), &good).unwrap();
    std::fs::write(dir.join("good.toml"), "id = \"t.toml\"\ntitle = \"t\"\nseverity = \"low\"\n[match]\n\"api.action\" = \"DeleteBucket\"\n[[tests]]\nexpect = true\ninput = { source = \"cloudtrail\", record = '{}' }\n").unwrap();
    let head = "title: bad\nid: 22222222-2222-4222-8222-222222222222\nstatus: test\nlogsource:\n    product: aws\n    service: cloudtrail\n";
    let cases: Vec<(&str, String, &str)> = vec![
        ("invalid.yml", format!("{head}detection:\n    sel:\n        eventName: [a, b\n    condition: sel\n"), ":10: invalid YAML"),
        ("modifier.yml", format!("{head}detection:\n    sel:\n        eventName|sounds_like: x\n    condition: sel\n"), ":9: selection `sel`: `eventName|sounds_like`: unknown modifier `sounds_like`"),
        ("missing.yml", format!("{head}detection:\n    sel:\n        eventName: x\n    condition: sel and not filter\n"), ":10: the condition names `filter`, which the detection does not define"),
        ("regex.yml", format!("{head}detection:\n    sel:\n        eventName|re: '(x{{1000}}){{1000}}'\n    condition: sel\n"), "compiles to more than"),
        ("aggregation.yml", format!("{head}detection:\n    sel:\n        eventName: x\n    timeframe: 5m\n    condition: sel | count() by sourceIPAddress > 5\n"), ":11: the condition uses the deprecated pipe aggregation"),
        ("windows.yml", "title: w\nid: 33333333-3333-4333-8333-333333333333\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    sel:\n        Image: x\n    condition: sel\n".into(), ":3: logsource {category: process_creation, product: windows} is not AWS CloudTrail"),
        ("correlation.yml", "title: c\nid: 44444444-4444-4444-8444-444444444444\nname: many\ncorrelation:\n    type: event_count\n    rules:\n        - x\n    group-by:\n        - sourceIPAddress\n    timespan: 1h\n    condition:\n        gte: 10\n".into(), ":4: a Sigma correlation rule (type event_count)"),
        ("unsupported.yml", format!("{}detection:\n    sel:\n        eventName: x\n    condition: sel\n", head.replace("status: test", "status: unsupported")), ":3: status `unsupported`"),
        ("dup.yml", format!("{head}detection:\n    sel:\n        eventName: x\n    sel:\n        eventName: y\n    condition: sel\n"), ":10: duplicate key `sel`"),
        ("alias.yml", format!("{head}detection:\n    sel: &s\n        eventName: x\n    other: *s\n    condition: sel\n"), "aliases"),
    ];
    for (name, text, _) in &cases {
        std::fs::write(dir.join(name), text).unwrap();
    }
    // A 10 MB rule file.
    let mut huge = format!("{head}detection:\n    sel:\n        eventName:\n");
    while huge.len() < 10 << 20 {
        huge.push_str(
            "            - DeleteBucketxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
        );
    }
    std::fs::write(dir.join("huge.yml"), &huge).unwrap();
    let cfg = Config::load(&Sources::from_paths(None, Some(&dir))).unwrap();
    let ids: Vec<&str> = cfg.rules.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["t.toml", "sigma.good"],
        "sorted by file: good.toml, good.yml"
    );
    let errors: Vec<String> = cfg.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), cases.len() + 1, "{errors:#?}");
    for (name, _, want) in &cases {
        let e = errors
            .iter()
            .find(|e| e.contains(&format!("{name}:")))
            .unwrap_or_else(|| panic!("{name}: {errors:#?}"));
        assert!(e.contains(want), "{name}: {e}");
        assert!(e.contains("(Sigma rule "), "{name}: the Sigma id is named: {e}");
    }
    let e = errors.iter().find(|e| e.contains("huge.yml")).unwrap();
    assert!(
        e.contains("over 1048576 bytes are refused") && e.contains("(Sigma rule 22222222-"),
        "{e}"
    );
    // The same text handed over as a bundle is refused too, without parsing it.
    let cfg = config(vec![("huge.yml".into(), huge)], PolicySource::Embedded);
    assert!(cfg.rejected[0].reason.contains("refused"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("laneguard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- the command line ----------------------------------------------------------------------

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `replay --rules DIR` runs Sigma and TOML rules of one directory together.
#[test]
fn replay_runs_sigma_and_toml_rules_together() {
    let dir = tempdir("replay-sigma");
    std::fs::copy(
        sigmahq().join("aws_disable_bucket_versioning.yml"),
        dir.join("aws_disable_bucket_versioning.yml"),
    )
    .unwrap();
    std::fs::write(
        dir.join("t.versioning.toml"),
        "id = \"t.versioning\"\ntitle = \"versioning changed\"\nseverity = \"low\"\nsources = [\"cloudtrail\"]\n[match]\n\"api.action\" = \"PutBucketVersioning\"\n",
    )
    .unwrap();
    let case: Value = serde_json::from_str(&read(
        &repo()
            .join(FIXTURES)
            .join("cases/aws_disable_bucket_versioning.json"),
    ))
    .unwrap();
    let input = dir.join("records.jsonl");
    std::fs::write(
        &input,
        format!("{}\n", serde_json::to_string(&case["matches"][0]).unwrap()),
    )
    .unwrap();
    let o = laneguard(&[
        "replay",
        "--rules",
        dir.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let found: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = found.iter().map(|f| f["rule_id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&"sigma.aws_disable_bucket_versioning") && ids.contains(&"t.versioning"),
        "{ids:?}"
    );
    let sigma = found
        .iter()
        .find(|f| f["rule_id"] == "sigma.aws_disable_bucket_versioning")
        .unwrap();
    assert_eq!(sigma["sigma"]["author"], "Sean Johnstone | Unit 42");
    let table = laneguard(&[
        "replay",
        "--format",
        "table",
        "--rules",
        dir.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    assert!(
        stdout(&table).contains("Sigma rule by Sean Johnstone | Unit 42; SigmaHQ"),
        "{}",
        stdout(&table)
    );
    let explain = laneguard(&["test", "--explain", "--rules", dir.to_str().unwrap()]);
    let text = stdout(&explain);
    assert!(
        text.contains("sigma.aws_disable_bucket_versioning [shadow, medium]")
            && text.contains("author: Sean Johnstone | Unit 42")
            && text.contains("credit: Sigma rule by Sean Johnstone | Unit 42; SigmaHQ"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `sigma check` over the reference set prints its table; `sigma convert` prints rules that load
/// with their generated tests passing.
#[test]
fn sigma_check_and_convert() {
    let o = laneguard(&["sigma", "check", &format!("{FIXTURES}/sigmahq")]);
    assert!(o.status.success(), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("45 Sigma rules: 45 loaded"), "{text}");
    assert!(
        text.contains("`status` is not a field of CloudTrail records"),
        "{text}"
    );
    assert!(
        text.contains("matches calls that AWS refused (no errorCode condition)"),
        "{text}"
    );
    assert!(
        text.contains("which reads like a field name: add `|fieldref`"),
        "{text}"
    );
    let strict = stdout(&laneguard(&[
        "sigma",
        "check",
        "--require-success",
        "--mode",
        "test=alert",
        &format!("{FIXTURES}/sigmahq"),
    ]));
    assert!(!strict.contains("matches calls that AWS refused"), "{strict}");
    assert!(
        strict.contains("sigma.aws_ec2_vm_export_failure") && strict.contains("alert "),
        "{strict}"
    );

    let dir = tempdir("convert-sigma");
    let o = laneguard(&[
        "sigma",
        "convert",
        "--out",
        dir.to_str().unwrap(),
        &format!("{FIXTURES}/sigmahq"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t = laneguard(&["test", "--rules", dir.to_str().unwrap()]);
    let text = stdout(&t);
    assert!(t.status.success(), "{text}");
    assert!(text.contains("45 rules,"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();

    let bad = laneguard(&["sigma", "check", "tests/fixtures/sigma/expectations.md"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// The Sigma section of docs/RULES.md lists every modifier the loader knows and the refusals.
#[test]
fn docs_describe_the_import() {
    let docs = read(&repo().join("docs/RULES.md"));
    let section = docs
        .split("## Sigma rules")
        .nth(1)
        .expect("docs/RULES.md has a Sigma section");
    for m in [
        "contains",
        "startswith",
        "endswith",
        "all",
        "re",
        "cidr",
        "exists",
        "fieldref",
        "base64",
        "base64offset",
        "utf16le",
        "wide",
        "windash",
        "lt",
        "lte",
        "gt",
        "gte",
        "cased",
        "expand",
        "neq",
    ] {
        assert!(section.contains(&format!("`{m}`")), "modifier `{m}` undocumented");
    }
    for (sigma, lane) in sigma::fields::FIXED {
        assert!(
            section.contains(&format!("`{sigma}`")) && section.contains(&format!("`{lane}`")),
            "{sigma} → {lane} undocumented"
        );
    }
    for refusal in ["correlation", "count()", "unsupported", "logsource", "1 MiB"] {
        assert!(section.contains(refusal), "refusal {refusal} undocumented");
    }
    assert!(section.contains("DRL"));
}
