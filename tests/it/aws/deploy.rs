//! Deploying for real (issue 16), on moto: the configuration bundle in S3 (good, invalid,
//! missing, KMS-encrypted, replaced while running), threshold windows shared by several
//! containers in DynamoDB (one finding for a burst spread over three handlers; throttling
//! degrades to local counting, never to silence; corrupt items ignored), and the EMF health
//! lines checked against the EMF specification's required keys.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use laneguard_aws::{aws_sdk_dynamodb, aws_sdk_s3};
use laneguard_core::bundle::{Bundle, BundleLimits};
use laneguard_core::envelope::subscription::{LogEventIn, subscription_event};
use laneguard_lambda::{FunctionConfig, FunctionKind, Handler};
use serde_json::Value;

use super::support::{Fault, FaultProxy, FaultRule, Moto};
use super::{fast_retry, now_ms, runtime, sdk};

/// A writer tests can read back (the EMF lines of a handler).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn function_config(kind: FunctionKind, vars: &[(&str, String)]) -> Result<FunctionConfig, String> {
    FunctionConfig::from_vars(kind, |name| {
        vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    })
    .map_err(|e| e.to_string())
}

/// A KMS call in the JSON protocol (the tests do not compile the KMS SDK for one CreateKey).
fn kms(moto: &Moto, action: &str, input: &Value) -> Value {
    super::support::json_call(moto, "TrentService", "1.1", "kms", action, input)
}

/// The example policy and the default pack as a bundle, with `edit` applied to the policy.
fn bundle_bytes(edit: impl Fn(&str) -> String) -> Vec<u8> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rules: Vec<(String, String)> = std::fs::read_dir(root.join("rules"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && !p.ends_with("policy.toml"))
        .map(|p| {
            (
                format!("conf:rules/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    rules.sort();
    Bundle {
        origin: "conf".into(),
        policy: edit(&std::fs::read_to_string(root.join("rules/policy.toml")).unwrap()),
        rules,
        ignored: Vec::new(),
    }
    .pack()
    .unwrap()
}

async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    kms_key: Option<&str>,
) -> String {
    let mut req = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body));
    if let Some(k) = kms_key {
        req = req
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::AwsKms)
            .ssekms_key_id(k);
    }
    req.send()
        .await
        .unwrap()
        .version_id()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn configuration_bundle_from_s3() {
    let Some(moto) = Moto::start() else { return };
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        let s3 = laneguard_aws::s3::client(&conf);
        s3.create_bucket().bucket("cfg").send().await.unwrap();
        s3.put_bucket_versioning()
            .bucket("cfg")
            .versioning_configuration(
                aws_sdk_s3::types::VersioningConfiguration::builder()
                    .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let key_id = kms(&moto, "CreateKey", &serde_json::json!({}))["KeyMetadata"]["KeyId"]
            .as_str()
            .unwrap()
            .to_owned();
        let v1 = put(
            &s3,
            "cfg",
            "laneguard.tar.gz",
            bundle_bytes(str::to_owned),
            Some(&key_id),
        )
        .await;
        assert!(!v1.is_empty(), "a versioned bucket gives versions");

        // Good (and KMS-encrypted): the handler runs the bundle and names its version.
        let metrics = Captured::default();
        let vars = [
            ("LANEGUARD_CONFIG", "s3://cfg/laneguard.tar.gz".to_owned()),
            ("LANEGUARD_CONFIG_TTL_SECONDS", "1".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let handler = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap()
            .with_metrics(Some(Box::new(metrics.clone())));
        assert_eq!(
            handler.config_origin(),
            format!("s3://cfg/laneguard.tar.gz?versionId={v1}")
        );
        let event = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("samples/envelopes/cwl-lambda-event-mariadb.json"),
        )
        .unwrap();
        assert_eq!(handler.handle(event.as_bytes()).await.unwrap().findings, 2);

        // A new version that does not validate: the running configuration stays, counted.
        let bad =
            bundle_bytes(|p| p.replacen("cidrs = [\"10.0.250.0/24\"]", "cidrs = [\"10.0.250.1/24\"]", 1));
        put(&s3, "cfg", "laneguard.tar.gz", bad.clone(), None).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(handler.handle(event.as_bytes()).await.unwrap().findings, 2);
        assert_eq!(
            handler.config_origin(),
            format!("s3://cfg/laneguard.tar.gz?versionId={v1}")
        );
        let errors: Vec<Value> = metrics
            .lines()
            .into_iter()
            .filter(|l| l.get("ConfigErrors").is_some())
            .collect();
        assert_eq!(errors.len(), 1, "one ConfigErrors metric for the failed reload");
        assert_eq!(errors[0]["ConfigErrors"], 1.0);

        // A valid new version replaces the engine: the shop database is no longer the
        // payments datastore, so its DROP TABLE is judged without that datastore's domain.
        let v3 = put(
            &s3,
            "cfg",
            "laneguard.tar.gz",
            bundle_bytes(|p| p.replace("\"shop-db\", \"shop-pg\",", "")),
            None,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        handler.handle(event.as_bytes()).await.unwrap();
        assert_eq!(
            handler.config_origin(),
            format!("s3://cfg/laneguard.tar.gz?versionId={v3}")
        );

        // Invalid at start-up: the init fails with the file and line inside the bundle.
        put(&s3, "cfg", "broken.tar.gz", bad, None).await;
        let vars = [("LANEGUARD_CONFIG", "s3://cfg/broken.tar.gz".to_owned())];
        let e = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s3://cfg/broken.tar.gz") && e.contains(":policy.toml:") && e.contains("host bits"),
            "{e}"
        );
        // Missing object, and not a bundle.
        let vars = [("LANEGUARD_CONFIG", "s3://cfg/nothing-here.tar.gz".to_owned())];
        let e = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("s3://cfg/nothing-here.tar.gz"), "{e}");
        put(&s3, "cfg", "notes.txt", b"just some text".to_vec(), None).await;
        let vars = [("LANEGUARD_CONFIG", "s3://cfg/notes.txt".to_owned())];
        let e = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("s3://cfg/notes.txt") && e.contains("tar"), "{e}");
        // Too large.
        let huge = vec![b'x'; (BundleLimits::default().max_bytes + 1) as usize];
        put(&s3, "cfg", "huge.tar", huge, None).await;
        let vars = [("LANEGUARD_CONFIG", "s3://cfg/huge.tar".to_owned())];
        let e = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("cap"), "{e}");
    });
}

/// A bundle with an invalid rule file fails the function's init, naming the file, its line and
/// the rule; with `LANEGUARD_SKIP_INVALID_RULES=1` the function starts on the other rules, and
/// every invocation reports the skipped file (report, summary and the `SkippedRules` metric).
/// A local bundle: no AWS call is made.
#[test]
fn an_invalid_rule_file_fails_the_init_unless_skipped() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let ddl = std::fs::read_to_string(root.join("rules/sql.destructive-ddl.toml")).unwrap();
    let invalid = ddl.replacen(
        "id = \"sql.destructive-ddl\"\n",
        "id = \"t.invalid\"\ncolour = \"red\"\n",
        1,
    );
    let archive = Bundle {
        origin: "conf".into(),
        policy: std::fs::read_to_string(root.join("rules/policy.toml")).unwrap(),
        rules: vec![
            ("conf:rules/invalid.toml".into(), invalid),
            ("conf:rules/sql.destructive-ddl.toml".into(), ddl),
        ],
        ignored: Vec::new(),
    }
    .pack()
    .unwrap();
    let path = std::env::temp_dir().join(format!("lg-invalid-bundle-{}.tar.gz", std::process::id()));
    std::fs::write(&path, archive).unwrap();
    let location = path.display().to_string();
    runtime().block_on(async {
        // Never contacted: no sink, no state table, a local bundle.
        let conf = sdk("http://127.0.0.1:9", &fast_retry(1)).await;
        let vars = [("LANEGUARD_CONFIG", location.clone())];
        let e = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("invalid.toml:2: rule t.invalid: "), "{e}");

        let metrics = Captured::default();
        let vars = [
            ("LANEGUARD_CONFIG", location.clone()),
            ("LANEGUARD_SKIP_INVALID_RULES", "1".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let handler = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap()
            .with_metrics(Some(Box::new(metrics.clone())));
        let event =
            std::fs::read_to_string(root.join("samples/envelopes/cwl-lambda-event-mariadb.json")).unwrap();
        let report = handler.handle(event.as_bytes()).await.unwrap();
        assert_eq!((report.findings, report.skipped_rules), (2, 1), "{report:?}");
        assert_eq!(serde_json::to_value(&report).unwrap()["skipped_rules"], 1);
        let lines = metrics.lines();
        let totals = lines.iter().find(|l| l.get("Records").is_some()).unwrap();
        assert_eq!(totals["SkippedRules"], 1.0, "{totals}");
    });
    let _ = std::fs::remove_file(&path);
}

/// Failed logins from one application host, `n` of them starting at `first`, timestamped now.
/// Failed logins `first..first + n` of a burst, login `i` logged at [`login_time`]`(i)`.
fn failed_logins(first: usize, n: usize) -> String {
    let lines: Vec<String> = (first..first + n)
        .map(|i| {
            let stamp = login_time(i).strftime("%Y%m%d %H:%M:%S");
            format!(
                "{stamp},payments-db,app,10.0.16.9,{},0,FAILED_CONNECT,,,1045",
                7000 + i
            )
        })
        .collect();
    let events: Vec<LogEventIn<'_>> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| LogEventIn {
            timestamp_ms: now_ms() + i as i64,
            message: m,
        })
        .collect();
    subscription_event(
        "111122223333",
        "/aws/rds/instance/payments-db/audit",
        &format!("payments-db.audit.log.{first}"),
        "laneguard",
        &events,
    )
    .unwrap()
}

/// When failed login `i` of [`failed_logins`] happened: a second apart, the burst ending about now
/// (well inside every threshold window of the pack).
fn login_time(i: usize) -> jiff::Timestamp {
    static BASE: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| jiff::Timestamp::now().as_second() - 60);
    jiff::Timestamp::from_second(base + i as i64).unwrap()
}

async fn create_table(conf: &aws_config::SdkConfig, name: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let ddb = aws_sdk_dynamodb::Client::new(conf);
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("k")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("k")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    ddb
}

#[test]
fn thresholds_shared_by_three_containers_fire_once() {
    let Some(moto) = Moto::start() else { return };
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        let ddb = create_table(&conf, "laneguard-state").await;
        let vars = [
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
            ("LANEGUARD_STATE_TABLE", "laneguard-state".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let config = function_config(FunctionKind::RdsAudit, &vars).unwrap();
        let findings = Captured::default();
        let mut handlers = Vec::new();
        for _ in 0..3 {
            handlers.push(
                Handler::new(&config, &conf)
                    .await
                    .unwrap()
                    .with_metrics(None)
                    .with_stdout(Some(Box::new(findings.clone()))),
            );
        }
        // sql.brute-force-source needs 10 failed logins from one source in 5 minutes: each
        // container sees 4, 3 and 3 — none alone reaches it.
        for (h, (first, n)) in handlers.iter().zip([(0, 4), (4, 3), (7, 3)]) {
            let report = h.handle(failed_logins(first, n).as_bytes()).await.unwrap();
            let t = report.thresholds.clone().unwrap();
            assert_eq!((t.store_errors, t.decided_locally), (0, 0), "{t:?}");
        }
        let rules = |c: &Captured| -> Vec<String> {
            let mut r: Vec<String> = c
                .lines()
                .iter()
                .map(|f| f["rule_id"].as_str().unwrap().to_owned())
                .collect();
            r.sort();
            r
        };
        let raised = rules(&findings);
        assert_eq!(
            raised.iter().filter(|r| *r == "sql.brute-force-source").count(),
            1,
            "one finding for the burst: {raised:?}"
        );
        // Its window is the burst's, across containers: from the first login (the first
        // container's) to the tenth (the third's, which raised it); account from the
        // subscription, region from the function, hence the instance's ARN.
        let burst = findings
            .lines()
            .into_iter()
            .find(|f| f["rule_id"] == "sql.brute-force-source")
            .unwrap();
        let at = |i: usize| login_time(i).to_string();
        assert_eq!(burst["first_seen"], at(0), "{burst}");
        assert_eq!(burst["last_seen"], at(9), "{burst}");
        assert_eq!(burst["time"], at(9), "{burst}");
        assert_eq!(burst["account"], "111122223333");
        assert_eq!(burst["region"], "us-east-1");
        assert_eq!(burst["arn"], "arn:aws:rds:us-east-1:111122223333:db:payments-db");
        let mut unique = raised.clone();
        unique.dedup();
        assert_eq!(unique, raised, "no threshold rule fired twice: {raised:?}");

        // The items carry a format version and a TTL.
        let items = ddb.scan().table_name("laneguard-state").send().await.unwrap();
        let items = items.items();
        assert!(!items.is_empty());
        for item in items {
            assert_eq!(
                item.get("v").and_then(|v| v.as_s().ok()).map(String::as_str),
                Some("1"),
                "{item:?}"
            );
            let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
            assert!(ttl > now_ms() / 1000, "{item:?}");
        }

        // A corrupt burst marker is ignored and counted; the next burst still fires (the
        // suppression of the rule is per container: use a fresh one).
        for marker in items.iter().filter(|i| i["k"].as_s().unwrap().starts_with("f#")) {
            ddb.put_item()
                .table_name("laneguard-state")
                .item("k", marker["k"].clone())
                .item(
                    "u",
                    aws_sdk_dynamodb::types::AttributeValue::S("not a time".into()),
                )
                .item("v", aws_sdk_dynamodb::types::AttributeValue::S("1".into()))
                .send()
                .await
                .unwrap();
        }
        let again = Captured::default();
        let fresh = Handler::new(&config, &conf)
            .await
            .unwrap()
            .with_metrics(None)
            .with_stdout(Some(Box::new(again.clone())));
        let report = fresh.handle(failed_logins(20, 10).as_bytes()).await.unwrap();
        let t = report.thresholds.unwrap();
        assert!(t.items_ignored >= 1, "{t:?}");
        assert!(
            rules(&again).contains(&"sql.brute-force-source".to_owned()),
            "{:?}",
            rules(&again)
        );
    });
}

#[test]
fn a_throttled_state_store_degrades_to_local_counting() {
    let Some(moto) = Moto::start() else { return };
    let proxy = FaultProxy::start(
        moto.addr,
        vec![FaultRule {
            operation: "UpdateItem",
            faults: vec![Fault::Throttle],
            always: Arc::new(true.into()),
            from_call: 0,
        }],
    );
    runtime().block_on(async {
        let direct = sdk(&moto.url, &fast_retry(2)).await;
        create_table(&direct, "laneguard-state").await;
        let throttled = sdk(&proxy.url, &fast_retry(2)).await;
        let vars = [
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
            ("LANEGUARD_STATE_TABLE", "laneguard-state".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let metrics = Captured::default();
        let findings = Captured::default();
        let handler = Handler::new(
            &function_config(FunctionKind::RdsAudit, &vars).unwrap(),
            &throttled,
        )
        .await
        .unwrap()
        .with_metrics(Some(Box::new(metrics.clone())))
        .with_stdout(Some(Box::new(findings.clone())));
        // The whole burst in one batch: decided on this container's count, not lost.
        let report = handler.handle(failed_logins(0, 10).as_bytes()).await.unwrap();
        let t = report.thresholds.clone().unwrap();
        assert!(
            t.store_errors >= 1 && t.decided_locally == t.store_errors,
            "{t:?}"
        );
        assert!(
            findings
                .lines()
                .iter()
                .any(|f| f["rule_id"] == "sql.brute-force-source"),
            "{report:?}"
        );
        let (calls, faulted) = proxy.count("UpdateItem");
        assert!(
            calls >= 2 && faulted == calls,
            "retried, all throttled: {calls} {faulted}"
        );
        let lines = metrics.lines();
        let totals = lines.iter().find(|l| l.get("Records").is_some()).unwrap();
        // The metric adds the sequence state's errors (the pack's seq.brute-force-then-login
        // files these failed logins as its first step).
        let sequence_errors = report.sequences.as_ref().map_or(0, |s| s.store_errors);
        assert_eq!(
            totals["StateStoreErrors"],
            (t.store_errors + sequence_errors) as f64
        );
        assert_eq!(totals["ThresholdsDecidedLocally"], t.decided_locally as f64);
    });
}

/// A state store throttled for a moment (each operation's first calls) is retried by the SDK
/// within the retry policy: nothing falls back to local counting, the burst is raised once.
#[test]
fn a_briefly_throttled_state_store_is_retried_within_the_policy() {
    let Some(moto) = Moto::start() else { return };
    let proxy = FaultProxy::start(
        moto.addr,
        vec![
            FaultRule::once("UpdateItem", vec![Fault::Throttle, Fault::TooMany]),
            FaultRule::once("BatchGetItem", vec![Fault::Throttle]),
        ],
    );
    runtime().block_on(async {
        let direct = sdk(&moto.url, &fast_retry(4)).await;
        create_table(&direct, "laneguard-state").await;
        let vars = [
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
            ("LANEGUARD_STATE_TABLE", "laneguard-state".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let findings = Captured::default();
        let handler = Handler::new(
            &function_config(FunctionKind::RdsAudit, &vars).unwrap(),
            &sdk(&proxy.url, &fast_retry(4)).await,
        )
        .await
        .unwrap()
        .with_metrics(None)
        .with_stdout(Some(Box::new(findings.clone())));
        let report = handler.handle(failed_logins(0, 10).as_bytes()).await.unwrap();
        let t = report.thresholds.clone().unwrap();
        assert_eq!((t.store_errors, t.decided_locally), (0, 0), "{t:?}");
        let raised = findings
            .lines()
            .iter()
            .filter(|f| f["rule_id"] == "sql.brute-force-source")
            .count();
        assert_eq!(raised, 1, "{report:?}");
        let (calls, faulted) = proxy.count("UpdateItem");
        assert!(
            faulted == 2 && calls > faulted,
            "retried past the throttling: {calls} {faulted}"
        );
    });
}

/// Every EMF line has the keys the Embedded Metric Format specification requires: `_aws` with a
/// numeric `Timestamp` and `CloudWatchMetrics` (each directive with `Namespace`, `Dimensions` —
/// arrays of dimension names, each a root member with a string value — and `Metrics` — names
/// that are root members with numeric values).
fn assert_emf(line: &Value) {
    let aws = &line["_aws"];
    assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 0), "{line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics");
    assert!(!directives.is_empty(), "{line}");
    for d in directives {
        assert!(d["Namespace"].as_str().is_some_and(|n| !n.is_empty()), "{line}");
        for set in d["Dimensions"].as_array().expect("Dimensions") {
            let set = set.as_array().expect("a dimension set is an array");
            assert!(!set.is_empty() && set.len() <= 30, "{line}");
            for dim in set {
                let name = dim.as_str().expect("dimension names are strings");
                assert!(
                    line[name].is_string(),
                    "dimension {name} missing at the root: {line}"
                );
            }
        }
        let metrics = d["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{line}");
        for m in metrics {
            let name = m["Name"].as_str().expect("metric Name");
            assert!(
                line[name].is_number(),
                "metric {name} missing at the root: {line}"
            );
            if let Some(unit) = m.get("Unit") {
                assert!(["Count", "Seconds"].contains(&unit.as_str().unwrap()), "{line}");
            }
        }
    }
}

#[test]
fn health_metrics_are_emf() {
    let Some(moto) = Moto::start() else { return };
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        let vars = [
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
            ("AWS_LAMBDA_FUNCTION_NAME", "laneguard-rds".to_owned()),
        ];
        let metrics = Captured::default();
        let handler = Handler::new(&function_config(FunctionKind::RdsAudit, &vars).unwrap(), &conf)
            .await
            .unwrap()
            .with_metrics(Some(Box::new(metrics.clone())));
        // Two good records and one that is not a database log at all.
        let batch = {
            let stamp = jiff::Timestamp::now().strftime("%Y%m%d %H:%M:%S").to_string();
            let good = format!("{stamp},payments-db,app,10.0.16.9,7001,0,FAILED_CONNECT,,,1045");
            let drop = format!("{stamp},payments-db,app,10.0.16.9,7002,5,QUERY,shop,'DROP TABLE users',0");
            let events = [
                LogEventIn {
                    timestamp_ms: now_ms(),
                    message: &good,
                },
                LogEventIn {
                    timestamp_ms: now_ms(),
                    message: &drop,
                },
                LogEventIn {
                    timestamp_ms: now_ms(),
                    message: "20261128 garbage,",
                },
            ];
            subscription_event("1", "/aws/rds/instance/payments-db/audit", "s", "f", &events).unwrap()
        };
        let report = handler.handle(batch.as_bytes()).await.unwrap();
        assert_eq!((report.records, report.diagnostics), (3, 1), "{report:?}");
        let lines = metrics.lines();
        for l in &lines {
            assert_emf(l);
            assert_eq!(l["Function"], "laneguard-rds");
        }
        let totals = lines.iter().find(|l| l.get("Records").is_some()).unwrap();
        assert_eq!(totals["Records"], 3.0);
        assert_eq!(totals["Events"], 2.0);
        assert_eq!(totals["Diagnostics"], 1.0);
        assert_eq!(totals["Findings"], report.findings as f64);
        assert!(totals["LagSeconds"].as_f64().unwrap() < 60.0);
        let by = |dim: &str, value: &str| {
            lines
                .iter()
                .any(|l| l.get(dim).and_then(Value::as_str) == Some(value))
        };
        assert!(by("LogGroup", "/aws/rds/instance/payments-db/audit"));
        assert!(by("Source", "mysql-audit"));
        assert!(by("RuleId", "sql.destructive-ddl"));
        assert!(by("Severity", "critical"));
        assert!(lines.iter().any(|l| l.get("DiagnosticKind").is_some()));
    });
}

#[test]
fn redrive_delivers_parked_batches_once() {
    let Some(moto) = Moto::start() else { return };
    let proxy = FaultProxy::start(
        moto.addr,
        vec![FaultRule {
            operation: "PublishBatch",
            faults: vec![Fault::Internal],
            always: Arc::new(true.into()),
            from_call: 0,
        }],
    );
    let rt = runtime();
    let (d, failure_queue) = rt.block_on(async {
        let d = super::destinations(&moto, "laneguard-alerts", "/laneguard/siem").await;
        let (failure_queue, _) = super::support::create_queue(&moto, "laneguard-failed-batches");
        // A real failure: SNS keeps failing, the invocation fails after its retries.
        let conf = super::config(FunctionKind::RdsAudit, &d, &[("LANEGUARD_STDOUT_FINDINGS", "false")]);
        let handler = Handler::new(&conf, &sdk(&proxy.url, &fast_retry(2)).await)
            .await
            .unwrap()
            .with_metrics(None);
        let event = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/envelopes/cwl-lambda-event-mariadb.json"),
        )
        .unwrap();
        let err = handler.handle(event.as_bytes()).await.unwrap_err();
        // What Lambda's on-failure destination writes for it (after its two retries).
        let record = serde_json::json!({
            "version": "1.0",
            "timestamp": "2026-11-28T00:26:01.512Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4f2c-9b9f-1c7b4e4e5f0a",
                "functionArn": "arn:aws:lambda:us-east-1:111122223333:function:laneguard-RdsAuditFunction:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": serde_json::from_str::<Value>(&event).unwrap(),
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "laneguard_lambda::handler::HandlerError", "errorMessage": err.to_string()}
        });
        for body in [record.to_string(), "not an on-failure record".to_owned()] {
            super::support::sqs(
                &moto,
                "SendMessage",
                &serde_json::json!({"QueueUrl": failure_queue, "MessageBody": body}),
            );
        }
        (d, failure_queue)
    });
    assert!(
        super::support::drain_queue(&moto, &d.queue_url).is_empty(),
        "nothing reached SNS"
    );
    let redrive = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_laneguard"))
            .args([
                "redrive",
                "--queue",
                &failure_queue,
                "--sns",
                &d.topic_arn,
                "--siem",
                &d.log_group,
            ])
            .args(extra)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .output()
            .unwrap()
    };
    let out = redrive(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("2 messages (1 not on-failure records, left)")
            && stderr.contains("2 published")
            && stderr.contains("1 deleted"),
        "{stderr}"
    );
    let alerts = super::support::drain_queue(&moto, &d.queue_url);
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
    // The parked batch is gone; the foreign message stays (made visible again for the check).
    super::support::sqs(&moto, "PurgeQueue", &serde_json::json!({"QueueUrl": d.queue_url}));
    let again = redrive(&["--dry-run"]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("0 findings") || stderr.contains("0 messages"),
        "{stderr}"
    );
}

/// The CLI reads credentials from a `credential_process` profile (people run it with SSO or a
/// credential helper; the functions use their role): the process runs, its keys sign the calls.
#[test]
fn cli_uses_credential_process_profiles() {
    let Some(moto) = Moto::start() else { return };
    let dir = std::env::temp_dir().join(format!("lg-profile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = dir.join("credential-process-ran");
    let helper = dir.join("creds.sh");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDPROCESS\", \"SecretAccessKey\": \"process-secret\"}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile laneguard-test]\nregion = us-east-1\ncredential_process = {}\n",
            helper.display()
        ),
    )
    .unwrap();
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        let logs = laneguard_aws::aws_sdk_cloudwatchlogs::Client::new(&conf);
        logs.create_log_group().log_group_name("/x").send().await.unwrap();
    });
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(["replay", "--log-group", "/x", "--start", "now-1h", "-q"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_REGION")
        .env("AWS_CONFIG_FILE", &config)
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("none"))
        .env("AWS_PROFILE", "laneguard-test")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(marker.exists(), "the credential process ran");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// Sequence rules across functions (issue 12): each function sees one source; the halves of a
// sequence meet in the state table, and the finding is the one `laneguard replay` raises.
// ---------------------------------------------------------------------------------------------

const CT_GROUP: &str = "aws-cloudtrail-logs-123456789012";
const AUDIT_GROUP: &str = "/aws/rds/instance/payments-db/audit";
const FLOW_GROUP: &str = "/vpc/flow-logs";

/// A test's rule directory (`tests/fixtures/sequences/<name>`).
fn sequence_rules(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/sequences")
        .join(name)
        .display()
        .to_string()
}

/// One subscription event from `group`/`stream` with one log event per message (the ingestion
/// times distinct per stream, so every batch's event ids are its own).
fn delivery(group: &str, stream: &str, messages: &[String]) -> String {
    let t = now_ms();
    let events: Vec<LogEventIn<'_>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| LogEventIn {
            timestamp_ms: t + i as i64,
            message: m,
        })
        .collect();
    subscription_event("123456789012", group, stream, "laneguard", &events).unwrap()
}

/// A CloudTrail record: `ModifyDBParameterGroup` of payments-db's parameter group turning its
/// audit off, or (`weaken` false) an unrelated `DescribeDBInstances`.
fn cloudtrail_record(id: &str, at: jiff::Timestamp, weaken: bool) -> String {
    let (name, params) = if weaken {
        (
            "ModifyDBParameterGroup",
            r#"{"dBParameterGroupName":"payments-db-params","parameters":[{"parameterName":"server_audit_logging","parameterValue":"0","applyMethod":"immediate"}]}"#,
        )
    } else {
        ("DescribeDBInstances", "null")
    };
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/x","accountId":"123456789012","userName":"x"}},"eventTime":"{at}","eventSource":"rds.amazonaws.com","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.9","userAgent":"aws-cli","requestParameters":{params},"responseElements":null,"eventID":"{id}","eventType":"AwsApiCall","recipientAccountId":"123456789012"}}"#
    )
}

/// A MySQL audit line of payments-db.
fn audit_line(at: jiff::Timestamp, connection: u32, sql: &str) -> String {
    format!(
        "{},payments-db,admin,10.0.16.9,{connection},1,QUERY,shop,'{sql}',0",
        at.strftime("%Y%m%d %H:%M:%S")
    )
}

/// An accepted flow from the application to `dst` (payments-db is 10.0.32.0/24, marketing-db
/// 10.0.33.0/24) port 3306, starting at `at`.
fn flow_line(dst: &str, at: jiff::Timestamp) -> String {
    let s = at.as_second();
    format!(
        "2 123456789012 eni-0a1b2c3d4e5f60718 10.0.16.9 {dst} 51515 3306 6 10 5120 {s} {} ACCEPT OK",
        s + 60
    )
}

/// `n` handlers of `kind` on the state table, each a container of its own, loading `rules` with
/// the example policy; their findings go to `out`.
async fn sequence_handlers(
    conf: &aws_config::SdkConfig,
    kind: FunctionKind,
    rules: &str,
    n: usize,
    out: &Captured,
) -> Vec<Handler> {
    let vars = [
        ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
        ("LANEGUARD_RULES", rules.to_owned()),
        ("LANEGUARD_STATE_TABLE", "laneguard-state".to_owned()),
        ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
    ];
    let config = function_config(kind, &vars).unwrap();
    let mut handlers = Vec::new();
    for _ in 0..n {
        handlers.push(
            Handler::new(&config, conf)
                .await
                .unwrap()
                .with_metrics(None)
                .with_stdout(Some(Box::new(out.clone()))),
        );
    }
    handlers
}

/// Handle `event`, checking the table answered.
async fn handle_sequences(h: &Handler, event: &str) -> laneguard_lambda::InvocationReport {
    let report = h.handle(event.as_bytes()).await.unwrap();
    let s = report.sequences.clone().expect("the sequence store ran");
    assert_eq!(
        (s.store_errors, s.decided_locally, s.contended),
        (0, 0, 0),
        "{s:?}"
    );
    report
}

/// The sequence findings (rules `t.*` of the fixtures; the example policy's checks raise
/// `policy.*` findings of their own) in `raised`.
fn sequence_findings(raised: &Captured) -> Vec<Value> {
    raised
        .lines()
        .into_iter()
        .filter(|f| f["rule_id"].as_str().unwrap().starts_with("t."))
        .collect()
}

/// The findings `laneguard replay` raises over the same deliveries (one file each), with the
/// example policy and `rules`.
fn replay_findings(rules: &str, deliveries: &[&String]) -> Vec<Value> {
    let dir = std::env::temp_dir().join(format!("laneguard-seq-{}-{}", std::process::id(), now_ms()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, d) in deliveries.iter().enumerate() {
        std::fs::write(dir.join(format!("{i:03}.json")), d).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["replay", "--policy", "rules/policy.toml", "--rules", rules])
        .args(["--format", "json", "--no-progress"])
        .arg(&dir)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A finding's evidence without the file and line replay adds to each origin (the function reads
/// no file).
fn evidence(f: &Value) -> Value {
    let mut e = f["evidence"].clone();
    let strip = |o: &mut Value| {
        if let Some(o) = o.as_object_mut() {
            o.remove("file");
            o.remove("line");
        }
    };
    strip(&mut e["origin"]);
    if let Some(related) = e["related"].as_array_mut() {
        related.iter_mut().for_each(strip);
    }
    e
}

fn ids(findings: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = findings
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// "Audit weakened (CloudTrail), then DDL (audit log) on the same datastore within an hour",
/// its halves seen by a CloudTrail function and an audit-log function: raised once whichever
/// half comes first, not again when a batch is redelivered to another container, once when two
/// containers complete it at the same moment — the finding (id, related evidence) replay's.
#[test]
fn a_sequence_across_functions_fires_once_in_either_order() {
    let Some(moto) = Moto::start() else { return };
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        create_table(&conf, "laneguard-state").await;
        let rules = sequence_rules("ordered");
        let raised = Captured::default();
        let ct = sequence_handlers(&conf, FunctionKind::CloudTrail, &rules, 2, &raised).await;
        let audit = sequence_handlers(&conf, FunctionKind::RdsAudit, &rules, 2, &raised).await;
        let base = jiff::Timestamp::from_second((now_ms() / 1000 - 4 * 3600) / 60 * 60).unwrap();
        let min = |m: i64| base + jiff::SignedDuration::from_mins(m);

        // CloudTrail's half first, then the audit log's: the audit function raises it.
        let ct1 = delivery(CT_GROUP, "ct-1", &[cloudtrail_record("e1", min(0), true)]);
        let au1 = delivery(
            AUDIT_GROUP,
            "audit-1",
            &[audit_line(min(10), 6000, "DROP TABLE orders")],
        );
        let n = || sequence_findings(&raised).len();
        handle_sequences(&ct[0], &ct1).await;
        assert_eq!(n(), 0);
        handle_sequences(&audit[0], &au1).await;
        assert_eq!(n(), 1);
        // Both batches redelivered, to other containers: nothing more.
        handle_sequences(&audit[1], &au1).await;
        handle_sequences(&ct[1], &ct1).await;
        handle_sequences(&audit[0], &au1).await;
        assert_eq!(n(), 1);

        // The audit log's half first (delivered before CloudTrail's, as it usually is), then
        // CloudTrail's to two containers at once: one of them raises it.
        let ct2 = delivery(CT_GROUP, "ct-2", &[cloudtrail_record("e2", min(120), true)]);
        let au2 = delivery(
            AUDIT_GROUP,
            "audit-2",
            &[audit_line(min(125), 6001, "GRANT ALL ON *.* TO x")],
        );
        handle_sequences(&audit[1], &au2).await;
        assert_eq!(n(), 1);
        let (a, b) = tokio::join!(handle_sequences(&ct[0], &ct2), handle_sequences(&ct[1], &ct2));
        let (a, b) = (a.sequences.unwrap(), b.sequences.unwrap());
        assert_eq!(n(), 2, "one container of the two: {a:?} {b:?}");
        handle_sequences(&audit[0], &au2).await;
        assert_eq!(n(), 2);

        let ours = sequence_findings(&raised);
        assert_eq!(ours.len(), 2, "{ours:#?}");
        assert!(
            ours.iter().all(|f| f["rule_id"] == "t.weak-then-ddl"),
            "{ours:#?}"
        );
        let replayed: Vec<Value> = replay_findings(&rules, &[&ct1, &au1, &ct2, &au2])
            .into_iter()
            .filter(|f| f["rule_id"].as_str().unwrap().starts_with("t."))
            .collect();
        assert_eq!(ids(&ours), ids(&replayed), "{ours:#?}\n{replayed:#?}");
        for f in &ours {
            let r = replayed.iter().find(|r| r["id"] == f["id"]).unwrap();
            for field in ["time", "first_seen", "last_seen", "count", "datastore"] {
                assert_eq!(f[field], r[field], "{field}: {f:#} vs {r:#}");
            }
            assert_eq!(evidence(f), evidence(r), "{f:#} vs {r:#}");
            assert_eq!(f["evidence"]["related"].as_array().unwrap().len(), 1, "{f:#}");
        }
    });
}

/// "A flow to a datastore with no audit record within 5 minutes around it" (the datastore's
/// audit seen working: `covered_by`), its parts seen by the VPC flow function and the audit
/// function, decided once the newest event time of a later batch — of a third function — has
/// passed the window and `late`: raised once (two containers deciding at once), not when an
/// audit record is around the flow (before it, or delivered after it), not for a datastore
/// whose audit was never seen; the finding replay's.
#[test]
fn an_absence_across_functions_is_decided_once_after_the_watermark() {
    let Some(moto) = Moto::start() else { return };
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(2)).await;
        create_table(&conf, "laneguard-state").await;
        let rules = sequence_rules("absent");
        let raised = Captured::default();
        let ct = sequence_handlers(&conf, FunctionKind::CloudTrail, &rules, 2, &raised).await;
        let audit = sequence_handlers(&conf, FunctionKind::RdsAudit, &rules, 1, &raised).await;
        let vpc = sequence_handlers(&conf, FunctionKind::VpcFlow, &rules, 1, &raised).await;
        let base = jiff::Timestamp::from_second((now_ms() / 1000 - 4 * 3600) / 60 * 60).unwrap();
        let min = |m: i64| base + jiff::SignedDuration::from_mins(m);

        // payments-db's audit works (a record at 0); flows at 1 (audited around), 20 (not), and
        // one to marketing-db, whose audit was never seen.
        let a1 = delivery(AUDIT_GROUP, "audit-1", &[audit_line(min(0), 6000, "SELECT 1")]);
        let f1 = delivery(
            FLOW_GROUP,
            "flows-1",
            &[
                flow_line("10.0.32.20", min(1)),
                flow_line("10.0.32.20", min(20)),
                flow_line("10.0.33.20", min(20)),
            ],
        );
        let n = || sequence_findings(&raised).len();
        handle_sequences(&audit[0], &a1).await;
        // The flow at 1 is decided (cancelled) at this batch's watermark (20); 20 is not yet.
        let report = handle_sequences(&vpc[0], &f1).await;
        assert_eq!(n(), 0, "{report:?}");
        // A CloudTrail batch at 40 (nothing of the rule's): the flow at 20 is due, decided
        // once although two containers decide it at the same time.
        let w1 = delivery(CT_GROUP, "ct-1", &[cloudtrail_record("w1", min(40), false)]);
        let (x, y) = tokio::join!(handle_sequences(&ct[0], &w1), handle_sequences(&ct[1], &w1));
        let sx = x.sequences.clone().unwrap();
        let sy = y.sequences.clone().unwrap();
        assert_eq!(n(), 1, "{sx:?} {sy:?}");
        assert!(sx.due_decided + sy.due_decided >= 2, "{sx:?} {sy:?}");
        assert_eq!(sx.not_covered + sy.not_covered, 1, "marketing-db: {sx:?} {sy:?}");

        // A flow at 60 whose audit record (at 62) is delivered after it, before the watermark
        // passed: cancelled when a batch at 90 decides it.
        let f2 = delivery(FLOW_GROUP, "flows-2", &[flow_line("10.0.32.20", min(60))]);
        let a2 = delivery(AUDIT_GROUP, "audit-2", &[audit_line(min(62), 6001, "SELECT 2")]);
        let w2 = delivery(CT_GROUP, "ct-2", &[cloudtrail_record("w2", min(90), false)]);
        handle_sequences(&vpc[0], &f2).await;
        handle_sequences(&audit[0], &a2).await;
        handle_sequences(&ct[1], &w2).await;
        assert_eq!(n(), 1);
        // Everything redelivered: nothing more.
        for (h, e) in [
            (&audit[0], &a1),
            (&vpc[0], &f1),
            (&ct[0], &w1),
            (&vpc[0], &f2),
            (&ct[0], &w2),
        ] {
            handle_sequences(h, e).await;
        }
        assert_eq!(n(), 1);

        let ours = sequence_findings(&raised);
        assert_eq!(ours.len(), 1, "{ours:#?}");
        assert_eq!(ours[0]["rule_id"], "t.flow-without-audit");
        assert_eq!(ours[0]["time"], min(20).to_string());
        let replayed: Vec<Value> = replay_findings(&rules, &[&a1, &f1, &w1, &f2, &a2, &w2])
            .into_iter()
            .filter(|f| f["rule_id"].as_str().unwrap().starts_with("t."))
            .collect();
        assert_eq!(ids(&ours), ids(&replayed), "{ours:#?}\n{replayed:#?}");
        assert_eq!(ours[0]["count"], replayed[0]["count"]);
        for field in ["first_seen", "last_seen", "count"] {
            assert_eq!(ours[0][field], replayed[0][field], "{field}");
        }
        assert_eq!(evidence(&ours[0]), evidence(&replayed[0]));
    });
}

/// A state table that refuses every write: the sequence a container sees whole is still raised,
/// on its own state, and the fallback is counted in the report and the health metrics.
#[test]
fn a_throttled_state_store_decides_sequences_locally() {
    let Some(moto) = Moto::start() else { return };
    let proxy = FaultProxy::start(
        moto.addr,
        vec![FaultRule {
            operation: "UpdateItem",
            faults: vec![Fault::Throttle],
            always: Arc::new(true.into()),
            from_call: 0,
        }],
    );
    runtime().block_on(async {
        let direct = sdk(&moto.url, &fast_retry(2)).await;
        create_table(&direct, "laneguard-state").await;
        let throttled = sdk(&proxy.url, &fast_retry(2)).await;
        let raised = Captured::default();
        let metrics = Captured::default();
        let rules = sequence_rules("local");
        let vars = [
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true".to_owned()),
            ("LANEGUARD_RULES", rules.clone()),
            ("LANEGUARD_STATE_TABLE", "laneguard-state".to_owned()),
            ("LANEGUARD_STDOUT_FINDINGS", "false".to_owned()),
        ];
        let handler = Handler::new(
            &function_config(FunctionKind::RdsAudit, &vars).unwrap(),
            &throttled,
        )
        .await
        .unwrap()
        .with_metrics(Some(Box::new(metrics.clone())))
        .with_stdout(Some(Box::new(raised.clone())));
        let base = jiff::Timestamp::from_second((now_ms() / 1000 - 3600) / 60 * 60).unwrap();
        let batch = delivery(
            AUDIT_GROUP,
            "audit-1",
            &[
                audit_line(base, 6000, "GRANT ALL ON *.* TO x"),
                audit_line(
                    base + jiff::SignedDuration::from_mins(5),
                    6000,
                    "DROP TABLE orders",
                ),
            ],
        );
        let report = handler.handle(batch.as_bytes()).await.unwrap();
        let s = report.sequences.clone().unwrap();
        assert!(s.store_errors >= 1 && s.decided_locally == 1, "{s:?}");
        let ours = sequence_findings(&raised);
        assert_eq!(ours.len(), 1, "{report:?}");
        let replayed: Vec<Value> = replay_findings(&rules, &[&batch])
            .into_iter()
            .filter(|f| f["rule_id"].as_str().unwrap().starts_with("t."))
            .collect();
        assert_eq!(ids(&ours), ids(&replayed));
        let lines = metrics.lines();
        let totals = lines.iter().find(|l| l.get("Records").is_some()).unwrap();
        assert_eq!(totals["SequencesDecidedLocally"], 1.0);
        assert!(totals["StateStoreErrors"].as_f64().unwrap() >= 1.0, "{totals}");
    });
}
