//! Encrypted Database Activity Streams records, as RDS writes them, against moto's KMS.
//!
//! `tests/fixtures/das/make_fixtures.py` runs at test time on the real third-party encryptor (the
//! PyPI `aws-encryption-sdk`): for each stream (Aurora PostgreSQL and Aurora MySQL, each as a
//! cluster stream `aws:rds:dbc-id` and an instance stream `aws:rds:db-id`; framed and non-framed
//! bodies; the signed suite 0x0378 and the unsigned 0x0178) it asks moto's KMS for a data key
//! with the RDS encryption context, encrypts the gzip'd activity document with a raw AES keyring
//! `"BC"`/`"DataKey"` and writes the Lambda Kinesis event, the decrypted document beside it, and a
//! batch mixing good records with every kind of bad one. Our side only decrypts.
//!
//! Without the Python packages (`pip install aws-encryption-sdk boto3`, or
//! `LANEGUARD_DAS_PYTHON`) the tests print SKIP; with `CI=true` they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use laneguard_aws::RetryPolicy;
use laneguard_aws::kms::{BlockingKeys, DataKeyClient};
use laneguard_core::config::{Config, Sources};
use laneguard_core::diagnostic::DiagnosticKind;
use laneguard_core::input::InputOptions;
use laneguard_core::sources::ParseOptions;
use laneguard_lambda::{FunctionKind, Handler};
use serde_json::Value;

use super::support::{self, Fault, FaultProxy, FaultRule, Moto};
use super::{config, destinations, drain_queue, fast_retry, runtime, sdk};
use crate::common::{Run, run_paths_full};
use crate::das::rule_ids;

/// The Python that has `aws_encryption_sdk` and `boto3`: `LANEGUARD_DAS_PYTHON`, else the
/// repository's `.venv`. `None` after SKIP; a panic under `CI=true`.
fn das_python() -> Option<PathBuf> {
    let candidates = std::env::var_os("LANEGUARD_DAS_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")]);
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import aws_encryption_sdk, boto3"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(python);
        }
    }
    let msg = "no Python with aws-encryption-sdk and boto3 (set LANEGUARD_DAS_PYTHON, or `.venv/bin/pip install \
               -r tests/fixtures/das/requirements.txt`)";
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "CI=true and {msg}"
    );
    eprintln!("SKIP: {msg}");
    None
}

/// Encrypted streams made by the generator against `moto`'s KMS.
struct Streams {
    dir: ScratchDir,
    manifest: Value,
}

/// A directory of its own under the system's temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> ScratchDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("laneguard-das-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ScratchDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Streams {
    fn make(moto: &Moto) -> Option<Streams> {
        let python = das_python()?;
        let dir = ScratchDir::new();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/das/make_fixtures.py");
        let out = Command::new(python)
            .arg(script)
            .args(["--moto-endpoint", &moto.url, "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "make_fixtures.py: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest =
            serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
        Some(Streams { dir, manifest })
    }

    fn path(&self, name: &Value) -> PathBuf {
        self.dir.path().join(name.as_str().unwrap())
    }

    fn streams(&self) -> &[Value] {
        self.manifest["streams"].as_array().unwrap()
    }

    fn key_id(&self) -> String {
        self.manifest["kms_key_id"].as_str().unwrap().to_owned()
    }
}

fn engine() -> laneguard_core::engine::Engine {
    Config::load(&Sources::embedded()).unwrap().engine()
}

fn run_with_kms(paths: &[&str], keys: &mut BlockingKeys) -> Run {
    run_paths_full(
        engine(),
        &ParseOptions::default(),
        paths,
        InputOptions::default(),
        Some(keys),
    )
}

/// Decrypted documents, replayed with no AWS access.
fn run_plain(paths: &[&str]) -> Run {
    run_paths_full(
        engine(),
        &ParseOptions::default(),
        paths,
        InputOptions::default(),
        None,
    )
}

fn blocking_keys(endpoint: &str, key_id: Option<String>, resource: Option<&str>) -> BlockingKeys {
    let rt = runtime();
    let conf = rt.block_on(sdk(endpoint, &fast_retry(2)));
    BlockingKeys::new(rt, DataKeyClient::new(&conf, key_id), resource)
}

/// Every stream — both engines, cluster and instance contexts, framed and non-framed, signed and
/// unsigned — decrypts (KMS with the stream's context, our ESDK reader, gunzip) into the same
/// events and findings as the decrypted documents replayed with no AWS access, at one KMS call
/// per distinct data key.
#[test]
fn kinesis_records_decrypt_to_the_same_findings_as_the_decrypted_documents() {
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    assert_eq!(s.streams().len(), 4);
    for stream in s.streams() {
        let event = s.path(&stream["event_file"]);
        let decrypted: Vec<PathBuf> = stream["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| s.path(&r["decrypted_file"]))
            .collect();
        let mut keys = blocking_keys(&moto.url, Some(s.key_id()), None);
        let sealed = run_with_kms(&[event.to_str().unwrap()], &mut keys);
        let name = &stream["stream_name"];
        assert!(sealed.diagnostics.is_empty(), "{name}: {:#?}", sealed.diagnostics);
        // Three records, two data keys (RDS reuses a key for a while).
        assert_eq!(keys.calls(), 2, "{name}");
        assert_eq!(sealed.stats.records, 3, "{name}");
        let plain_paths: Vec<&str> = decrypted.iter().map(|p| p.to_str().unwrap()).collect();
        let plain = run_plain(&plain_paths);
        assert!(plain.diagnostics.is_empty(), "{name}: {:#?}", plain.diagnostics);
        assert!(plain.events.len() >= 9, "{name}: {}", plain.events.len());
        assert_eq!(sealed.events.len(), plain.events.len(), "{name}");
        assert_eq!(sealed.stats.skipped, plain.stats.skipped, "{name}");
        assert!(!sealed.findings.is_empty(), "{name}");
        assert_eq!(rule_ids(&sealed), rule_ids(&plain), "{name}");
        // The same events, field for field, apart from where they came from: the origin, and
        // the account and region, which the Kinesis record's stream ARN names and a decrypted
        // document alone does not.
        let strip = |run: &Run, sealed: bool| -> Vec<Value> {
            run.events
                .iter()
                .map(|e| {
                    let mut v: Value = serde_json::from_str(e).unwrap();
                    v.as_object_mut().unwrap().remove("origin");
                    let target = v["target"].as_object_mut().unwrap();
                    if sealed {
                        assert_eq!(target.remove("account"), Some(Value::from("123456789012")), "{e}");
                        assert_eq!(target.remove("region"), Some(Value::from("us-east-1")), "{e}");
                    }
                    v
                })
                .collect()
        };
        assert_eq!(strip(&sealed, true), strip(&plain, false), "{name}");
    }
}

/// Records with no stream ARN (a raw Kinesis record saved by a consumer) need the resource
/// named; the wrong resource is KMS's refusal, a diagnostic, not a crash.
#[test]
fn records_without_a_stream_need_the_resource() {
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    let stream = &s.streams()[0];
    let event: Value =
        serde_json::from_slice(&std::fs::read(s.path(&stream["event_file"])).unwrap()).unwrap();
    // The Kinesis data of each record, decoded: the record documents RDS put on the stream.
    let mut lines = String::new();
    for r in event["Records"].as_array().unwrap() {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD
            .decode(r["kinesis"]["data"].as_str().unwrap())
            .unwrap();
        lines.push_str(std::str::from_utf8(&data).unwrap());
        lines.push('\n');
    }
    let file = s.dir.path().join("records.jsonl");
    std::fs::write(&file, lines).unwrap();
    let resource = stream["resource_id"].as_str().unwrap();
    let mut keys = blocking_keys(&moto.url, None, Some(resource));
    let ok = run_with_kms(&[file.to_str().unwrap()], &mut keys);
    assert!(ok.diagnostics.is_empty(), "{:#?}", ok.diagnostics);
    assert!(ok.events.len() >= 9, "{}", ok.events.len());
    let mut keys = blocking_keys(&moto.url, None, Some("cluster-SOMEOTHERCLUSTER"));
    let wrong = run_with_kms(&[file.to_str().unwrap()], &mut keys);
    assert!(wrong.events.is_empty());
    assert_eq!(wrong.diagnostics.len(), 3, "{:#?}", wrong.diagnostics);
    assert!(
        wrong.diagnostics.iter().all(|d| d.kind == DiagnosticKind::Kms),
        "{:#?}",
        wrong.diagnostics
    );
}

/// Every bad input of the issue in one batch — a data key for another resource (wrong
/// context), the message under another key (wrong key), a flipped ciphertext bit and a flipped
/// signature bit (tampered), a message cut short, an unknown algorithm suite, a gzip bomb, a
/// plaintext that is not JSON or not gzip, a field that is not base64, a Kinesis record that is
/// not JSON — each a counted diagnostic naming its Kinesis sequence number; the good records
/// around them are processed, and in the function none of them is a batch item failure (they
/// never will succeed).
#[test]
fn every_bad_record_is_a_diagnostic_naming_its_sequence_number() {
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    let bad = &s.manifest["bad"];
    let event = s.path(&bad["event_file"]);
    let mut keys = blocking_keys(&moto.url, Some(s.key_id()), None);
    let run = run_with_kms(&[event.to_str().unwrap()], &mut keys);
    let good = run_plain(&[s.path(&bad["decrypted_file"]).to_str().unwrap()]);
    let expect = bad["records"].as_array().unwrap();
    let oks = expect.iter().filter(|r| r["expect"] == "ok").count();
    assert_eq!(oks, 2);
    assert_eq!(
        run.events.len(),
        oks * good.events.len(),
        "{:#?}",
        run.diagnostics
    );
    assert_eq!(run.stats.records, expect.len() as u64);
    let mut by_seq: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in &run.diagnostics {
        let seq = expect
            .iter()
            .map(|r| r["sequence_number"].as_str().unwrap())
            .find(|seq| d.reason.contains(seq) || d.origin.to_string().contains(seq))
            .unwrap_or_else(|| panic!("a diagnostic naming no sequence number: {d}"));
        by_seq.entry(seq.to_owned()).or_default().push(d.kind.to_string());
    }
    for r in expect {
        let seq = r["sequence_number"].as_str().unwrap();
        let got = by_seq.get(seq).cloned().unwrap_or_default();
        match r["expect"].as_str().unwrap() {
            "ok" => assert!(got.is_empty(), "{}: {got:?}", r["note"]),
            kind => assert_eq!(got, vec![kind.to_owned()], "{}", r["note"]),
        }
    }

    // The function: the same batch, no batch item failure (nothing here can pass later).
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "das-bad", "/laneguard/siem-das-bad").await;
        let conf = config(FunctionKind::Das, &d, &[("LANEGUARD_KMS_KEY_ID", &s.key_id())]);
        let handler = Handler::new(&conf, &sdk(&moto.url, &RetryPolicy::default()).await)
            .await
            .unwrap();
        let report = handler.handle(&std::fs::read(&event).unwrap()).await.unwrap();
        let report = serde_json::to_value(&report).unwrap();
        assert_eq!(report["batchItemFailures"], serde_json::json!([]), "{report}");
        assert_eq!(report["events"], run.events.len(), "{report}");
        assert_eq!(report["diagnostics"], run.diagnostics.len(), "{report}");
        assert_eq!(report["records"], expect.len(), "{report}");
        // One call per distinct (ciphertext, context): the good key, the foreign key, the second good key.
        assert_eq!(report["kms_calls"], 3, "{report}");
    });
}

/// KMS throttling that outlasts the retries: the record is reported as a batch item failure
/// (its sequence number; Kinesis resumes from it), the records before it are processed and the
/// ones after it are left for that redelivery — never processed twice, never lost. The same
/// container then processes the redelivered rest with the keys it already has.
#[test]
fn kms_throttling_is_a_batch_item_failure_and_the_retry_processes_the_rest() {
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    let stream = &s.streams()[0];
    let records = stream["records"].as_array().unwrap();
    let event_path = s.path(&stream["event_file"]);
    let event: Value = serde_json::from_slice(&std::fs::read(&event_path).unwrap()).unwrap();
    let plain = run_plain(&[s.path(&records[0]["decrypted_file"]).to_str().unwrap()]);
    let throttling = Arc::new(AtomicBool::new(false));
    // The first Decrypt (the key of records 0 and 1) passes, the second (record 2's key) is
    // throttled on every attempt while `throttling` is set.
    let proxy = FaultProxy::start(
        moto.addr,
        vec![FaultRule {
            operation: "Decrypt",
            faults: vec![Fault::Throttle],
            always: Arc::clone(&throttling),
            from_call: 1,
        }],
    );
    throttling.store(true, Ordering::SeqCst);
    let rt = runtime();
    rt.block_on(async {
        let d = destinations(&moto, "das-throttle", "/laneguard/siem-das-throttle").await;
        let conf = config(
            FunctionKind::Das,
            &d,
            &[
                ("LANEGUARD_KMS_KEY_ID", &s.key_id()),
                ("LANEGUARD_STDOUT_FINDINGS", "false"),
            ],
        );
        // KMS throttled from the first call: the first record is the one to deliver again, and
        // every record after it is left for that redelivery (deferred, not processed, not a
        // diagnostic).
        {
            let always = Arc::new(AtomicBool::new(true));
            let from_start = FaultProxy::start(
                moto.addr,
                vec![FaultRule {
                    operation: "Decrypt",
                    faults: vec![Fault::Throttle],
                    always,
                    from_call: 0,
                }],
            );
            let handler = Handler::new(&conf, &sdk(&from_start.url, &fast_retry(2)).await)
                .await
                .unwrap();
            let report = handler
                .handle(&std::fs::read(&event_path).unwrap())
                .await
                .unwrap();
            let report = serde_json::to_value(&report).unwrap();
            let first = records[0]["sequence_number"].as_str().unwrap();
            assert_eq!(
                report["batchItemFailures"],
                serde_json::json!([{ "itemIdentifier": first }]),
                "{report}"
            );
            assert_eq!(report["events"], 0, "{report}");
            assert_eq!(report["diagnostics"], 0, "{report}");
            assert_eq!(report["skipped"], 3, "{report}");
            assert_eq!(
                from_start.count("Decrypt"),
                (2, 2),
                "one key asked, twice, then no more calls"
            );
        }
        let handler = Handler::new(&conf, &sdk(&proxy.url, &fast_retry(3)).await)
            .await
            .unwrap();
        let report = handler
            .handle(&std::fs::read(&event_path).unwrap())
            .await
            .unwrap();
        let report = serde_json::to_value(&report).unwrap();
        let third = records[2]["sequence_number"].as_str().unwrap();
        assert_eq!(
            report["batchItemFailures"],
            serde_json::json!([{ "itemIdentifier": third }]),
            "{report}"
        );
        assert_eq!(report["diagnostics"], 0, "{report}");
        let first_two = report["events"].as_u64().unwrap();
        assert!(first_two >= plain.events.len() as u64, "{report}");
        let (calls, faulted) = proxy.count("Decrypt");
        assert_eq!(
            (calls, faulted),
            (4, 3),
            "one good call, then three throttled attempts"
        );

        // Kinesis redelivers from the failed record; KMS answers again.
        throttling.store(false, Ordering::SeqCst);
        let mut rest = event.clone();
        rest["Records"] = Value::Array(event["Records"].as_array().unwrap()[2..].to_vec());
        let report = handler.handle(rest.to_string().as_bytes()).await.unwrap();
        let report = serde_json::to_value(&report).unwrap();
        assert_eq!(report["batchItemFailures"], serde_json::json!([]), "{report}");
        assert_eq!(report["diagnostics"], 0, "{report}");
        assert_eq!(report["kms_calls"], 1, "{report}");
        assert_eq!(report["records"], 1, "{report}");

        // Redelivering the whole batch costs no KMS call: the container's key cache.
        let report = handler
            .handle(&std::fs::read(&event_path).unwrap())
            .await
            .unwrap();
        let report = serde_json::to_value(&report).unwrap();
        assert_eq!(report["kms_calls"], 0, "{report}");
        assert_eq!(report["batchItemFailures"], serde_json::json!([]), "{report}");
        drain_queue(&moto, &d.queue_url);
    });
}

/// The das function binary behind `cargo lambda watch`, invoked with a Lambda Kinesis event of
/// an Aurora MySQL instance stream: it decrypts through moto's KMS and publishes the findings.
#[test]
fn das_function_binary_under_cargo_lambda_watch() {
    let Some(cargo_lambda) = support::find_tool("LANEGUARD_CARGO_LAMBDA", "cargo-lambda") else {
        return;
    };
    let Some(bin) = support::built_function("LANEGUARD_DAS_FUNCTION_BIN", "laneguard-das") else {
        return;
    };
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    let stream = s
        .streams()
        .iter()
        .find(|st| st["engine"] == "mysql" && st["resource_id"].as_str().unwrap().starts_with("db-"))
        .unwrap();
    let mut keys = blocking_keys(&moto.url, None, None);
    let expected = run_with_kms(&[s.path(&stream["event_file"]).to_str().unwrap()], &mut keys);
    let rt = runtime();
    let d = rt.block_on(destinations(&moto, "das-watch", "/laneguard/siem-das-watch"));
    let key_id = s.key_id();
    let report = support::invoke_function(
        &cargo_lambda,
        &bin,
        &[
            ("AWS_ENDPOINT_URL", &moto.url),
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true"),
            ("LANEGUARD_SNS_TOPIC_ARN", &d.topic_arn),
            ("LANEGUARD_SIEM_LOG_GROUP", &d.log_group),
            ("LANEGUARD_STDOUT_FINDINGS", "false"),
            ("LANEGUARD_KMS_KEY_ID", &key_id),
        ],
        &s.path(&stream["event_file"]),
    );
    assert_eq!(report["batchItemFailures"], serde_json::json!([]), "{report}");
    assert_eq!(report["diagnostics"], 0, "{report}");
    assert_eq!(report["events"], expected.events.len(), "{report}");
    assert_eq!(report["findings"], expected.findings.len(), "{report}");
    assert_eq!(report["kms_calls"], 2, "{report}");
    let published = drain_queue(&moto, &d.queue_url);
    assert!(!published.is_empty());
    assert_eq!(report["sns"]["published"], published.len(), "{report}");
}

/// `laneguard replay --kms` on the captured Kinesis events gives the findings `laneguard
/// replay` gives on the decrypted documents; without `--kms` the encrypted records are counted
/// as unsupported, with a hint.
#[test]
fn replay_kms_matches_decrypted_replay() {
    let Some(moto) = Moto::start() else { return };
    let Some(s) = Streams::make(&moto) else { return };
    let events: Vec<PathBuf> = s.streams().iter().map(|st| s.path(&st["event_file"])).collect();
    let decrypted: Vec<PathBuf> = s
        .streams()
        .iter()
        .flat_map(|st| {
            st["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| s.path(&r["decrypted_file"]))
        })
        .collect();
    let cli = |args: &[&str], paths: &[PathBuf]| {
        let out = Command::new(env!("CARGO_BIN_EXE_laneguard"))
            .args(args)
            .args(paths)
            .env("AWS_ENDPOINT_URL", &moto.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Value = serde_json::from_str(l).unwrap();
                f["rule_id"].as_str().unwrap().to_owned()
            })
            .collect();
        ids.sort();
        (ids, stderr)
    };
    let (sealed, err) = cli(&["replay", "--format", "json", "--kms"], &events);
    assert!(err.contains(" 0 diagnostics"), "{err}");
    let (plain, err) = cli(&["replay", "--format", "json"], &decrypted);
    assert!(err.contains(" 0 diagnostics"), "{err}");
    assert!(!plain.is_empty());
    assert_eq!(sealed, plain);
    let (none, err) = cli(&["replay", "--format", "json"], &events);
    assert!(none.is_empty(), "{none:?}");
    assert!(err.contains("12 diagnostics") && err.contains("--kms"), "{err}");
}
