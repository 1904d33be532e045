//! The rule engine itself: loading errors with file and line, every operator, thresholds,
//! suppression, modes, severity, explanations — and the default pack's own tests.

use std::sync::Arc;

use laneguard_core::finding::Severity;
use laneguard_core::policy::Policy;
use laneguard_core::rule_tests;
use laneguard_core::rules::RuleSet;

const MYSQL: &str = "mysql-audit";

fn rule(body: &str) -> String {
    format!("id = \"t.rule\"\ntitle = \"test rule\"\nseverity = \"high\"\n{body}")
}

fn load_one(text: &str) -> RuleSet {
    let (set, errors) = RuleSet::from_sources([("t.toml", text)]);
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn error_of(text: &str) -> String {
    let (set, errors) = RuleSet::from_sources([("bad.toml", text)]);
    assert!(set.rules().is_empty());
    assert_eq!(errors.len(), 1);
    errors[0].to_string()
}

#[test]
fn load_errors_carry_file_line_and_reason() {
    let cases = [
        (
            rule("[match]\nclass = [\"DQL\"]\nbogus = 1\n"),
            "bad.toml:4: ",
            "unknown field `bogus`",
        ),
        (
            rule("sources = [\"oracle\"]\n[match]\nclass = [\"DQL\"]\n"),
            "bad.toml:4: ",
            "unknown source",
        ),
        (
            rule("[match]\nsql.flags = { regex = \"(\" }\n"),
            "bad.toml:4: ",
            "bad regex",
        ),
        (
            rule("[match]\nactor.ip = { cidr = \"10.0.0.0/33\" }\n"),
            "bad.toml:4: ",
            "bad CIDR",
        ),
        (
            rule("[match]\nclass = { nope = 1 }\n"),
            "bad.toml:4: ",
            "unknown operator `nope`",
        ),
        (rule("[match]\n"), "bad.toml:4: ", "`[match]` is empty"),
        (
            rule("frobnicate = true\n[match]\nclass = \"DQL\"\n"),
            "bad.toml:4: ",
            "unknown field `frobnicate`",
        ),
        (
            rule("[match]\nclass = \"DQL\"\n[threshold]\ncount = 3\nwindow = \"5 parsecs\"\n"),
            "bad.toml:6: ",
            "unit must be",
        ),
        (
            rule(
                "[match]\nclass = \"DQL\"\n[threshold]\ncount = 3\nwindow = \"5m\"\nsum = \"statement.rows\"\ndistinct = \"actor.user\"\n",
            ),
            "bad.toml:6: ",
            "`distinct` or `sum`, not both",
        ),
        (
            rule(
                "[match]\nclass = \"DQL\"\n[threshold]\ncount = 3\nwindow = \"5m\"\nsum = \"statement.nope\"\n",
            ),
            "bad.toml:6: ",
            "sum: unknown field `statement.nope`",
        ),
        (
            rule(
                "[match]\nclass = \"DQL\"\n[allowlist]\nkey = [\"zone\"]\nby = \"family\"\n[[allowlist.profiles]]\nkey = [\"z\"]\n[[allowlist.profiles.shapes]]\nfingerprint = \"0123456789abcdef\"\n",
            ),
            "bad.toml:6: ",
            "`fingerprint` in an allowlist `by = \"family\"`",
        ),
        (
            rule("[match]\nclass = \"DQL\"\n[allowlist]\nkey = [\"zone\"]\nby = \"shape\"\n"),
            "bad.toml:",
            "unknown variant `shape`",
        ),
        (
            "id = \"x\"\ntitle = \"t\"\nseverity = \"severe\"\n[match]\nclass = \"DQL\"\n".to_owned(),
            "bad.toml:3: ",
            "severe",
        ),
        (
            "id = \"x\"\ntitle = \"t\"\nseverity = \"high\"\n[match\nclass = \"DQL\"\n".to_owned(),
            "bad.toml:4: ",
            "",
        ),
    ];
    for (text, at, reason) in cases {
        let e = error_of(&text);
        assert!(
            e.starts_with(at) && e.contains(reason),
            "{e}\n--- for ---\n{text}"
        );
    }
}

#[test]
fn one_bad_file_does_not_stop_the_others() {
    let good = rule("[match]\nclass = \"DQL\"\n");
    let (set, errors) = RuleSet::from_sources([
        ("a.toml", good.as_str()),
        ("b.toml", "not toml at all ["),
        ("c.toml", good.replace("t.rule", "t.other").as_str()),
        ("d.toml", good.as_str()),
    ]);
    let ids: Vec<&str> = set.rules().iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["t.rule", "t.other"]);
    assert_eq!(errors.len(), 2);
    assert!(errors[0].to_string().starts_with("b.toml:1:"), "{}", errors[0]);
    assert!(
        errors[1].to_string().contains("duplicate rule id"),
        "{}",
        errors[1]
    );
}

fn mysql_line(user: &str, ip: &str, sql: &str, rc: i32) -> String {
    format!(
        "20261128 00:25:11,db1,{user},{ip},4,9,QUERY,shop,'{}',{rc}",
        sql.replace('\'', "\\'")
    )
}

/// Run a rule's own `[[tests]]` (raw records through the real parsers and SQL analysis).
fn tests_of(text: &str) -> Vec<rule_tests::TestOutcome> {
    let set = load_one(text);
    let r = &set.rules()[0];
    r.tests
        .iter()
        .enumerate()
        .map(|(i, t)| rule_tests::run_test(r, i, t, None))
        .collect()
}

fn assert_all_pass(text: &str) {
    for o in tests_of(text) {
        assert!(o.passed, "{}: {}", o.name.unwrap_or_default(), o.message);
    }
}

fn toml_str(s: &str) -> String {
    format!("'''{s}'''")
}

fn test_case(name: &str, expect: bool, records: &[String]) -> String {
    let recs: Vec<String> = records.iter().map(|r| toml_str(r)).collect();
    format!(
        "[[tests]]\nname = \"{name}\"\nexpect = {expect}\ninput = {{ source = \"{MYSQL}\", records = [{}] }}\n",
        recs.join(", ")
    )
}

#[test]
fn operators() {
    let app = |sql: &str| mysql_line("app", "10.0.16.5", sql, 0);
    let other = |sql: &str| mysql_line("bob", "203.0.113.9", sql, 0).replace(",shop,", ",crm,");
    // (match body, positive record, negative record)
    let cases: Vec<(&str, String, String)> = vec![
        ("class = \"DDL\"", app("DROP TABLE t"), app("SELECT 1")),
        (
            "command = [\"DROP TABLE\", \"TRUNCATE TABLE\"]",
            app("TRUNCATE TABLE t"),
            app("DELETE FROM t WHERE a = 1"),
        ),
        (
            "flags = { all = [\"union_select\", \"tautology\"] }",
            app("SELECT a FROM t WHERE b = 1 OR 1=1 UNION SELECT password FROM mysql.user"),
            app("SELECT a FROM t UNION SELECT b FROM u"),
        ),
        (
            "objects = { glob = \"mysql.*\" }",
            app("SELECT * FROM mysql.user"),
            app("SELECT * FROM shop.users"),
        ),
        (
            "actor.ip = { cidr = [\"10.0.16.0/20\"] }",
            app("SELECT 1"),
            other("SELECT 1"),
        ),
        (
            "sql.normalized = { contains = \"sleep\" }",
            app("SELECT SLEEP(5)"),
            app("SELECT 'sleep' AS s"),
        ),
        (
            "statement.text = { regex = \"(?i)benchmark\\\\s*\\\\(\" }",
            app("SELECT BENCHMARK(100, MD5(1))"),
            app("SELECT 1"),
        ),
        (
            "statement.return_code = { gt = 0 }",
            mysql_line("app", "10.0.16.5", "SELECT x FROM t", 1054),
            app("SELECT 1"),
        ),
        (
            "sql.command = { starts_with = \"CREATE\" }",
            app("CREATE TABLE t (a int)"),
            app("DROP TABLE t"),
        ),
        (
            "target.database = { ends_with = \"op\" }",
            app("SELECT 1"),
            other("SELECT 1"),
        ),
        (
            "actor.user = { in = [\"app\", \"etl\"] }",
            app("SELECT 1"),
            other("SELECT 1"),
        ),
        (
            "actor.user = { ne_field = \"target.database\" }",
            app("SELECT 1"),
            app("SELECT 1").replace(",shop,", ",app,"),
        ),
        (
            "actor.user = { eq_field = \"target.database\" }",
            app("SELECT 1").replace(",shop,", ",app,"),
            app("SELECT 1"),
        ),
        (
            "actor.ip = { exists = false }",
            mysql_line("app", "localhost", "SELECT 1", 0),
            app("SELECT 1"),
        ),
        (
            "[[match.any]]\nclass = \"DCL\"\n[[match.any]]\nflags = \"audit_tamper\"",
            app("SET GLOBAL server_audit_logging = OFF"),
            app("SELECT 1"),
        ),
        (
            "class = \"DQL\"\n[match.not]\nflags = \"select_star\"",
            app("SELECT a FROM t"),
            app("SELECT * FROM t"),
        ),
    ];
    for (body, pos, neg) in cases {
        let mut text = rule(&format!(
            "sources = [\"mysql-audit\"]\non_failure = \"same\"\n[match]\n{body}\n"
        ));
        text.push_str(&test_case("positive", true, &[pos]));
        text.push_str(&test_case("negative", false, &[neg]));
        assert_cases_pass(body, &text);
    }
}

/// Every test of a rule whose `[match]` is `body` passes.
fn assert_cases_pass(body: &str, text: &str) {
    for o in tests_of(text) {
        assert!(
            o.passed,
            "`{body}` {}: {}",
            o.name.as_deref().unwrap_or(""),
            o.message
        );
    }
}

/// The CloudTrail paths TOML rules share with imported Sigma rules: `record.<path>`, `**`,
/// objects as JSON text, null as absent, and the field comparisons.
#[test]
fn cloudtrail_record_paths_and_field_comparisons() {
    let ct = |extra: &str| {
        format!(
            r#"{{"eventVersion":"1.10","eventTime":"2026-01-01T00:00:00Z","eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey","sourceIPAddress":"192.0.2.7","userIdentity":{{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/Ops/alice","sessionContext":{{"sessionIssuer":{{"type":"Role","userName":"Ops"}}}}}},"requestParameters":{{"userName":"alice","tags":[{{"key":"team","value":"Data"}}]}},"responseElements":null{extra}}}"#
        )
    };
    let cases: Vec<(&str, String, String)> = vec![
        (
            "\"record.userIdentity.sessionContext.sessionIssuer.type\" = \"Role\"",
            ct(""),
            ct("").replace(r#""type":"Role""#, r#""type":"User""#),
        ),
        (
            "\"record.sourceIPAddress\" = { cidr = \"192.0.2.0/24\" }",
            ct(""),
            ct("").replace("192.0.2.7", "AWS Internal"),
        ),
        (
            "\"record.tlsDetails.tlsVersion\" = { exists = true }",
            ct(r#","tlsDetails":{"tlsVersion":"TLSv1.3"}"#),
            ct(""),
        ),
        (
            "\"record.**\" = { contains = \"data\" }",
            ct(""),
            ct("").replace("Data", "Ops"),
        ),
        (
            "\"api.request\" = { contains = '\"key\":\"team\"' }",
            ct(""),
            ct("").replace("team", "cost"),
        ),
        (
            "\"api.request.tags\" = { glob = \"*value*\" }",
            ct(""),
            ct("").replace(r#"[{"key":"team","value":"Data"}]"#, "[]"),
        ),
        (
            "\"api.response\" = { exists = false }",
            ct(""),
            ct("").replace(r#""responseElements":null"#, r#""responseElements":{"ok":true}"#),
        ),
        (
            "\"record.errorCode\" = { exists = false }",
            ct(r#","errorCode":null"#),
            ct(r#","errorCode":"AccessDenied""#),
        ),
        (
            "\"actor.principal\" = { ends_with_field = \"api.request.userName\" }",
            ct(""),
            ct("").replace(r#""userName":"alice""#, r#""userName":"bob""#),
        ),
        (
            "\"actor.principal\" = { contains_field = \"api.request.userName\" }",
            ct(""),
            ct("").replace(r#""userName":"alice""#, r#""userName":"bob""#),
        ),
        (
            "\"actor.principal\" = { starts_with_field = \"record.userIdentity.sessionContext.sessionIssuer.userName\" }",
            ct("").replace("\"userName\":\"Ops\"", "\"userName\":\"arn:aws:sts\""),
            ct(""),
        ),
    ];
    for (body, pos, neg) in cases {
        let mut text = rule(&format!("sources = [\"cloudtrail\"]\n[match]\n{body}\n"));
        for (name, expect, rec) in [("positive", true, &pos), ("negative", false, &neg)] {
            text.push_str(&format!(
                "[[tests]]\nname = \"{name}\"\nexpect = {expect}\ninput = {{ source = \"cloudtrail\", record = {} }}\n",
                toml_str(rec)
            ));
        }
        assert_cases_pass(body, &text);
    }
}

#[test]
fn explanations_name_the_condition_that_failed() {
    let text = rule("sources = [\"mysql-audit\"]\n[match]\nclass = \"DDL\"\n")
        + &test_case(
            "wrongly expected",
            true,
            &[mysql_line("app", "10.0.16.5", "SELECT 1", 0)],
        );
    let o = &tests_of(&text)[0];
    assert!(!o.passed);
    assert!(
        o.message.contains("sql.class") || o.message.contains("class = \"DDL\""),
        "{}",
        o.message
    );
    assert!(o.message.contains("DQL"), "{}", o.message);
}

#[test]
fn unparsable_test_input_fails_the_test() {
    let text = rule("sources = [\"mysql-audit\"]\n[match]\nclass = \"DDL\"\n")
        + &test_case("garbage", false, &["this is not an audit line".to_owned()]);
    let o = &tests_of(&text)[0];
    assert!(!o.passed);
    assert!(o.message.contains("does not parse"), "{}", o.message);
}

#[test]
fn thresholds_count_per_key_in_event_time() {
    let fail = |user: &str, ip: &str, sec: u32| {
        format!("20261128 00:25:{sec:02},db1,{user},{ip},6,0,FAILED_CONNECT,,,1045")
    };
    let body = "sources = [\"mysql-audit\"]\non_failure = \"same\"\n[match]\nkind = \"failed_connect\"\n[threshold]\ncount = 3\nwindow = \"1m\"\ngroup_by = [\"actor.ip\"]\n";
    let mut text = rule(body);
    text.push_str("[[tests]]\nname = \"three from one host\"\nexpect = true\ncount = 1\n");
    text.push_str(&format!(
        "input = {{ source = \"mysql-audit\", records = [{}] }}\n",
        [
            fail("a", "10.0.0.9", 1),
            fail("b", "10.0.0.9", 2),
            fail("c", "10.0.0.9", 3)
        ]
        .iter()
        .map(|r| toml_str(r))
        .collect::<Vec<_>>()
        .join(", ")
    ));
    text.push_str(&test_case(
        "spread over hosts",
        false,
        &[
            fail("a", "10.0.0.1", 1),
            fail("a", "10.0.0.2", 2),
            fail("a", "10.0.0.3", 3),
        ],
    ));
    text.push_str(&test_case(
        "too slow for the window",
        false,
        &[
            "20261128 00:20:01,db1,a,10.0.0.9,6,0,FAILED_CONNECT,,,1045".to_owned(),
            "20261128 00:22:01,db1,a,10.0.0.9,6,0,FAILED_CONNECT,,,1045".to_owned(),
            "20261128 00:24:01,db1,a,10.0.0.9,6,0,FAILED_CONNECT,,,1045".to_owned(),
        ],
    ));
    assert_all_pass(&text);

    // Distinct: spraying = 3 distinct users from one host.
    let body = "sources = [\"mysql-audit\"]\non_failure = \"same\"\n[match]\nkind = \"failed_connect\"\n[threshold]\ncount = 3\nwindow = \"1m\"\ngroup_by = [\"actor.ip\"]\ndistinct = \"actor.user\"\n";
    let mut text = rule(body);
    text.push_str(&test_case(
        "three users",
        true,
        &[
            fail("a", "10.0.0.9", 1),
            fail("b", "10.0.0.9", 2),
            fail("c", "10.0.0.9", 3),
        ],
    ));
    text.push_str(&test_case(
        "one user thrice",
        false,
        &[
            fail("a", "10.0.0.9", 1),
            fail("a", "10.0.0.9", 2),
            fail("a", "10.0.0.9", 3),
        ],
    ));
    assert_all_pass(&text);
}

/// `sum` adds up a number per key (rows read), `distinct` over several fields counts distinct
/// combinations (a statement text with its bound parameters).
#[test]
fn thresholds_sum_and_distinct_combinations() {
    let pg = |sec: u32, rows: u32, params: &str| {
        format!(
            "2026-11-28 00:25:{sec:02} UTC:10.0.16.5(51175):app@shop:[20057]:LOG:  AUDIT: SESSION,{sec},1,READ,SELECT,TABLE,public.cards,SELECT pan FROM cards WHERE id > $1 LIMIT $2,{params},{rows}"
        )
    };
    let pg_case = |name: &str, expect: bool, records: &[String]| {
        let recs: Vec<String> = records.iter().map(|r| toml_str(r)).collect();
        format!(
            "[[tests]]\nname = \"{name}\"\nexpect = {expect}\ninput = {{ source = \"pgaudit\", records = [{}] }}\n",
            recs.join(", ")
        )
    };
    let mut text = rule(
        "sources = [\"pgaudit\"]\n[match]\nclass = \"DQL\"\n[threshold]\ncount = 1000\nwindow = \"1m\"\ngroup_by = [\"actor.session\"]\nsum = \"statement.rows\"\n",
    );
    text.push_str(&pg_case(
        "600 + 500 rows",
        true,
        &[pg(1, 600, "\"0,5\""), pg(2, 500, "\"5,5\"")],
    ));
    text.push_str(&pg_case(
        "600 + 300 rows",
        false,
        &[pg(1, 600, "\"0,5\""), pg(2, 300, "\"5,5\"")],
    ));
    assert_all_pass(&text);

    let mut text = rule(
        "sources = [\"pgaudit\"]\n[match]\nclass = \"DQL\"\n[threshold]\ncount = 3\nwindow = \"1m\"\ngroup_by = [\"actor.session\"]\ndistinct = [\"statement.text\", \"statement.parameters\"]\n",
    );
    text.push_str(&pg_case(
        "three pages: same text, other parameters",
        true,
        &[pg(1, 5, "\"0,5\""), pg(2, 5, "\"5,5\""), pg(3, 5, "\"10,5\"")],
    ));
    text.push_str(&pg_case(
        "one page three times",
        false,
        &[pg(1, 5, "\"0,5\""), pg(2, 5, "\"0,5\""), pg(3, 5, "\"0,5\"")],
    ));
    assert_all_pass(&text);
}

/// Allowlists by family fold what an ORM varies; `min_seen` and `min_statements` weigh the
/// learned statistics.
#[test]
fn allowlists_by_family_and_their_statistics() {
    let family = |sql: &str| {
        let mut a = laneguard_core::sql::Analyzer::new(4);
        format!(
            "{:016x}",
            a.analyze(sql, laneguard_core::sql::Dialect::Mysql).family
        )
    };
    let search = family("SELECT id, name FROM products WHERE active = 1 ORDER BY id LIMIT 20");
    let list = family("SELECT id FROM products WHERE id IN (1, 2)");
    let allowlist = |extra: &str, statements: u64, seen: u64| {
        rule(&format!(
            "sources = [\"mysql-audit\"]\n[match]\nkind = \"statement\"\n[allowlist]\nkey = [\"actor.user\"]\nby = \"family\"\n{extra}[[allowlist.profiles]]\nkey = [\"app\"]\nstatements = {statements}\n[[allowlist.profiles.shapes]]\nfamily = \"{search}\"\nseen = {seen}\n[[allowlist.profiles.shapes]]\nfamily = \"{list}\"\nseen = 1\n"
        ))
    };
    let q = |sql: &str| vec![mysql_line("app", "10.0.16.5", sql, 0)];
    let mut text = allowlist("", 500, 300);
    text.push_str(&test_case(
        "optional filters and another page of a learned search",
        false,
        &q("SELECT id, name, price FROM products WHERE active = 1 AND category = 'toys' AND price_cents <= 900 ORDER BY id LIMIT 20 OFFSET 40"),
    ));
    text.push_str(&test_case(
        "an IN-list of another arity",
        false,
        &q("SELECT id FROM products WHERE id IN (3, 4, 5, 6, 7)"),
    ));
    text.push_str(&test_case(
        "a boolean-blind probe on the learned search",
        true,
        &q("SELECT id, name FROM products WHERE active = 1 AND 4648=7537 ORDER BY id LIMIT 20"),
    ));
    assert_all_pass(&text);

    // min_seen: the IN-list family was learned once: not trusted.
    let mut text = allowlist("min_seen = 2\n", 500, 300);
    text.push_str(&test_case(
        "a shape seen once",
        true,
        &q("SELECT id FROM products WHERE id IN (3, 4)"),
    ));
    text.push_str(&test_case(
        "a shape seen 300 times",
        false,
        &q("SELECT id, name FROM products WHERE active = 1 ORDER BY id LIMIT 20"),
    ));
    assert_all_pass(&text);

    // min_statements: a profile learned from too few statements is judged as never seen.
    let mut text = allowlist("min_statements = 1000\n", 500, 300);
    text.push_str(&test_case(
        "even a learned shape of an immature profile",
        true,
        &q("SELECT id, name FROM products WHERE active = 1 ORDER BY id LIMIT 20"),
    ));
    assert_all_pass(&text);
}

#[test]
fn suppression_mutes_repeats_per_key() {
    let body = "sources = [\"mysql-audit\"]\n[match]\nclass = \"DDL\"\n[suppress]\nkey = [\"actor.user\"]\nfor = \"1h\"\n";
    let mut text = rule(body);
    text.push_str("[[tests]]\nname = \"one finding for three drops\"\nexpect = true\ncount = 1\n");
    let drops: Vec<String> = (0..3)
        .map(|i| toml_str(&mysql_line("app", "10.0.16.5", &format!("DROP TABLE t{i}"), 0)))
        .collect();
    text.push_str(&format!(
        "input = {{ source = \"mysql-audit\", records = [{}] }}\n",
        drops.join(", ")
    ));
    text.push_str(&test_case(
        "select",
        false,
        &[mysql_line("app", "10.0.16.5", "SELECT 1", 0)],
    ));
    assert_all_pass(&text);
}

#[test]
fn severity_modes_and_failures() {
    use laneguard_core::detector::Detector;
    use laneguard_core::engine::Engine;
    let text = rule("sources = [\"mysql-audit\"]\nmode = \"shadow\"\n[match]\nclass = \"DDL\"\n");
    let set = load_one(&text);
    let r = &set.rules()[0];
    assert_eq!(r.severity, Severity::High);
    // Shadow findings are marked.
    let finding = shadow_finding(set);
    assert!(finding.shadow);
    // Off rules never run (but are loaded).
    let text = rule("sources = [\"mysql-audit\"]\nmode = \"off\"\n[match]\nclass = \"DDL\"\n");
    let mut set = load_one(&text);
    let mut findings = Vec::new();
    run_detector(
        &mut set,
        &mysql_line("app", "10.0.16.5", "DROP TABLE t", 0),
        &mut findings,
    );
    assert!(findings.is_empty());
    // A failed attempt is one level lower by default.
    let mut set = load_one(&rule("sources = [\"mysql-audit\"]\n[match]\nclass = \"DDL\"\n"));
    let mut findings = Vec::new();
    run_detector(
        &mut set,
        &mysql_line("app", "10.0.16.5", "DROP TABLE t", 1142),
        &mut findings,
    );
    assert_eq!(findings[0].severity, Severity::Medium);
    // …or ignored.
    let mut set = load_one(&rule(
        "sources = [\"mysql-audit\"]\non_failure = \"ignore\"\n[match]\nclass = \"DDL\"\n",
    ));
    let mut findings = Vec::new();
    run_detector(
        &mut set,
        &mysql_line("app", "10.0.16.5", "DROP TABLE t", 1142),
        &mut findings,
    );
    assert!(findings.is_empty());
    fn shadow_finding(mut set: RuleSet) -> laneguard_core::finding::Finding {
        let mut findings = Vec::new();
        run_detector(
            &mut set,
            &mysql_line("app", "10.0.16.5", "DROP TABLE t", 0),
            &mut findings,
        );
        findings.remove(0)
    }
    fn run_detector(set: &mut RuleSet, line: &str, findings: &mut Vec<laneguard_core::finding::Finding>) {
        let rec = laneguard_core::envelope::RawRecord {
            text: line,
            origin: laneguard_core::event::Origin::default(),
            source: None,
            envelope_time: None,
            aws: laneguard_core::envelope::AwsContext::default(),
        };
        let mut parsers = laneguard_core::sources::Parsers::new(&Default::default());
        let parsed = parsers
            .parse(laneguard_core::event::Source::MysqlAudit, &rec, &mut Vec::new())
            .unwrap();
        let laneguard_core::sources::Parsed::Event(mut event) = parsed else {
            panic!()
        };
        let mut engine = Engine::default();
        engine.analyze(&mut event);
        let mut matched = Vec::new();
        set.detect(&event, findings, &mut matched);
    }
}

/// `cargo test` runs every rule's own tests: the default pack with the example policy.
#[test]
fn default_pack_tests_pass() {
    let (set, errors) = RuleSet::embedded();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(!set.rules().is_empty());
    let policy = Arc::new(Policy::embedded());
    let outcomes = rule_tests::run_all(&set, Some(&policy));
    let failures: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.passed)
        .map(|o| format!("{} [{}] #{:?}: {}", o.rule, o.file, o.index, o.message))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// docs/RULES.md documents every field and operator the engine knows, and nothing it does not.
#[test]
fn matcher_reference_matches_the_code() {
    let docs = std::fs::read_to_string(crate::common::repo().join("docs/RULES.md")).unwrap();
    for f in laneguard_core::rules::field::FIELDS {
        assert!(
            docs.contains(&format!("`{f}`")),
            "docs/RULES.md does not document field `{f}`"
        );
    }
    for op in laneguard_core::rules::condition::OPERATORS {
        assert!(
            docs.contains(&format!("| `{op}`")) || docs.contains(&format!(", `{op}`")),
            "operator `{op}` undocumented"
        );
    }
    // Every operator row of the table is an operator of the code.
    let table = docs
        .split("<!-- operators:")
        .nth(1)
        .unwrap()
        .split("### Fields")
        .next()
        .unwrap();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        for op in line.split('|').nth(1).unwrap().split(',') {
            let op = op.trim().trim_matches('`');
            assert!(
                laneguard_core::rules::condition::OPERATORS.contains(&op),
                "docs list unknown operator {op}"
            );
        }
    }
}

/// With a shared state store, a volume threshold hands the store each observation's amount (the
/// rows it read), a counting threshold 1: the store adds them up across containers.
#[test]
fn deferred_thresholds_carry_their_amounts() {
    use laneguard_core::config::{Config, EngineOptions, RulesSource, Sources};
    use laneguard_core::event::Event;
    use laneguard_core::finding::Finding;
    use laneguard_core::input::{self, InputOptions};
    use laneguard_core::pipeline::{Output, Pipeline};
    use laneguard_core::sources::ParseOptions;

    struct Nothing;
    impl Output for Nothing {
        fn event(&mut self, _event: &Event<'_>, _matched: &[String]) {}
        fn findings(&mut self, _findings: &[Finding]) {}
    }
    let volume = rule(
        "sources = [\"pgaudit\"]\n[match]\nclass = \"DQL\"\n[threshold]\ncount = 1000\nwindow = \"1m\"\ngroup_by = [\"actor.session\"]\nsum = \"statement.rows\"\n",
    );
    let count = rule(
        "sources = [\"pgaudit\"]\n[match]\nclass = \"DQL\"\n[threshold]\ncount = 3\nwindow = \"1m\"\ngroup_by = [\"actor.session\"]\n",
    )
    .replace("t.rule", "t.count");
    let config = Config::load(&Sources {
        rules: RulesSource::Files(vec![("v.toml".into(), volume), ("c.toml".into(), count)]),
        ..Sources::default()
    })
    .unwrap()
    .require_all_rules()
    .unwrap();
    let mut engine = config.engine_with(&EngineOptions {
        defer_thresholds: true,
        ..EngineOptions::default()
    });
    let log: String = [(1, 600), (2, 500)]
        .iter()
        .map(|(sec, rows)| {
            format!(
                "2026-11-28 00:25:{sec:02} UTC:10.0.16.5(51175):app@shop:[20057]:LOG:  AUDIT: SESSION,{sec},1,READ,SELECT,TABLE,public.cards,SELECT pan FROM cards,<none>,{rows}\n"
            )
        })
        .collect();
    {
        let mut out = Nothing;
        let mut pipeline = Pipeline::new(&ParseOptions::default(), &mut engine, &mut out);
        input::read_stream("t.log", log.as_bytes(), &InputOptions::default(), &mut pipeline);
    }
    let deferred = engine.take_deferred();
    let of = |id: &str| -> Vec<u64> {
        deferred
            .iter()
            .filter(|d| d.finding.rule_id == id)
            .map(|d| d.amount)
            .collect()
    };
    assert_eq!(of("t.rule"), [600, 500]);
    assert_eq!(of("t.count"), [1, 1]);
    assert!(deferred.iter().all(|d| d.distinct.is_none()));
}
