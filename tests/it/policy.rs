//! The policy: loading and validation (file:line errors), zone lookup (longest prefix, hosts,
//! default zone), globs (principals, log groups, objects with the one-dot rule), enrichment of
//! records parsed through the real pipeline, and every policy violation, positive and negative.

use std::net::IpAddr;
use std::sync::Arc;

use laneguard_core::config::Config;
use laneguard_core::event::Classification;
use laneguard_core::finding::{Finding, Severity};
use laneguard_core::input::InputOptions;

use laneguard_core::policy::Policy;
use laneguard_core::rules::RuleSet;

use serde_json::Value;

/// What a run produced: events as JSON values (raw text omitted), findings.
struct Collect {
    events: Vec<Value>,
    findings: Vec<Finding>,
}

/// Run `text` (as a file called `name`) through the real pipeline with `policy` enriching and
/// checking.
fn run_with(policy: Arc<Policy>, name: &str, text: &str) -> Collect {
    // The one assembly, with no rules: enrichment and the policy checks.
    let engine = Config {
        policy,
        rules: RuleSet::from_sources([]).0,
        rejected: Vec::new(),
    }
    .engine();
    let run = crate::common::run_bytes_with(engine, name, text.as_bytes(), InputOptions::default());
    assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
    Collect {
        events: run
            .events
            .iter()
            .map(|e| {
                let mut v: Value = serde_json::from_str(e).unwrap();
                if let Some(st) = v.get_mut("statement").and_then(Value::as_object_mut) {
                    st.remove("text");
                    st.remove("parameter");
                }
                v
            })
            .collect(),
        findings: run.findings,
    }
}

fn embedded() -> Arc<Policy> {
    Arc::new(Policy::try_embedded().expect("the example policy loads"))
}

fn run(name: &str, text: &str) -> Collect {
    run_with(embedded(), name, text)
}

/// `(rule id, severity)` of each finding.
fn verdicts(c: &Collect) -> Vec<(String, Severity)> {
    c.findings
        .iter()
        .map(|f| (f.rule_id.clone(), f.severity))
        .collect()
}

fn mysql(user: &str, host: &str, op: &str, db: &str, sql: &str, rc: i32) -> String {
    let sql = if sql.is_empty() {
        String::new()
    } else {
        format!("'{sql}'")
    };
    format!("20261128 00:25:11,db1,{user},{host},4,9,{op},{db},{sql},{rc}\n")
}

fn pg(host: &str, user: &str, db: &str, audit: &str) -> String {
    format!("2026-11-28 00:25:41 UTC:{host}(51159):{user}@{db}:[20041]:LOG:  AUDIT: {audit}\n")
}

fn flow(src: &str, dst: &str, sport: u16, dport: u16, action: &str) -> String {
    format!(
        "2 123456789010 eni-0a1b2c3d {src} {dst} {sport} {dport} 6 20 4249 1418530010 1418530070 {action} OK\n"
    )
}

fn cloudtrail(action: &str, ip: &str, arn: &str, instance: &str, error: Option<&str>) -> String {
    let error = error
        .map(|e| format!(r#""errorCode":"{e}","errorMessage":"denied","#))
        .unwrap_or_default();
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-11-28T00:25:11Z","eventSource":"rds.amazonaws.com","eventName":"{action}","awsRegion":"eu-west-1","sourceIPAddress":"{ip}",{error}"userIdentity":{{"type":"AssumedRole","arn":"{arn}","accountId":"123456789012"}},"requestParameters":{{"dBInstanceIdentifier":"{instance}"}},"responseElements":null,"readOnly":false,"eventType":"AwsApiCall","eventID":"e-{action}-{ip}","recipientAccountId":"123456789012"}}"#
    ) + "\n"
}

const ARN_DEV: &str = "arn:aws:sts::123456789012:assumed-role/DeveloperRole/dev";
const ARN_DBA: &str = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_DBA_0123abcd/alice";

// ---- loading ----

#[test]
fn embedded_policy_loads_and_names_its_zones() {
    let p = Policy::try_embedded().unwrap();
    let zones: Vec<&str> = p.zone_names().collect();
    for z in [
        "management",
        "app-payments",
        "app-marketing",
        "data",
        "db-host",
        "aws",
        "external",
        "management-lo",
        "app-payments-lo",
        "app-marketing-lo",
        "internet-lo",
    ] {
        assert!(zones.contains(&z), "{z} missing from {zones:?}");
    }
    assert_eq!(
        p.datastore_names().collect::<Vec<_>>(),
        ["payments-db", "marketing-db"]
    );
    // embedded() is the same policy.
    assert_eq!(Policy::embedded().zone_names().count(), zones.len());
}

#[test]
fn validation_errors_name_file_and_line() {
    let cases: &[(&str, &str)] = &[
        // deny_unknown_fields, at every level
        (
            "[[zones]]\nname = \"a\"\ncidr = [\"10.0.0.0/8\"]\n",
            "p.toml:3: unknown field `cidr`",
        ),
        (
            "[[zones]]\nname = \"a\"\n\n[zone]\nname = \"b\"\n",
            "p.toml:4: unknown field `zone`",
        ),
        (
            "[classification]\nsecret = [\"a.b\"]\n",
            "p.toml:2: unknown field `secret`",
        ),
        (
            "[[datastores]]\nname = \"d\"\nmatches = [\"x\"]\n",
            "p.toml:3: unknown field `matches`",
        ),
        (
            "[[principals]]\nusers = [\"a\"]\nzone = \"z\"\nrole = 1\n",
            "p.toml:4: unknown field `role`",
        ),
        // types and missing keys
        (
            "[[zones]]\nname = \"a\"\nallow = \"DQL\"\n",
            "p.toml:3: invalid type",
        ),
        ("[[zones]]\ncidrs = []\n", "p.toml:1: missing field `name`"),
        // values
        (
            "[[zones]]\nname = \"a\"\n\n[[zones]]\nname = \"b\"\nallow = [\"DQL\",\n  \"DDLX\"]\n",
            "p.toml:7: unknown statement class \"DDLX\" in zones[1].allow",
        ),
        (
            "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/33\"]\n",
            "p.toml:3: invalid CIDR \"10.0.0.0/33\" in zones[0].cidrs",
        ),
        (
            "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.16.5/20\"]\n",
            "p.toml:3: CIDR \"10.0.16.5/20\" in zones[0].cidrs has host bits set (did you mean 10.0.16.0/20?)",
        ),
        (
            "[[zones]]\nname = \"a\"\nclearance = \"secret\"\n",
            "p.toml:3: unknown classification \"secret\" in zones[0].clearance",
        ),
        (
            "[[zones]]\nname = \"a\"\n[[zones]]\nname = \"a\"\n",
            "p.toml:4: zone \"a\" is defined twice",
        ),
        ("[[zones]]\nname = \"\"\n", "p.toml:2: empty zone name"),
        (
            "[[zones]]\nname = \"a\"\ncidrs = [\"10.0.0.0/8\"]\n[[zones]]\nname = \"b\"\ncidrs = [\"10.0.0.0/8\"]\n",
            "p.toml:6: CIDR 10.0.0.0/8 is claimed twice (zones \"a\" and \"b\")",
        ),
        (
            "[[zones]]\nname = \"a\"\ndefault = true\n[[zones]]\nname = \"b\"\ndefault = true\n",
            "p.toml:6: more than one zone has `default = true`",
        ),
        (
            "[[zones]]\nname = \"a\"\nhosts = [\"\"]\n",
            "p.toml:3: empty host pattern in zones[0].hosts",
        ),
        (
            "[[zones]]\nname = \"a\"\ndomain = \" \"\n",
            "p.toml:3: empty domain in zones[0].domain",
        ),
        (
            "[[zones]]\nname = \"a\"\n[[principals]]\nusers = [\"dba_*\"]\nzone = \"mgmt\"\n",
            "p.toml:5: unknown zone \"mgmt\" in principals[0].zone (zones: a)",
        ),
        (
            "[[zones]]\nname = \"a\"\n[[principals]]\nusers = []\nzone = \"a\"\n",
            "p.toml:4: principals[0].users is empty",
        ),
        (
            "[[zones]]\nname = \"a\"\n[[principals]]\nusers = [\"x\", \"\"]\nzone = \"a\"\n",
            "p.toml:4: empty pattern in principals[0].users",
        ),
        (
            "[[datastores]]\nname = \"d\"\nports = [0, 5432]\n",
            "p.toml:3: port 0 in datastores[0].ports",
        ),
        ("[[datastores]]\nname = \"d\"\nports = [70000]\n", "p.toml:3:"),
        (
            "[[datastores]]\nname = \"d\"\ndatabases = [\"pay*\"]\n",
            "p.toml:3: \"pay*\" in datastores[0].databases: database names are exact, not globs",
        ),
        (
            "[[datastores]]\nname = \"d\"\ncidrs = [\"10.0.32.0/24\"]\n[[datastores]]\nname = \"e\"\ncidrs = [\"10.0.32.0/24\"]\n",
            "p.toml:6: CIDR 10.0.32.0/24 is claimed twice (datastores \"d\" and \"e\")",
        ),
        (
            "[[datastores]]\nname = \"d\"\nmatch = [\"db-1\"]\n[[datastores]]\nname = \"e\"\nmatch = [\"DB-1\"]\n",
            "p.toml:6: \"DB-1\" in datastores[1].match already names datastore \"d\"",
        ),
        (
            "[[datastores]]\nname = \"d\"\n[[datastores]]\nname = \"d\"\n",
            "p.toml:4: datastore \"d\" is defined twice",
        ),
        (
            "[[datastores]]\nname = \"d\"\nclassification = \"top\"\n",
            "p.toml:3: unknown classification \"top\" in datastores[0].classification",
        ),
        (
            "[classification]\npublic = [\"a.b\", \"\"]\n",
            "p.toml:2: empty pattern in classification.public",
        ),
        ("not toml at all", "p.toml:1:"),
        // [[applications]]
        (
            "[[zones]]\nname = \"a\"\n[[applications]]\nname = \"shop\"\nzone = [\"a\"]\n",
            "p.toml:5: unknown field `zone`",
        ),
        (
            "[[zones]]\nname = \"a\"\n[[applications]]\nname = \"shop\"\nzones = [\"a\",\n  \"b\"]\n",
            "p.toml:6: unknown zone \"b\" in applications[0].zones (zones: a)",
        ),
        (
            "[[applications]]\nname = \"shop\"\n[[applications]]\nname = \"shop\"\n",
            "p.toml:4: application \"shop\" is defined twice",
        ),
        (
            "[[applications]]\nname = \" \"\n",
            "p.toml:2: empty application name",
        ),
        (
            "[[applications]]\nname = \"shop\"\nexpected = [\"SELECT 1\", \"-- nothing\"]\n",
            "p.toml:3: applications[0].expected holds no SQL statement: \"-- nothing\"",
        ),
        (
            "[[applications]]\nname = \"shop\"\nexpected_fingerprints = [\"abc\"]\n",
            "p.toml:3: \"abc\" in applications[0].expected_fingerprints is not a fingerprint",
        ),
        (
            "[[applications]]\nname = \"shop\"\nusers = [\"\"]\n",
            "p.toml:3: empty pattern in applications[0].users",
        ),
    ];
    for (text, want) in cases {
        let err = Policy::from_toml(text, "p.toml").expect_err(text).to_string();
        assert!(
            err.starts_with(want),
            "policy:\n{text}\nerror:   {err}\nwanted:  {want}…"
        );
    }
}

#[test]
fn load_reads_a_file_and_reports_missing_files() {
    let dir = std::env::temp_dir().join(format!("laneguard-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[[zones]]\nname = \"a\"\nallow = [\"dql\"]\n").unwrap();
    assert_eq!(
        Policy::load(&path).unwrap().zone_names().collect::<Vec<_>>(),
        ["a"]
    );
    std::fs::write(&path, "[[zones]]\nname = \"a\"\n\nallow = [\"DQL\", \"NOPE\"]\n").unwrap();
    let err = Policy::load(&path).unwrap_err();
    assert_eq!(err.origin, format!("{}:4", path.display()));
    assert!(err.message.contains("\"NOPE\""), "{err}");
    let missing = Policy::load(&dir.join("missing.toml")).unwrap_err();
    assert!(missing.origin.ends_with("missing.toml"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- zones ----

#[test]
fn longest_prefix_match_over_the_example_policy() {
    let p = embedded();
    let cases = [
        ("10.0.250.7", Some("management")),
        ("10.0.16.1", Some("app-payments")),
        ("10.0.31.255", Some("app-payments")),
        ("10.0.32.0", Some("data")),
        ("10.0.64.9", Some("app-marketing")),
        ("10.0.80.1", Some("external")),
        ("127.0.0.1", Some("db-host")),
        ("127.10.3.4", Some("management-lo")),
        ("127.16.0.9", Some("app-payments-lo")),
        ("127.48.0.9", Some("app-marketing-lo")),
        ("127.200.1.1", Some("internet-lo")),
        ("127.201.1.1", Some("db-host")),
        ("203.0.113.9", Some("external")),
        ("::1", Some("db-host")),
        ("::ffff:10.0.16.7", Some("app-payments")),
        ("2001:db8::1", Some("external")),
    ];
    for (ip, want) in cases {
        assert_eq!(p.zone_of_ip(ip.parse::<IpAddr>().unwrap()), want, "{ip}");
    }
}

#[test]
fn longest_prefix_match_with_overlaps_and_without_a_default() {
    let p = Policy::from_toml(
        r#"
[[zones]]
name = "wide"
cidrs = ["10.0.0.0/8", "2001:db8::/32"]
[[zones]]
name = "narrow"
cidrs = ["10.1.0.0/16", "2001:db8:1::/48"]
[[zones]]
name = "host"
cidrs = ["10.1.2.3/32", "2001:db8:1::7/128", "192.0.2.1"]
"#,
        "t.toml",
    )
    .unwrap();
    let cases = [
        ("10.9.9.9", Some("wide")),
        ("10.1.9.9", Some("narrow")),
        ("10.1.2.3", Some("host")),
        ("10.1.2.4", Some("narrow")),
        ("192.0.2.1", Some("host")),
        ("192.0.2.2", None),
        ("11.0.0.0", None),
        ("2001:db8:2::1", Some("wide")),
        ("2001:db8:1::1", Some("narrow")),
        ("2001:db8:1::7", Some("host")),
        ("2001:db9::1", None),
    ];
    for (ip, want) in cases {
        assert_eq!(p.zone_of_ip(ip.parse::<IpAddr>().unwrap()), want, "{ip}");
    }
    assert_eq!(p.zone_of_host("localhost"), None, "no hosts, no default");
}

#[test]
fn default_zone_explicit_or_the_zone_holding_all_of_ipv4() {
    let explicit = Policy::from_toml(
        "[[zones]]\nname = \"lan\"\ncidrs = [\"10.0.0.0/8\"]\n[[zones]]\nname = \"rest\"\ndefault = true\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(explicit.zone_of_ip("8.8.8.8".parse().unwrap()), Some("rest"));
    assert_eq!(explicit.zone_of_ip("::2".parse().unwrap()), Some("rest"));
    assert_eq!(explicit.zone_of_host("somewhere"), Some("rest"));
    let implicit = Policy::from_toml(
        "[[zones]]\nname = \"lan\"\ncidrs = [\"10.0.0.0/8\"]\n[[zones]]\nname = \"any\"\ncidrs = [\"0.0.0.0/0\"]\n",
        "t.toml",
    )
    .unwrap();
    assert_eq!(implicit.zone_of_host("somewhere"), Some("any"));
    assert_eq!(
        implicit.zone_of_ip("::2".parse().unwrap()),
        Some("any"),
        "default covers IPv6 too"
    );
}

#[test]
fn non_ip_sources_get_their_documented_zone() {
    let p = embedded();
    for (host, want) in [
        ("localhost", "db-host"),
        ("LOCALHOST", "db-host"),
        ("[local]", "db-host"),
        ("rds.amazonaws.com", "aws"),
        ("servicecatalog.amazonaws.com", "aws"),
        ("AWS Internal", "aws"),
        ("08.1.250.216", "external"),
        ("evil.example", "external"),
    ] {
        assert_eq!(p.zone_of_host(host), Some(want), "{host}");
    }
}

// ---- globs ----

#[test]
fn principals_log_groups_and_objects() {
    let p = embedded();
    for (who, want) in [
        ("dba_alice", Some("management")),
        ("DBA_bob", Some("management")),
        ("admin", Some("management")),
        ("root", Some("management")),
        ("rdsadmin", Some("db-host")),
        ("app", None),
        ("administrator", None),
        ("xdba_x", None),
        (ARN_DBA, Some("management")),
        (ARN_DEV, None),
    ] {
        assert_eq!(p.principal_zone(who), want, "{who}");
    }
    for (name, want) in [
        ("/aws/rds/instance/payments-db/audit", Some("payments-db")),
        ("/aws/rds/instance/payments-db/postgresql", Some("payments-db")),
        ("/aws/rds/cluster/payments-main/audit", Some("payments-db")),
        ("/aws/rds/instance/payments-db2/audit", None),
        ("/aws/rds/cluster/shop-pg/postgresql", Some("payments-db")),
        ("payments-db", Some("payments-db")),
        ("Payments-DB", Some("payments-db")),
        ("/aws/rds/cluster/marketing-x/audit", Some("marketing-db")),
        ("marketing-db", Some("marketing-db")),
        ("world-aurora", None),
    ] {
        assert_eq!(p.datastore_of_name(name), want, "{name}");
    }
    for (ip, port, want) in [
        ("10.0.32.5", 5432, Some("payments-db")),
        ("10.0.32.5", 3306, Some("payments-db")),
        ("10.0.32.5", 22, None),
        ("10.0.33.5", 5432, Some("marketing-db")),
        ("10.0.34.5", 5432, None),
    ] {
        assert_eq!(
            p.datastore_of_endpoint(ip.parse().unwrap(), port),
            want,
            "{ip}:{port}"
        );
    }
    use Classification::*;
    for (object, want) in [
        ("payments.cards", Some(Restricted)),
        ("payments.public.cards", Some(Restricted)),
        ("payments.billing.card_tokens", Some(Restricted)),
        ("payments.cards_archive", None),
        ("shop.users", Some(Confidential)),
        ("shop.public.users", Some(Confidential)),
        ("shop.public.pg_shadow", Some(Restricted)),
        ("marketing.public.campaigns", Some(Public)),
        ("marketing.users", Some(Confidential)),
        ("information_schema.plugins", Some(Public)),
        ("shop.public.items", None),
    ] {
        assert_eq!(p.classify_object(object), want, "{object}");
    }
}

#[test]
fn datastore_ports_default_to_the_database_port_set() {
    let p = Policy::from_toml(
        "[[datastores]]\nname = \"d\"\ncidrs = [\"10.0.0.0/24\"]\n",
        "t.toml",
    )
    .unwrap();
    for port in [3306, 5432, 1433, 1521, 5439, 6379, 27017, 9200] {
        assert_eq!(
            p.datastore_of_endpoint("10.0.0.9".parse().unwrap(), port),
            Some("d"),
            "{port}"
        );
    }
    assert_eq!(p.datastore_of_endpoint("10.0.0.9".parse().unwrap(), 443), None);
}

// ---- enrichment through the pipeline ----

fn enrichment(c: &Collect, i: usize) -> &Value {
    &c.events[i]["enrichment"]
}

#[test]
fn enrichment_of_mysql_pgaudit_flow_and_cloudtrail_records() {
    let c = run(
        "audit.log",
        &(mysql("app", "10.0.16.5", "QUERY", "shop", "SELECT * FROM users", 0)
            + &mysql("root", "localhost", "QUERY", "shop", "SELECT * FROM items", 0)),
    );
    assert_eq!(
        enrichment(&c, 0),
        &serde_json::json!({"zone": "app-payments", "zone_role": "application", "datastore": "payments-db", "domain": "payments", "classification": "confidential", "row_limit": 10000})
    );
    // An object no pattern names takes its datastore's classification; root is bound to db-host.
    assert_eq!(
        enrichment(&c, 1),
        &serde_json::json!({"zone": "db-host", "zone_role": "database-host", "principal_zone": "management", "principal_zone_role": "management", "datastore": "payments-db", "domain": "payments", "classification": "confidential", "row_limit": 10000})
    );

    let c = run(
        "postgresql.log",
        &pg(
            "127.16.0.9",
            "app",
            "shop",
            "SESSION,1,1,READ,SELECT,,,SELECT * FROM payment_methods,<none>",
        ),
    );
    assert_eq!(
        enrichment(&c, 0),
        &serde_json::json!({"zone": "app-payments-lo", "zone_role": "application", "datastore": "payments-db", "domain": "payments", "classification": "restricted", "row_limit": 100})
    );

    let c = run("flow.log", &flow("10.0.64.5", "10.0.33.9", 40000, 5432, "ACCEPT"));
    assert_eq!(
        enrichment(&c, 0),
        &serde_json::json!({"zone": "app-marketing", "zone_role": "application", "datastore": "marketing-db", "domain": "marketing"})
    );

    let c = run(
        "ct.jsonl",
        &cloudtrail(
            "ModifyDBInstance",
            "rds.amazonaws.com",
            ARN_DBA,
            "payments-db",
            None,
        ),
    );
    assert_eq!(
        enrichment(&c, 0),
        &serde_json::json!({"zone": "aws", "zone_role": "aws-service", "principal_zone": "management", "principal_zone_role": "management", "datastore": "payments-db", "domain": "payments", "classification": "confidential", "row_limit": 10000})
    );

    // A record with no source address at all gets no zone.
    let c = run(
        "postgresql.log",
        "2026-11-28 00:25:41 UTC::app@shop:[20041]:LOG:  AUDIT: SESSION,1,1,READ,SELECT,,,SELECT 1,<none>\n",
    );
    assert!(enrichment(&c, 0).get("zone").is_none(), "{}", c.events[0]);
}

#[test]
fn enrichment_by_log_group_of_a_cloudwatch_envelope() {
    let line = mysql(
        "app",
        "10.0.16.5",
        "QUERY",
        "orders_db",
        "SELECT * FROM payments.cards",
        0,
    );
    let doc = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/rds/cluster/payments-main/audit", "logStream": "payments-main-1.audit.log.0",
        "subscriptionFilters": ["laneguard"],
        "logEvents": [{"id": "37000000000000000000000000000000000000000000000000000001", "timestamp": 1, "message": line.trim_end()}],
    });
    let c = run("cwl.json", &doc.to_string());
    assert_eq!(
        enrichment(&c, 0),
        &serde_json::json!({"zone": "app-payments", "zone_role": "application", "datastore": "payments-db", "domain": "payments", "classification": "restricted", "row_limit": 100})
    );
    assert!(c.findings.is_empty(), "{:?}", verdicts(&c));
}

#[test]
fn the_captured_samples_are_zoned() {
    let text = std::fs::read_to_string(
        super::common::repo().join("samples/reference/mariadb-server-audit-captured.log"),
    )
    .unwrap();
    let c = run("samples/reference/mariadb-server-audit-captured.log", &text);
    assert!(!c.events.is_empty());
    for e in &c.events {
        assert_eq!(e["enrichment"]["zone"], "db-host", "{e}");
    }
    // root@localhost and app on the database host are expected flows: no violation.
    assert!(c.findings.is_empty(), "{:?}", verdicts(&c));
}

// ---- violations ----

fn has(c: &Collect, rule: &str, severity: Severity) -> bool {
    c.findings
        .iter()
        .any(|f| f.rule_id == rule && f.severity == severity)
}

fn rules(c: &Collect) -> Vec<&str> {
    c.findings.iter().map(|f| f.rule_id.as_str()).collect()
}

#[test]
fn zone_class() {
    // Negative: an allowed class, and an administrator in the management zone.
    for text in [
        mysql(
            "app",
            "10.0.16.5",
            "QUERY",
            "shop",
            "UPDATE items SET price = 1 WHERE id = 2",
            0,
        ),
        mysql("dba_alice", "10.0.250.5", "QUERY", "shop", "DROP TABLE items", 0),
        mysql(
            "dba_alice",
            "127.10.0.5",
            "QUERY",
            "shop",
            "GRANT SELECT ON shop.items TO app",
            0,
        ),
        mysql("app", "10.0.16.5", "CONNECT", "shop", "", 0),
    ] {
        let c = run("audit.log", &text);
        assert!(c.findings.is_empty(), "{text}: {:?}", verdicts(&c));
    }
    let cases = [
        (
            mysql("app", "10.0.16.5", "QUERY", "shop", "DROP TABLE items", 0),
            Severity::High,
        ),
        (
            mysql("app", "127.16.0.5", "QUERY", "shop", "GRANT ALL ON *.* TO app", 0),
            Severity::Critical,
        ),
        (
            mysql(
                "app",
                "10.0.16.5",
                "QUERY",
                "shop",
                "SET GLOBAL general_log = 0",
                0,
            ),
            Severity::Critical,
        ),
        // Refused by the engine: still an attempt, one severity lower.
        (
            mysql("app", "10.0.16.5", "QUERY", "shop", "DROP TABLE items", 1142),
            Severity::Medium,
        ),
        // The internet may not run anything, nor log in.
        (
            mysql("app", "203.0.113.9", "QUERY", "shop", "SELECT 1", 0),
            Severity::Critical,
        ),
        (
            mysql("app", "127.200.0.9", "CONNECT", "shop", "", 0),
            Severity::Critical,
        ),
        (
            mysql("app", "203.0.113.9", "FAILED_CONNECT", "", "", 1045),
            Severity::High,
        ),
    ];
    for (text, severity) in cases {
        let c = run("audit.log", &text);
        assert_eq!(
            verdicts(&c),
            [("policy.zone-class".to_owned(), severity)],
            "{text}"
        );
        let f = &c.findings[0];
        assert!(f.zone.is_some() && f.title.contains("zone"), "{f:?}");
        assert_eq!(c.events[0]["matched"], serde_json::json!(["policy.zone-class"]));
    }
    // Reading data from the internet also breaks the zone's clearance (public).
    let c = run(
        "audit.log",
        &mysql("app", "203.0.113.9", "QUERY", "shop", "SELECT * FROM items", 0),
    );
    assert_eq!(rules(&c), ["policy.zone-class", "policy.clearance"]);
}

#[test]
fn clearance() {
    // Negative: payments may read card data; marketing reads its own public data.
    for text in [
        pg(
            "127.16.0.9",
            "app",
            "shop",
            "SESSION,1,1,READ,SELECT,,,SELECT * FROM payment_methods,<none>",
        ),
        pg(
            "127.48.0.9",
            "app",
            "marketing",
            "SESSION,1,1,READ,SELECT,,,SELECT * FROM campaigns,<none>",
        ),
    ] {
        let c = run("postgresql.log", &text);
        assert!(c.findings.is_empty(), "{text}: {:?}", verdicts(&c));
    }
    // Marketing's zone (clearance internal) reading confidential PII in its own database.
    let c = run(
        "postgresql.log",
        &pg(
            "127.48.0.9",
            "app",
            "marketing",
            "SESSION,1,1,READ,SELECT,,,SELECT * FROM users,<none>",
        ),
    );
    assert_eq!(verdicts(&c), [("policy.clearance".to_owned(), Severity::High)]);
    assert_eq!(c.findings[0].domain.as_deref(), Some("marketing"));
    // Restricted data above clearance is critical.
    let c = run(
        "audit.log",
        &mysql(
            "app",
            "10.0.64.5",
            "QUERY",
            "marketing",
            "SELECT * FROM payments.cards",
            0,
        ),
    );
    assert!(
        has(&c, "policy.clearance", Severity::Critical),
        "{:?}",
        verdicts(&c)
    );
}

#[test]
fn swim_lane() {
    // Negative: a zone without a domain (data) is not bound to a lane.
    let c = run(
        "audit.log",
        &mysql(
            "etl",
            "10.0.32.7",
            "QUERY",
            "marketing",
            "SELECT * FROM campaigns",
            0,
        ),
    );
    assert!(c.findings.is_empty(), "{:?}", verdicts(&c));
    // Marketing's zone on the payments datastore: confidential data, so critical (plus clearance).
    let c = run(
        "audit.log",
        &mysql("app", "10.0.64.5", "QUERY", "shop", "SELECT * FROM users", 0),
    );
    assert!(
        has(&c, "policy.swim-lane", Severity::Critical),
        "{:?}",
        verdicts(&c)
    );
    assert!(has(&c, "policy.clearance", Severity::High), "{:?}", verdicts(&c));
    let lane = c
        .findings
        .iter()
        .find(|f| f.rule_id == "policy.swim-lane")
        .unwrap();
    assert_eq!(lane.domain.as_deref(), Some("payments"));
    assert_eq!(lane.zone.as_deref(), Some("app-marketing"));
    // On its own datastore, but naming an object of the payments database.
    let c = run(
        "postgresql.log",
        &pg(
            "127.48.0.9",
            "app",
            "marketing",
            "SESSION,1,1,READ,SELECT,,,SELECT * FROM shop.public.items,<none>",
        ),
    );
    // (The payments datastore's unnamed objects are confidential: above marketing's clearance too.)
    assert_eq!(rules(&c), ["policy.clearance", "policy.swim-lane"]);
    assert_eq!(c.findings[1].domain.as_deref(), Some("payments"));
    // Payments' zone connecting to the marketing datastore: the datastore's domain (internal: high).
    let c = run(
        "audit.log",
        &mysql("app", "10.0.16.5", "CONNECT", "marketing", "", 0),
    );
    assert_eq!(verdicts(&c), [("policy.swim-lane".to_owned(), Severity::High)]);
}

#[test]
fn management_flow() {
    for text in [
        mysql("dba_alice", "10.0.250.5", "CONNECT", "shop", "", 0),
        mysql("rdsadmin", "localhost", "QUERY", "mysql", "SELECT 1", 0),
        mysql("root", "localhost", "CONNECT", "", "", 0),
        mysql("app", "10.0.16.5", "CONNECT", "shop", "", 0),
    ] {
        let c = run("audit.log", &text);
        assert!(c.findings.is_empty(), "{text}: {:?}", verdicts(&c));
    }
    let c = run(
        "audit.log",
        &mysql("dba_alice", "10.0.16.5", "CONNECT", "shop", "", 0),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.management-flow".to_owned(), Severity::High)]
    );
    assert!(
        c.findings[0].title.contains("dba_alice"),
        "{}",
        c.findings[0].title
    );
    let c = run(
        "audit.log",
        &mysql("rdsadmin", "10.0.32.7", "QUERY", "mysql", "SELECT 1", 0),
    );
    assert_eq!(rules(&c), ["policy.management-flow"]);
    let c = run(
        "audit.log",
        &mysql("admin", "10.0.16.5", "FAILED_CONNECT", "", "", 1045),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.management-flow".to_owned(), Severity::Medium)]
    );
    // IAM: the DBA role from the internet (a read-only call: no control-plane finding).
    let c = run(
        "ct.jsonl",
        &cloudtrail(
            "DescribeDBInstances",
            "203.0.113.45",
            ARN_DBA,
            "payments-db",
            None,
        ),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.management-flow".to_owned(), Severity::High)]
    );
    let c = run(
        "ct.jsonl",
        &cloudtrail("DescribeDBInstances", "10.0.250.9", ARN_DBA, "payments-db", None),
    );
    assert!(c.findings.is_empty(), "{:?}", verdicts(&c));
}

#[test]
fn control_plane() {
    for text in [
        cloudtrail("ModifyDBInstance", "10.0.250.9", ARN_DEV, "payments-db", None),
        cloudtrail(
            "ModifyDBInstance",
            "203.0.113.45",
            ARN_DEV,
            "payments-db",
            Some("AccessDenied"),
        ),
        cloudtrail(
            "DescribeDBInstances",
            "203.0.113.45",
            ARN_DEV,
            "payments-db",
            None,
        ),
        cloudtrail("ModifyDBInstance", "203.0.113.45", ARN_DEV, "test-instance", None),
    ] {
        let c = run("ct.jsonl", &text);
        assert!(c.findings.is_empty(), "{text}: {:?}", verdicts(&c));
    }
    let c = run(
        "ct.jsonl",
        &cloudtrail("ModifyDBInstance", "203.0.113.45", ARN_DEV, "payments-db", None),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.control-plane".to_owned(), Severity::High)]
    );
    assert_eq!(c.findings[0].datastore.as_deref(), Some("payments-db"));
    assert_eq!(c.findings[0].zone.as_deref(), Some("external"));
    let c = run(
        "ct.jsonl",
        &cloudtrail(
            "DeleteDBInstance",
            "cloudformation.amazonaws.com",
            ARN_DEV,
            "payments-db",
            None,
        ),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.control-plane".to_owned(), Severity::Critical)]
    );
    assert_eq!(c.findings[0].zone.as_deref(), Some("aws"));
}

#[test]
fn vpc_flows_to_datastores() {
    for text in [
        flow("10.0.16.5", "10.0.32.9", 40000, 5432, "ACCEPT"),
        flow("203.0.113.12", "10.0.32.9", 40000, 5432, "REJECT"),
        flow("203.0.113.12", "10.0.32.9", 40000, 443, "ACCEPT"),
        // The reply direction of an accepted connection is not a new access.
        flow("10.0.32.9", "203.0.113.12", 5432, 40000, "ACCEPT"),
        // Replication among the datastore's own addresses.
        flow("10.0.32.8", "10.0.32.9", 40000, 3306, "ACCEPT"),
    ] {
        let c = run("flow.log", &text);
        assert!(c.findings.is_empty(), "{text}: {:?}", verdicts(&c));
    }
    let c = run(
        "flow.log",
        &flow("203.0.113.12", "10.0.32.9", 40000, 5432, "ACCEPT"),
    );
    assert_eq!(
        verdicts(&c),
        [("policy.zone-class".to_owned(), Severity::Critical)]
    );
    let f = &c.findings[0];
    assert_eq!(
        (f.zone.as_deref(), f.datastore.as_deref()),
        (Some("external"), Some("payments-db"))
    );
    let c = run("flow.log", &flow("10.0.64.5", "10.0.32.9", 40000, 5432, "ACCEPT"));
    assert_eq!(
        verdicts(&c),
        [("policy.swim-lane".to_owned(), Severity::Critical)]
    );
    let c = run(
        "flow.log",
        &flow("127.48.0.5", "127.0.32.9", 40000, 3306, "ACCEPT"),
    );
    assert_eq!(rules(&c), ["policy.swim-lane"]);
}

#[test]
fn object_access_records_count_for_data_not_for_class() {
    let table = |host: &str, op: &str, object: &str| {
        format!("20261128 00:25:11,db1,app,{host},4,9,{op},shop,{object},0\n")
    };
    let c = run("audit.log", &table("10.0.16.5", "WRITE", "shop.users"));
    assert!(c.findings.is_empty(), "{:?}", verdicts(&c));
    let c = run("audit.log", &table("10.0.64.5", "READ", "shop.users"));
    assert!(
        has(&c, "policy.swim-lane", Severity::Critical),
        "{:?}",
        verdicts(&c)
    );
    assert!(has(&c, "policy.clearance", Severity::High), "{:?}", verdicts(&c));
    assert!(!rules(&c).contains(&"policy.zone-class"));
}

#[test]
fn findings_are_deterministic() {
    let text = mysql("app", "203.0.113.9", "QUERY", "shop", "DROP TABLE users", 0);
    let a = run("audit.log", &text);
    let b = run("audit.log", &text);
    assert!(!a.findings.is_empty());
    assert_eq!(a.findings, b.findings);
}

/// The default pack binds to zone roles, never to the example policy's zone names: under a
/// policy whose zones all have other names (tests/fixtures/policy-renamed-zones.toml, same
/// roles, CIDRs, principals and datastores) every rule test gives the same verdict and the sample
/// corpora raise the same findings.
#[test]
fn the_pack_follows_zone_roles_not_zone_names() {
    let renamed =
        Arc::new(Policy::load(std::path::Path::new("tests/fixtures/policy-renamed-zones.toml")).unwrap());
    let example = embedded();
    let renamed_names: Vec<&str> = renamed.zone_names().collect();
    assert!(
        !renamed_names
            .iter()
            .any(|n| example.zone_names().any(|e| e == *n)),
        "the fixture must rename every zone: {renamed_names:?}"
    );
    let (set, errors) = RuleSet::embedded();
    assert!(errors.is_empty(), "{errors:?}");
    let verdicts = |policy: &Arc<Policy>| -> Vec<(String, Option<usize>, bool)> {
        laneguard_core::rule_tests::run_all(&set, Some(policy))
            .into_iter()
            .map(|o| (o.rule, o.index, o.passed))
            .collect()
    };
    let (a, b) = (verdicts(&example), verdicts(&renamed));
    assert_eq!(
        a, b,
        "rule tests differ between the example and the renamed policy"
    );
    assert!(
        b.iter().all(|(_, _, passed)| *passed),
        "{:?}",
        b.iter().filter(|v| !v.2).collect::<Vec<_>>()
    );

    let corpora = [
        "samples/cloudtrail",
        "samples/mysql-audit",
        "samples/pgaudit",
        "samples/vpc-flow",
    ];
    let findings = |policy: &Arc<Policy>| -> Vec<(String, String, Severity)> {
        let engine = Config {
            policy: Arc::clone(policy),
            rules: RuleSet::embedded().0,
            rejected: Vec::new(),
        }
        .engine();
        let run = crate::common::run_paths_with(engine, &corpora, InputOptions::default());
        assert!(run.diagnostics.is_empty(), "{:?}", run.diagnostics);
        let mut v: Vec<_> = run
            .findings
            .iter()
            .map(|f| (f.rule_id.clone(), f.evidence.origin.to_string(), f.severity))
            .collect();
        v.sort();
        v
    };
    let (fa, fb) = (findings(&example), findings(&renamed));
    assert!(fa.len() > 100, "the corpora raise findings: {}", fa.len());
    assert_eq!(
        fa, fb,
        "findings differ between the example and the renamed policy"
    );
    for p in [example, renamed] {
        let config = Config {
            policy: p,
            rules: RuleSet::embedded().0,
            rejected: Vec::new(),
        };
        assert_eq!(config.warnings(), Vec::<String>::new());
    }
}

/// `laneguard validate` warns about a rule that names a zone the policy lacks.
#[test]
fn rules_naming_an_unknown_zone_are_warned_about() {
    let rule = r#"
id = "t.zone-name"
title = "t"
severity = "low"
[match]
zone = ["management", "corp-vpn"]
[[tests]]
expect = true
input = { source = "mysql-audit", record = "20261128 00:25:11,db1,app,10.0.250.5,4,9,QUERY,shop,'SELECT 1',0" }
[[tests]]
expect = false
input = { source = "mysql-audit", record = "20261128 00:25:11,db1,app,10.0.16.5,4,9,QUERY,shop,'SELECT 1',0" }
"#;
    let config = Config {
        policy: embedded(),
        rules: RuleSet::from_sources([("rules/t.toml", rule)]).0,
        rejected: Vec::new(),
    };
    let w = config.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("rules/t.toml") && w[0].contains("\"corp-vpn\"") && w[0].contains("zone.role"),
        "{w:?}"
    );
    // The same for an application the policy does not name.
    let rule = rule
        .replace("t.zone-name", "t.app-name")
        .replace("zone = [\"management\", \"corp-vpn\"]", "application = \"shop\"");
    let config = Config {
        policy: embedded(),
        rules: RuleSet::from_sources([("rules/a.toml", rule.as_str())]).0,
        rejected: Vec::new(),
    };
    let w = config.warnings();
    assert!(
        w.len() == 1 && w[0].contains("application = \"shop\"") && w[0].contains("application.expected"),
        "{w:?}"
    );
}

/// `application` and `application.expected` (docs/POLICY.md, `[[applications]]`): driver
/// chatter and own-schema introspection are expected in application zones only; other
/// schemas, privileges and data queries never are; a policy narrows and extends it.
#[test]
fn applications_expect_chatter_and_own_schema_introspection() {
    let expected = |c: &Collect, i: usize| c.events[i]["enrichment"]["expected"].as_str().map(str::to_owned);
    let lines = [
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT VERSION()", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SHOW FULL TABLES FROM `shop`", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "DESCRIBE `shop`.`orders`", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT table_name FROM information_schema.tables WHERE table_schema = \\'mysql\\'", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT table_name FROM information_schema.tables", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT user, host FROM mysql.user", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT id FROM orders WHERE id = 1 UNION SELECT table_name FROM information_schema.tables WHERE table_schema = \\'shop\\'", 0),
        mysql("shop_app", "10.0.250.10", "QUERY", "shop", "SELECT VERSION()", 0),
        mysql("shop_app", "203.0.113.9", "QUERY", "shop", "SHOW FULL TABLES FROM `shop`", 0),
        mysql("shop_app", "10.0.16.5", "QUERY", "shop", "SELECT @@session.tx_read_only", 0),
    ]
    .concat();
    let c = run("app.log", &lines);
    let got: Vec<Option<String>> = (0..c.events.len()).map(|i| expected(&c, i)).collect();
    let want = [
        Some("chatter"),
        Some("introspection"),
        Some("introspection"),
        None,            // another schema
        None,            // every schema
        None,            // accounts
        None,            // a catalog read inside a data query
        None,            // the management zone is no application zone
        None,            // the internet
        Some("chatter"), // Connector/J, built in
    ];
    assert_eq!(got, want.map(|w| w.map(str::to_owned)), "{:#?}", c.events);
    assert!(
        c.events
            .iter()
            .all(|e| e["enrichment"].get("application").is_none())
    );

    // A named application: its users only, its own databases, its driver's statements.
    let policy = format!(
        "{}\n[[applications]]\nname = \"shop\"\nzones = [\"app-payments\"]\nusers = [\"shop_*\"]\ndatabases = [\"reporting\"]\nexpected = [\"SELECT @@session.auto_increment_increment AS x\"]\n",
        Policy::embedded_text()
    );
    let policy = Arc::new(Policy::from_toml(&policy, "p.toml").unwrap());
    let c = run_with(
        policy,
        "app.log",
        &[
            mysql(
                "shop_app",
                "10.0.16.5",
                "QUERY",
                "shop",
                "SELECT @@session.auto_increment_increment AS x",
                0,
            ),
            mysql(
                "shop_app",
                "10.0.16.5",
                "QUERY",
                "shop",
                "SHOW FULL TABLES FROM reporting",
                0,
            ),
            mysql("other", "10.0.16.5", "QUERY", "shop", "SELECT VERSION()", 0),
            mysql(
                "shop_app",
                "10.0.64.5",
                "QUERY",
                "marketing",
                "SELECT VERSION()",
                0,
            ),
        ]
        .concat(),
    );
    assert_eq!(c.events[0]["enrichment"]["application"], "shop");
    assert_eq!(expected(&c, 0).as_deref(), Some("chatter"));
    assert_eq!(expected(&c, 1).as_deref(), Some("introspection"));
    assert_eq!(expected(&c, 2), None, "a user the application does not list");
    assert!(c.events[2]["enrichment"].get("application").is_none());
    // A zone no entry names keeps the built-in expectations.
    assert_eq!(expected(&c, 3).as_deref(), Some("chatter"));
}

/// The `[[applications]]` example of docs/POLICY.md loads with the example policy.
#[test]
fn the_documented_applications_example_loads() {
    let docs = std::fs::read_to_string(crate::common::repo().join("docs/POLICY.md")).unwrap();
    let block = docs
        .split("```toml\n")
        .map(|b| b.split("```").next().unwrap())
        .find(|b| b.starts_with("[[applications]]"))
        .expect("docs/POLICY.md shows an [[applications]] example");
    let text = format!("{}\n{block}", Policy::embedded_text());
    let policy = Policy::from_toml(&text, "docs/POLICY.md").unwrap();
    assert_eq!(policy.application_names().collect::<Vec<_>>(), ["shop"]);
}
