//! Cross-source sequences end to end (issue #12): the SQL half of every sequence and fusion rule
//! recorded from a real MariaDB (server_audit) and a real PostgreSQL (pgaudit), the CloudTrail and
//! VPC flow half written by hand next to it, timed from the recorded audit's own event times and
//! naming the same datastore (`payments-db`: MariaDB's audit through its `serverhost`, PostgreSQL's
//! through its `payments` database, the flows through the datastore's policy address 127.0.32.10
//! and port — the servers themselves listen on 127.0.0.1 and a free port, which no flow log
//! records here: the flows are the hand-written half).
//!
//! `tests/e2e/sequences.py` runs the SQL (an attack phase and its benign twin, one step per
//! scenario); the audit log is cut into one slice per step, and each scenario becomes a directory
//! `attack/<scenario>/` and `benign/<scenario>/` with the slice, `cloudtrail.jsonl` and
//! `vpc-flow.log` as it needs. `laneguard replay` (the built binary) over each attack directory
//! must raise exactly the cross-source findings [`SCENARIOS`] lists, over each benign twin none,
//! whichever file is read first, and with one thread as with several.
//!
//! Skipped like the other end-to-end tests when the servers or drivers are missing; with
//! `CI=true` their absence fails.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::json;

use super::servers::{MariaDb, Postgres, Scratch, Tools};
use super::{Engine, ManifestStep, normalize, repo, snap, tools_or_skip};

/// The rules whose findings these tests count.
const CROSS_SOURCE: &[&str] = &[
    "seq.audit-weakened-then-activity",
    "seq.made-public-then-external-access",
    "seq.sg-opened-then-external-flow",
    "seq.snapshot-created-then-shared",
    "seq.brute-force-then-login",
    "seq.escalation-then-sensitive-read",
    "fusion.audit-bypass",
    "fusion.audit-gap",
];

/// Scenario → the cross-source findings its attack directory raises (its benign twin: none).
/// `fusion.audit-gap` raises `fusion.audit-bypass` on the same flow by design: a client with no
/// audit event in the half hour has none in the quarter hour either (the rule says so).
const SCENARIOS: &[(&str, &[(&str, usize)])] = &[
    ("brute-force", &[("seq.brute-force-then-login", 1)]),
    ("escalation", &[("seq.escalation-then-sensitive-read", 1)]),
    ("audit-weakened", &[("seq.audit-weakened-then-activity", 1)]),
    ("made-public", &[("seq.made-public-then-external-access", 1)]),
    ("sg-opened", &[("seq.sg-opened-then-external-flow", 1)]),
    ("snapshot", &[("seq.snapshot-created-then-shared", 1)]),
    ("audit-bypass", &[("fusion.audit-bypass", 1)]),
    (
        "audit-gap",
        &[("fusion.audit-gap", 1), ("fusion.audit-bypass", 1)],
    ),
];

/// payments-db in the example policy: its flow-log address and the engine's port.
const DATASTORE_IP: &str = "127.0.32.10";
const NET: &str = "127.200.0.9";
const PAY: &str = "127.16.0.5";
/// An application-zone host that reaches the database without ever appearing in its audit.
const SILENT: &str = "127.16.0.77";

fn port(engine: Engine) -> u16 {
    match engine {
        Engine::MariaDb => 3306,
        Engine::Postgres => 5432,
    }
}

// ------------------------------------------------------------------------------------------------
// Recording
// ------------------------------------------------------------------------------------------------

fn run_script(
    tools: &Tools,
    engine: Engine,
    port: u16,
    log: &Path,
    phase: &str,
    scratch: &Path,
) -> Vec<ManifestStep> {
    super::run_script("sequences.py", tools, engine, port, log, phase, scratch)
}

/// Start the server, run setup, attack and benign, stop it; the normalized slice of every step,
/// keyed by `(phase, step)`.
fn record(tools: &Tools, engine: Engine) -> BTreeMap<(String, String), String> {
    let (log, scratch, manifests) = match engine {
        Engine::MariaDb => {
            let db = MariaDb::start(tools);
            db.root_sql(
                "CREATE USER 'admin'@'%' IDENTIFIED BY 'e2e-Admin-pw1'; \
                 GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION;",
            );
            let s = db.dir.0.clone();
            let mut m = Vec::new();
            for phase in ["setup", "attack", "benign"] {
                m.push((
                    phase,
                    run_script(tools, engine, db.port, &db.audit_log, phase, &s),
                ));
            }
            (fs::read(&db.audit_log).unwrap(), s, m)
        }
        Engine::Postgres => {
            let pg = Postgres::start(tools);
            for db in ["template1", "postgres"] {
                pg.superuser_sql(db, "CREATE EXTENSION pgaudit");
            }
            pg.superuser_sql(
                "postgres",
                "CREATE ROLE admin LOGIN SUPERUSER PASSWORD 'e2e-Admin-pw1'",
            );
            let s = pg.dir.0.clone();
            let mut m = Vec::new();
            for phase in ["setup", "attack", "benign"] {
                m.push((phase, run_script(tools, engine, pg.port, &pg.log, phase, &s)));
            }
            (fs::read(&pg.log).unwrap(), s, m)
        }
    };
    let text = String::from_utf8(log).expect("audit log is UTF-8");
    let mut slices = BTreeMap::new();
    for (phase, steps) in manifests.iter().filter(|(p, _)| *p != "setup") {
        for s in steps {
            let part = &text[snap(&text, s.start)..snap(&text, s.end)];
            assert!(!part.is_empty(), "{engine:?} {phase} {}: no audit output", s.step);
            slices.insert(
                ((*phase).to_string(), s.step.clone()),
                as_payments_db(engine, &normalize(engine, part, &scratch)),
            );
        }
    }
    slices
}

/// The local MariaDB is `payments-db`: its `serverhost` field names the instance, as on RDS (the
/// policy's `match` lists the instance id). A MariaDB failed login carries no database, so without
/// it (or an RDS log group, which a replayed file has not) the failures would name no datastore.
/// PostgreSQL lines name the database (`user@payments`), which the policy maps to payments-db.
fn as_payments_db(engine: Engine, text: &str) -> String {
    match engine {
        Engine::MariaDb => text.replace(",e2e-mariadb,", ",payments-db,"),
        Engine::Postgres => text.to_string(),
    }
}

// ------------------------------------------------------------------------------------------------
// Times
// ------------------------------------------------------------------------------------------------

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn num(s: &str) -> i64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// The event time of an audit line (UTC seconds), if it starts with one: MariaDB
/// `20261128 02:12:35,…`, PostgreSQL `2026-11-28 02:12:39 UTC:…`.
fn line_time(line: &str) -> Option<i64> {
    let b = line.as_bytes();
    let (date, time) = if b.len() > 17 && b[8] == b' ' && b[17] == b',' {
        ((&line[0..4], &line[4..6], &line[6..8]), &line[9..17])
    } else if b.len() > 23 && b[4] == b'-' && b[10] == b' ' && line[19..].starts_with(" UTC") {
        ((&line[0..4], &line[5..7], &line[8..10]), &line[11..19])
    } else {
        return None;
    };
    if !date.0.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let days = days_from_civil(num(date.0), num(date.1), num(date.2));
    let hms: Vec<i64> = time.split(':').map(num).collect();
    Some(days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

/// First and last event time of a slice.
fn span(slice: &str) -> (i64, i64) {
    let times: Vec<i64> = slice.lines().filter_map(line_time).collect();
    assert!(!times.is_empty(), "no timestamped line in:\n{slice}");
    (times[0], *times.last().unwrap())
}

fn iso(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let s = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

// ------------------------------------------------------------------------------------------------
// The hand-written half
// ------------------------------------------------------------------------------------------------

const ACCOUNT: &str = "111122223333";

fn cloudtrail(
    seq: u32,
    t: i64,
    service: &str,
    name: &str,
    request: serde_json::Value,
    response: serde_json::Value,
) -> String {
    let host = service.replace(".amazonaws.com", ".us-east-1.amazonaws.com");
    json!({
        "eventVersion": "1.10",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLECI000001",
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/ci-deployer"), "accountId": ACCOUNT,
            "accessKeyId": "AKIAEXAMPLECI000001", "userName": "ci-deployer"
        },
        "eventTime": iso(t), "eventSource": service, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.1 os/linux#6.1 md/arch#x86_64 lang/python#3.12.6",
        "requestParameters": request, "responseElements": response,
        "requestID": format!("5e9c0000-0000-4000-8000-{seq:012x}"),
        "eventID": format!("5e9d0000-0000-4000-8000-{seq:012x}"),
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true,
        "recipientAccountId": ACCOUNT, "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": host}
    })
    .to_string()
}

fn instance(public: bool) -> serde_json::Value {
    json!({
        "dBInstanceIdentifier": "payments-db", "dBInstanceClass": "db.r6g.large", "engine": "mariadb",
        "dBInstanceStatus": "available", "publiclyAccessible": public, "deletionProtection": true,
        "backupRetentionPeriod": 7, "dBInstanceArn": format!("arn:aws:rds:us-east-1:{ACCOUNT}:db:payments-db"),
        "pendingModifiedValues": {}
    })
}

const FLOW_HEADER: &str = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr region az-id sublocation-type sublocation-id pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path";

/// One ACCEPTed client → database flow (SYN and FIN seen: the client opened it), v5 with the header
/// the file starts with.
fn flow(src: &str, sport: u16, dport: u16, t: i64) -> String {
    format!(
        "5 {ACCOUNT} eni-0paydb0000000001 {src} {DATASTORE_IP} {sport} {dport} 6 14 2240 {t} {} ACCEPT OK \
         vpc-0shop000000000001 subnet-0data0000000000a - 3 IPv4 {src} {DATASTORE_IP} us-east-1 use1-az1 - - - - ingress -",
        t + 58
    )
}

/// The files of one scenario: (file name, text). Names sort CloudTrail, audit, flows; the
/// reversed copy renames them so flows come first.
type Files = Vec<(String, String)>;

fn scenario(engine: Engine, name: &str, attack: bool, slice: &dyn Fn(&str) -> String) -> Files {
    let audit_name = format!("b-{}", engine.file_name());
    let ct = |lines: Vec<String>| ("a-cloudtrail.jsonl".to_string(), lines.join("\n") + "\n");
    let flows = |lines: Vec<String>| {
        let mut text = format!("{FLOW_HEADER}\n");
        for l in lines {
            let _ = writeln!(text, "{l}");
        }
        ("c-vpc-flow.log".to_string(), text)
    };
    let p = port(engine);
    match name {
        "brute-force" => vec![(audit_name, slice("brute-force"))],
        "escalation" => vec![(audit_name, slice("escalation"))],
        "audit-weakened" => {
            let sql = slice("ddl");
            let (t, _) = span(&sql);
            // MariaDB: the audit log export switched off; PostgreSQL: pgaudit.log = none in the
            // datastore's parameter group (the policy's `match` names payments-db-params).
            let call = match (engine, attack) {
                (Engine::MariaDb, _) => cloudtrail(
                    1,
                    t - 600,
                    "rds.amazonaws.com",
                    "ModifyDBInstance",
                    json!({"dBInstanceIdentifier": "payments-db", "applyImmediately": true,
                           "cloudwatchLogsExportConfiguration": {"disableLogTypes": [if attack { "audit" } else { "slowquery" }]}}),
                    instance(false),
                ),
                (Engine::Postgres, _) => cloudtrail(
                    1,
                    t - 600,
                    "rds.amazonaws.com",
                    "ModifyDBParameterGroup",
                    json!({"dBParameterGroupName": "payments-db-params",
                           "parameters": [{"parameterName": "pgaudit.log", "parameterValue": if attack { "none" } else { "all" }, "applyMethod": "immediate"}]}),
                    json!({"dBParameterGroupName": "payments-db-params"}),
                ),
            };
            vec![ct(vec![call]), (audit_name, sql)]
        }
        "made-public" => {
            let sql = slice("external-login");
            let (t, _) = span(&sql);
            let call = cloudtrail(
                2,
                t - 1200,
                "rds.amazonaws.com",
                "ModifyDBInstance",
                json!({"dBInstanceIdentifier": "payments-db", "publiclyAccessible": attack, "applyImmediately": true}),
                instance(attack),
            );
            vec![ct(vec![call]), (audit_name, sql)]
        }
        "sg-opened" => {
            let sql = slice("external-login");
            let (t, _) = span(&sql);
            let cidr = if attack { "0.0.0.0/0" } else { "198.51.100.23/32" };
            let call = cloudtrail(
                3,
                t - 1200,
                "ec2.amazonaws.com",
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "sg-0db0000000000payd", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": p, "toPort": p,
                       "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
                json!({"requestId": "6c1d1d5e-0000-4000-8000-000000000002", "_return": true, "securityGroupRuleSet": {"items": [{
                       "groupOwnerId": ACCOUNT, "groupId": "sg-0db0000000000payd", "securityGroupRuleId": "sgr-0abc0000000000001",
                       "isEgress": false, "ipProtocol": "tcp", "fromPort": p, "toPort": p, "cidrIpv4": cidr}]}}),
            );
            // The internet client's connection, as the flow log saw it (the audit has its login).
            vec![
                ct(vec![call]),
                (audit_name, sql),
                flows(vec![flow(NET, 51515, p, t)]),
            ]
        }
        "snapshot" => {
            let (t, _) = span(&slice("ddl"));
            let create = cloudtrail(
                4,
                t,
                "rds.amazonaws.com",
                "CreateDBSnapshot",
                json!({"dBSnapshotIdentifier": "payments-db-x1", "dBInstanceIdentifier": "payments-db"}),
                json!({"dBSnapshotIdentifier": "payments-db-x1", "dBInstanceIdentifier": "payments-db", "snapshotType": "manual", "status": "creating"}),
            );
            let to = if attack { "444455556666" } else { ACCOUNT };
            let share = cloudtrail(
                5,
                t + 1800,
                "rds.amazonaws.com",
                "ModifyDBSnapshotAttribute",
                json!({"dBSnapshotIdentifier": "payments-db-x1", "attributeName": "restore", "valuesToAdd": [to]}),
                json!({"dBSnapshotIdentifier": "payments-db-x1", "dBSnapshotAttributes": [{"attributeName": "restore", "attributeValues": [to]}]}),
            );
            vec![ct(vec![create, share])]
        }
        "audit-bypass" => {
            let sql = slice("app-session");
            let (t, _) = span(&sql);
            let mut f = vec![flow(PAY, 40001, p, t)];
            if attack {
                f.push(flow(SILENT, 40002, p, t));
            }
            vec![(audit_name, sql), flows(f)]
        }
        "audit-gap" => {
            let sql = slice("app-session");
            let (_, t) = span(&sql);
            // 45 minutes after the last audit event: nothing of payments-db's audit within 30.
            let later = if attack { t + 2700 } else { t + 300 };
            vec![(audit_name, sql), flows(vec![flow(PAY, 40003, p, later)])]
        }
        other => panic!("unknown scenario {other}"),
    }
}

fn write_files(dir: &Path, files: &Files, reversed: bool) {
    fs::create_dir_all(dir).unwrap();
    for (name, text) in files {
        let name = if reversed {
            let (prefix, rest) = name.split_at(1);
            let p = match prefix {
                "a" => "c",
                "c" => "a",
                p => p,
            };
            format!("{p}{rest}")
        } else {
            name.clone()
        };
        fs::write(dir.join(name), text).unwrap();
    }
}

// ------------------------------------------------------------------------------------------------
// Replay
// ------------------------------------------------------------------------------------------------

/// `laneguard replay --format json DIR [extra]`: stdout, after checking every record parsed.
fn replay(dir: &Path, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(["replay", "--format", "json"])
        .args(extra)
        .arg(dir)
        .current_dir(repo())
        .output()
        .expect("run laneguard replay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "laneguard replay {} failed: {stderr}",
        dir.display()
    );
    assert!(
        stderr.contains(", 0 diagnostics"),
        "replay of {} gave diagnostics:\n{stderr}",
        dir.display()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Where a scenario's finding must point: the file of its evidence (the last step's event) and,
/// for a sequence, a file among its `related` events (the first step's), as a part of the name.
fn evidence_files(engine: Engine, scenario: &str) -> (&'static str, Option<&'static str>) {
    let audit = engine.file_name();
    match scenario {
        "brute-force" | "escalation" => (audit, Some(audit)),
        "audit-weakened" | "made-public" => (audit, Some("cloudtrail")),
        "sg-opened" => ("vpc-flow", Some("cloudtrail")),
        "snapshot" => ("cloudtrail", Some("cloudtrail")),
        _ => ("vpc-flow", None),
    }
}

/// Cross-source findings of a replay's output, counted by rule; checks that each finding's
/// evidence is the event `files` says and that a sequence relates the events of its earlier steps.
fn cross_source(out: &str, what: &str, files: (&str, Option<&str>)) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON {line}: {e}"));
        let id = v["rule_id"].as_str().unwrap().to_string();
        if !CROSS_SOURCE.contains(&id.as_str()) {
            continue;
        }
        let origin = v["evidence"]["origin"]["file"].as_str().unwrap_or("");
        assert!(
            origin.contains(files.0),
            "{what}: {id} is not raised on the {} event: {line}",
            files.0
        );
        let related: Vec<&str> = v["evidence"]["related"]
            .as_array()
            .map(|r| r.iter().filter_map(|o| o["file"].as_str()).collect())
            .unwrap_or_default();
        if let Some(first) = files.1 {
            assert!(
                related.iter().any(|f| f.contains(first)),
                "{what}: {id} does not relate the {first} event: {line}"
            );
        } else {
            assert!(related.is_empty(), "{what}: an absence relates nothing: {line}");
        }
        *counts.entry(id).or_default() += 1;
    }
    counts
}

fn sequences(engine: Engine, test: &str) {
    let Some(tools) = tools_or_skip(test) else { return };
    let slices = record(&tools, engine);
    let out = Scratch::new("sequences");
    let mut problems = Vec::new();
    for (name, expected) in SCENARIOS {
        for (phase, attack) in [("attack", true), ("benign", false)] {
            let slice = |step: &str| {
                slices
                    .get(&(phase.to_string(), step.to_string()))
                    .unwrap_or_else(|| panic!("no {phase} slice for step {step}"))
                    .clone()
            };
            let files = scenario(engine, name, attack, &slice);
            let dir = out.0.join(phase).join(name);
            let reversed = out.0.join(format!("{phase}-reversed")).join(name);
            write_files(&dir, &files, false);
            write_files(&reversed, &files, true);
            let want: BTreeMap<String, usize> = if attack {
                expected.iter().map(|(id, n)| ((*id).to_string(), *n)).collect()
            } else {
                BTreeMap::new()
            };
            let single = replay(&dir, &["--threads", "1"]);
            let default = replay(&dir, &[]);
            if single != default {
                problems.push(format!(
                    "{phase}/{name}: --threads 1 and the default threads differ"
                ));
            }
            for (order, text) in [
                ("files in order", single),
                ("flows first", replay(&reversed, &["--threads", "1"])),
            ] {
                let got = cross_source(&text, &format!("{phase}/{name}"), evidence_files(engine, name));
                eprintln!("  {engine:?} {phase}/{name} ({order}): {got:?}");
                if got != want {
                    problems.push(format!("{phase}/{name} ({order}): want {want:?}, got {got:?}"));
                }
            }
        }
    }
    // Every scenario together, in parallel as in one thread.
    for phase in ["attack", "benign"] {
        crate::parallel::assert_parallel_is_single(&[&out.0.join(phase)]);
    }
    assert!(
        problems.is_empty(),
        "{engine:?} sequences end to end: {} problem(s):\n  {}\n(files: {}, keep them with LANEGUARD_E2E_KEEP=1)",
        problems.len(),
        problems.join("\n  "),
        out.0.display()
    );
}

/// Regenerate `samples/sequences/` from a fresh MariaDB: the attack halves of the audit
/// weakening, the brute force, the audit bypass and the snapshot scenarios in one directory (they
/// do not interfere: each raises its one finding).
#[test]
#[ignore = "writes samples/sequences/: run `cargo test --test it e2e::sequences::sequences_record_sample -- --ignored`"]
fn sequences_record_sample() {
    let Some(tools) = tools_or_skip("e2e::sequences::sequences_record_sample") else {
        return;
    };
    let engine = Engine::MariaDb;
    let slices = record(&tools, engine);
    let slice = |step: &str| slices[&("attack".to_string(), step.to_string())].clone();
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for name in ["brute-force", "audit-weakened", "audit-bypass", "snapshot"] {
        for (file, text) in scenario(engine, name, true, &slice) {
            let text = match merged.get(&file) {
                // One flow-log header per file.
                Some(_) if file.ends_with("vpc-flow.log") => {
                    text.split_once('\n').map_or("", |(_, rest)| rest).to_string()
                }
                _ => text,
            };
            merged.entry(file).or_default().push_str(&text);
        }
    }
    let dir = repo().join("samples/sequences");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for (file, text) in &merged {
        // The audit slices in the order they were recorded (brute force, DDL, application session).
        let text = if file.ends_with(engine.file_name()) {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.sort_by_key(|l| line_time(l).unwrap_or(0));
            lines.join("\n") + "\n"
        } else {
            text.clone()
        };
        fs::write(dir.join(&file[2..]), text).unwrap();
    }
    sample_holds(&dir);
}

/// What `samples/sequences/` must raise: one finding of each of its four scenarios.
fn sample_holds(dir: &Path) {
    let got = cross_source_any(&replay(dir, &[]));
    let want: BTreeMap<String, usize> = [
        "seq.brute-force-then-login",
        "seq.audit-weakened-then-activity",
        "fusion.audit-bypass",
        "seq.snapshot-created-then-shared",
    ]
    .iter()
    .map(|id| ((*id).to_string(), 1))
    .collect();
    assert_eq!(got, want, "{}", dir.display());
}

/// The committed sample still raises its sequences on the current pack (no server needed).
#[test]
fn sequences_sample_holds() {
    sample_holds(&repo().join("samples/sequences"));
}

/// Cross-source findings of a replay's output, counted by rule (no evidence checks).
fn cross_source_any(out: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["rule_id"].as_str().unwrap();
        if CROSS_SOURCE.contains(&id) {
            *counts.entry(id.to_string()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn sequences_mariadb() {
    sequences(Engine::MariaDb, "e2e::sequences::sequences_mariadb");
}

#[test]
fn sequences_postgres() {
    sequences(Engine::Postgres, "e2e::sequences::sequences_postgres");
}

#[test]
fn sequences_time_helpers() {
    assert_eq!(
        line_time("20261128 10:00:00,payments-db,app,10.0.16.5,1,0,CONNECT,,,0"),
        Some(1_795_860_000)
    );
    assert_eq!(
        line_time("2026-11-28 10:00:00 UTC:10.0.16.5(1):app@payments:[1]:LOG:  connection authorized"),
        Some(1_795_860_000)
    );
    assert_eq!(line_time("\tcontinuation"), None);
    assert_eq!(iso(1_795_860_000), "2026-11-28T10:00:00Z");
    assert_eq!(iso(1_795_860_000 - 600), "2026-11-28T09:50:00Z");
}
