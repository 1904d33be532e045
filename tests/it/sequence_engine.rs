//! Sequence rules in the engine (issue #12): the file format's errors carry file and line; a
//! sequence across two sources fires in replay exactly where a model of its definition says,
//! whatever the order of the inputs and on any number of threads; absences are decided at the
//! end of a replay, need their coverage, and fold a window's repeats; events without a join key
//! are counted.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use laneguard_core::rules::RuleSet;

/// A directory of its own under the temporary directory, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("laneguard-seq-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn error_of(text: &str) -> String {
    let (set, errors) = RuleSet::from_sources([("bad.toml", text)]);
    assert!(set.rules().is_empty(), "{text}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    errors[0].to_string()
}

const HEAD: &str = "id = \"t.seq\"\ntitle = \"t\"\nseverity = \"high\"\n";

fn seq(body: &str) -> String {
    format!("{HEAD}{body}")
}

#[test]
fn sequence_file_errors_carry_file_line_and_reason() {
    let two = "[sequence]\nwithin = \"1h\"\njoin = [\"actor.ip\"]\n\
               [[steps]]\nname = \"a\"\n[steps.match]\nkind = \"failed_connect\"\n\
               [[steps]]\nname = \"b\"\n[steps.match]\nkind = \"connect\"\n";
    // The well-formed rule loads, with its steps hidden from the listing.
    let (set, errors) = RuleSet::from_sources([("ok.toml", seq(two).as_str())]);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(set.rules().len(), 1);
    assert!(set.rules()[0].sequence.is_some());
    let cases = [
        (
            seq(&format!("[match]\nkind = \"connect\"\n{two}")),
            "bad.toml:6: rule t.seq: ",
            "not both",
        ),
        (
            seq(&two.replace("within = \"1h\"", "within = \"soon\"")),
            "bad.toml:4: ",
            "within",
        ),
        (
            seq(&two.replace("name = \"a\"", "name = \"a\"\nabsent = \"after\"")),
            "bad.toml:7: ",
            "the first step cannot be absent",
        ),
        (
            seq(&two.replace("name = \"b\"", "name = \"b\"\nabsent = \"later\"")),
            "bad.toml:11: ",
            "absent is",
        ),
        (
            seq(&two.replace(
                "name = \"b\"",
                "name = \"b\"\nkey = [\"actor.ip\", \"datastore\"]",
            )),
            "bad.toml:11: ",
            "same number of fields",
        ),
        (
            seq(&two.replace("name = \"b\"", "name = \"a\"")),
            "bad.toml:11: ",
            "two steps have this name",
        ),
        (
            seq(&two.replace("kind = \"connect\"", "bogus.field = 1")),
            "bad.toml:11: ",
            "steps[1] (b)",
        ),
        (
            seq(&two.replace(
                "join = [\"actor.ip\"]",
                "join = [\"actor.ip\"]\ncovered_by = [\"datastore\"]",
            )),
            "bad.toml:4: ",
            "covered_by is for sequences with an absent step",
        ),
        (
            seq(&two.replace("join = [\"actor.ip\"]", "")),
            "bad.toml:",
            "no join key",
        ),
        (
            seq(&format!("{two}[threshold]\ncount = 2\nwindow = \"1m\"\n")),
            "bad.toml:4: ",
            "no `[threshold]`",
        ),
    ];
    for (text, at, reason) in cases {
        let e = error_of(&text);
        assert!(e.starts_with(at), "{e} (wanted {at})\n{text}");
        assert!(e.contains(reason), "{e} (wanted {reason})");
    }
}

/// A rule joining a CloudTrail call to a later statement of the same user within 10 minutes.
const RULE: &str = r#"
id = "t.call-then-statement"
title = "A call, then a statement by the same user"
severity = "high"

[sequence]
within = "10m"
join = ["actor.user"]

[[steps]]
name = "call"
sources = ["cloudtrail"]
[steps.match]
api.action = "DescribeDBInstances"

[[steps]]
name = "statement"
sources = ["mysql-audit"]
[steps.match]
kind = "statement"
"#;

fn cloudtrail(user: &str, at: i64) -> String {
    let time = jiff::Timestamp::from_second(1_764_000_000 + at).unwrap();
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/{user}","accountId":"123456789012","userName":"{user}"}},"eventTime":"{}","eventSource":"rds.amazonaws.com","eventName":"DescribeDBInstances","awsRegion":"us-east-1","sourceIPAddress":"10.0.250.7","userAgent":"aws-cli","requestParameters":null,"responseElements":null,"eventID":"ev-{user}-{at}","eventType":"AwsApiCall","recipientAccountId":"123456789012"}}"#,
        time.strftime("%Y-%m-%dT%H:%M:%SZ")
    )
}

fn audit(user: &str, at: i64) -> String {
    let time = jiff::Timestamp::from_second(1_764_000_000 + at).unwrap();
    format!(
        "{},payments-db,{user},10.0.250.7,{},{},QUERY,shop,'SELECT 1',0",
        time.strftime("%Y%m%d %H:%M:%S"),
        7000 + at,
        at
    )
}

fn replay(rules: &Path, inputs: &Path, args: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .arg("replay")
        .arg("--rules")
        .arg(rules)
        .args(args)
        .arg(inputs)
        .output()
        .expect("run laneguard replay");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let findings = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (findings, stderr)
}

/// 120 users, each with a call and a statement at pseudo-random offsets: the users whose
/// statement comes after their call (or up to the 1-minute default skew before it) and within
/// 10 minutes of it — computed here from the
/// definition, not written down — are the findings, with the call as related evidence; the
/// same whether the CloudTrail file is read first or last, on one thread or three.
#[test]
fn a_sequence_across_sources_fires_where_the_model_says_in_any_order_and_on_any_threads() {
    let dir = Scratch::new();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("t.toml"), RULE).unwrap();
    let mut expected = BTreeSet::new();
    let (mut calls, mut statements) = (Vec::new(), Vec::new());
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |m: i64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % m as u64) as i64
    };
    for i in 0..120 {
        let user = format!("u{i:03}");
        let call = next(3600);
        let statement = call + next(1500) - 300; // 5 minutes before to 20 after
        calls.push(cloudtrail(&user, call));
        statements.push(audit(&user, statement));
        // After the call by at most `within` (10 minutes), or before it by at most the
        // default clock skew between sources (1 minute).
        if (-60..=600).contains(&(statement - call)) {
            expected.insert(user);
        }
    }
    assert!(expected.len() > 20 && expected.len() < 100, "{}", expected.len());
    for (first, last) in [("a", "b"), ("b", "a")] {
        let inputs = dir.path().join(format!("inputs-{first}"));
        std::fs::create_dir(&inputs).unwrap();
        std::fs::write(
            inputs.join(format!("{first}-cloudtrail.json")),
            format!("{{\"Records\":[{}]}}", calls.join(",")),
        )
        .unwrap();
        std::fs::write(
            inputs.join(format!("{last}-audit.log")),
            statements.join("\n") + "\n",
        )
        .unwrap();
        let mut ids: Option<BTreeSet<String>> = None;
        for threads in ["1", "3"] {
            let (findings, _) = replay(&rules, &inputs, &["--threads", threads, "--batch-records", "7"]);
            let fired: BTreeSet<String> = findings
                .iter()
                .filter(|f| f["rule_id"] == "t.call-then-statement")
                .map(|f| {
                    assert_eq!(f["source"], "mysql-audit", "the last step's event raises it");
                    let related = f["evidence"]["related"].as_array().unwrap();
                    assert_eq!(related.len(), 1);
                    assert!(related[0]["file"].as_str().unwrap().ends_with("cloudtrail.json"));
                    assert_eq!(f["count"], 2);
                    assert!(f["first_seen"].as_str().unwrap() <= f["last_seen"].as_str().unwrap());
                    f["actor"]["user"].as_str().unwrap().to_owned()
                })
                .collect();
            assert_eq!(fired, expected, "cloudtrail read {first}, {threads} threads");
            let these: BTreeSet<String> = findings
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_owned())
                .collect();
            match &ids {
                None => ids = Some(these),
                Some(ids) => assert_eq!(ids, &these, "finding ids differ with {threads} threads"),
            }
        }
    }
}

/// An absence rule through replay: flows to a datastore's port with no audit event of the same
/// client around them. A client with a login is quiet, a client without one fires once for its
/// window (its three flows folded into the count) and again in a later window; a datastore
/// whose audit logs were not given raises nothing (coverage), and says so in the summary.
#[test]
fn absence_with_coverage_in_replay() {
    let rule = r#"
id = "t.unaudited-flow"
title = "Flow without an audit event"
severity = "high"

[sequence]
within = "15m"
join = ["datastore", "client.ip"]
covered_by = ["datastore"]

[[steps]]
name = "flow"
sources = ["vpc-flow"]
[steps.match]
flow.action = "ACCEPT"
datastore = { exists = true }

[[steps]]
name = "audited"
sources = ["any-sql"]
key = ["datastore", "actor.ip"]
absent = "around"
[steps.match]
source = ["mysql-audit", "pgaudit"]
"#;
    let dir = Scratch::new();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("t.toml"), rule).unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let base = 1_764_000_000i64;
    // version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
    let flow = |src: &str, dst: &str, at: i64| {
        format!(
            "2 123456789012 eni-0a1b2c3d {src} {dst} 40000 3306 6 10 840 {} {} ACCEPT OK",
            base + at,
            base + at + 60
        )
    };
    let flows = [
        flow("10.0.16.9", "10.0.32.5", 0),    // audited client: quiet
        flow("10.0.16.66", "10.0.32.5", 0),   // unaudited client: fires…
        flow("10.0.16.66", "10.0.32.5", 300), // …once for these three
        flow("10.0.16.66", "10.0.32.5", 600),
        flow("10.0.16.66", "10.0.32.5", 7200), // a later window: again
        flow("10.0.16.66", "10.0.33.5", 0),    // marketing-db: no audit logs given
    ];
    std::fs::write(inputs.join("a-flows.log"), flows.join("\n") + "\n").unwrap();
    let login = jiff::Timestamp::from_second(base - 120).unwrap();
    std::fs::write(
        inputs.join("b-audit.log"),
        format!(
            "{},payments-db,app,10.0.16.9,7001,1,CONNECT,shop,,0\n",
            login.strftime("%Y%m%d %H:%M:%S")
        ),
    )
    .unwrap();
    let (findings, stderr) = replay(&rules, &inputs, &["--threads", "1"]);
    let fired: Vec<_> = findings
        .iter()
        .filter(|f| f["rule_id"] == "t.unaudited-flow")
        .collect();
    assert_eq!(fired.len(), 2, "{findings:#?}");
    assert!(
        fired
            .iter()
            .all(|f| f["actor"]["ip"] == "10.0.16.66" && f["datastore"] == "payments-db")
    );
    let mut counts: Vec<u64> = fired.iter().map(|f| f["count"].as_u64().unwrap()).collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 3]);
    assert!(stderr.contains("1 absences not raised"), "{stderr}");
    let (parallel, _) = replay(&rules, &inputs, &["--threads", "2", "--batch-records", "1"]);
    let ids = |v: &[serde_json::Value]| -> BTreeSet<String> {
        v.iter().map(|f| f["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(ids(&findings), ids(&parallel));
}

/// A step event with no value for any join field is skipped and counted, not joined under an
/// empty key.
#[test]
fn step_events_without_a_join_key_are_counted() {
    let dir = Scratch::new();
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("t.toml"), RULE).unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    // No userName, no user in the ARN: no actor.user.
    let call = cloudtrail("x", 0).replace(
        r#""userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/x","accountId":"123456789012","userName":"x"}"#,
        r#""userIdentity":{"type":"AWSService","invokedBy":"rds.amazonaws.com"}"#,
    );
    std::fs::write(inputs.join("ct.json"), format!("{{\"Records\":[{call}]}}")).unwrap();
    for threads in ["1", "2"] {
        let (findings, stderr) = replay(&rules, &inputs, &["--threads", threads]);
        assert!(findings.iter().all(|f| f["rule_id"] != "t.call-then-statement"));
        assert!(
            stderr.contains("sequences: 1 step events without a join key value skipped"),
            "{threads} threads: {stderr}"
        );
    }
}

/// A key field with several values files the event under each: a GRANT to two accounts starts
/// a sequence for each, and what the second grantee does completes its own (the rule's tests,
/// run as `laneguard test` runs them, in both input orders).
#[test]
fn a_multi_valued_key_starts_a_sequence_per_value() {
    let rule = r#"
id = "t.grant-then-use"
title = "Granted, then used"
severity = "high"

[sequence]
within = "1h"

[[steps]]
name = "granted"
sources = ["mysql-audit"]
key = ["datastore", "sql.accounts"]
[steps.match]
sql.class = "DCL"

[[steps]]
name = "used"
sources = ["mysql-audit"]
key = ["datastore", "actor.user"]
[steps.match]
sql.class = "DQL"

[[tests]]
name = "the second grantee reads"
expect = true
count = 1
[[tests.inputs]]
source = "mysql-audit"
records = ['''20261128 09:50:00,payments-db,admin,10.0.250.9,6000,12,QUERY,shop,'GRANT SELECT ON shop.* TO \'ann\'@\'%\', \'bob\'@\'%\'',0''']
[[tests.inputs]]
source = "mysql-audit"
records = ['''20261128 09:55:00,payments-db,bob,10.0.16.9,6001,13,QUERY,shop,'SELECT * FROM cards',0''']

[[tests]]
name = "someone else reads"
expect = false
[[tests.inputs]]
source = "mysql-audit"
records = ['''20261128 09:50:00,payments-db,admin,10.0.250.9,6000,12,QUERY,shop,'GRANT SELECT ON shop.* TO \'ann\'@\'%\', \'bob\'@\'%\'',0''']
[[tests.inputs]]
source = "mysql-audit"
records = ['''20261128 09:55:00,payments-db,carol,10.0.16.9,6001,13,QUERY,shop,'SELECT * FROM cards',0''']
"#;
    let (set, errors) = RuleSet::from_sources([("t.toml", rule)]);
    assert!(errors.is_empty(), "{errors:?}");
    let policy = std::sync::Arc::new(laneguard_core::policy::Policy::embedded());
    let outcomes = laneguard_core::rule_tests::run_all(&set, Some(&policy));
    assert_eq!(outcomes.len(), 2);
    for o in outcomes {
        assert!(o.passed, "{o:?}");
    }
}
