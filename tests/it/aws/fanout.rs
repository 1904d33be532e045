//! The replay fan-out on AWS, end to end on loopback: `template.yaml`'s state machine
//! definition (read by cfn-lint's own template decoder) runs on moto's Step Functions
//! interpreter — its Distributed Map lists the archive bucket with its S3 item reader, batches
//! the objects, and invokes the built replay function through the real Lambda runtime interface
//! (`cargo lambda watch`; the proxy moto's interpreter calls sends Lambda's Invoke API there);
//! its `ResultWriter` writes the map run's results to S3, and the merge step adds up the batch
//! summaries. The findings must be exactly those of `laneguard replay` over the same batches.
//! One part of the definition is replaced: moto's interpreter has no `ItemBatcher`, so the test
//! makes the same batch input with an `ItemSelector`, one object per batch.

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use laneguard_aws::aws_sdk_s3;
use serde_json::{Value, json};

use super::s3::{archive, replay, upload};
use super::support::{self, Fault, FaultProxy, FaultRule, Moto};
use super::{fast_retry, runtime, sdk};

/// Objects per batch in this test (see the `ItemSelector` below).
const BATCH: usize = 1;

/// The `Definition` of the template's `ReplayStateMachine`, as CloudFormation reads it (YAML
/// tags, anchors and aliases resolved by cfn-lint's decoder), with its substitutions made
/// (the function, `archive-bucket` and `results-bucket`).
fn template_definition(python: &std::path::Path, function_arn: &str) -> Value {
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys\nfrom cfnlint.decode import decode\nt, m = decode(sys.argv[1])\nassert not m, m\n\
             print(json.dumps(t['Resources']['ReplayStateMachine']['Properties']['Definition']))",
        ])
        .arg(crate::common::repo().join("template.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout)
        .replace("${ReplayFunctionArn}", function_arn)
        .replace("${ReplayArchiveBucket}", "archive-bucket")
        .replace("${ReplayOutputBucket}", "results-bucket");
    serde_json::from_str(&text).unwrap()
}

/// A Step Functions call (JSON protocol) to moto.
fn sfn(moto: &Moto, action: &str, input: &Value) -> Value {
    support::json_call(moto, "AWSStepFunctions", "1.0", "states", action, input)
}

/// Every object under `prefix` of `bucket`: (key, body).
fn read_all(moto: &Moto, bucket: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(3)).await;
        let s3 = laneguard_aws::s3::client(&conf);
        let mut out = Vec::new();
        for o in laneguard_aws::s3::list(&s3, bucket, prefix).await.unwrap() {
            let got = s3.get_object().bucket(bucket).key(&o.key).send().await.unwrap();
            out.push((o.key, got.body.collect().await.unwrap().to_vec()));
        }
        out
    })
}

#[test]
fn the_template_state_machine_fans_a_replay_out_on_moto() {
    let Some(cargo_lambda) = support::find_tool("LANEGUARD_CARGO_LAMBDA", "cargo-lambda") else {
        return;
    };
    let Some(python) = support::find_tool("LANEGUARD_E2E_PYTHON", "python3") else {
        return;
    };
    // The template is read by cfn-lint's decoder (installed with cfn-lint, `.ci/run`).
    let has_cfnlint = Command::new(&python)
        .args(["-c", "import cfnlint.decode"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_cfnlint {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI=true and {} has no cfn-lint",
            python.display()
        );
        eprintln!(
            "SKIP: {} has no cfn-lint (pip install cfn-lint)",
            python.display()
        );
        return;
    }
    let Some(bin) = support::built_function("LANEGUARD_REPLAY_FUNCTION_BIN", "laneguard-replay") else {
        return;
    };
    // moto's interpreter sends its own AWS calls to MOTO_PORT: the proxy, which passes them
    // to moto except Lambda's Invoke, which it sends to the function.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port().to_string();
    let Some(moto) = Moto::start_with_env(&[("MOTO_PORT", &proxy_port)]) else {
        return;
    };
    let function = support::start_function(
        &cargo_lambda,
        &bin,
        &[
            ("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{proxy_port}")),
            ("LANEGUARD_ALLOW_EXAMPLE_POLICY", "true"),
        ],
    );
    let invoke = format!("127.0.0.1:{}", function.port).parse().unwrap();
    let route = FaultRule {
        always: std::sync::Arc::new(true.into()),
        ..FaultRule::once("Invoke", vec![Fault::RouteInvoke(invoke)])
    };
    let proxy = FaultProxy::start_on(listener, moto.addr, vec![route]);
    let (status, _) = support::http(
        moto.addr,
        "POST",
        "/moto-api/config",
        &[("Content-Type", "application/json")],
        json!({"stepfunctions": {"execute_state_machine": true}})
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 201);

    let objects = archive();
    upload(&moto, "archive-bucket", &objects);
    runtime().block_on(async {
        let conf = sdk(&moto.url, &fast_retry(3)).await;
        let s3 = laneguard_aws::s3::client(&conf);
        s3.create_bucket().bucket("results-bucket").send().await.unwrap();
        // Something beside the prefix, which the map must not list.
        s3.put_object()
            .bucket("archive-bucket")
            .key("elsewhere/not-this.log")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x\n"))
            .send()
            .await
            .unwrap();
    });

    let mut definition = template_definition(
        &python,
        "arn:aws:lambda:us-east-1:123456789012:function:laneguard-replay",
    );
    let map = &mut definition["States"]["ReplayBatches"];
    assert_eq!(map["ItemReader"]["Resource"], "arn:aws:states:::s3:listObjectsV2");
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    // moto's interpreter has no `ItemBatcher`: an `ItemSelector` makes the same input
    // (`{"Items": [...], "BatchInput": ...}`, `BatchInput` resolved against the map's input as
    // the batcher resolves it), with one object per batch. The batcher's own output shape is
    // checked by `replay::tests::the_distributed_map_item_shape_parses`.
    let batcher = map.as_object_mut().unwrap().remove("ItemBatcher").unwrap();
    assert!(
        batcher["MaxItemsPerBatch"].as_u64().is_some_and(|n| n >= 1),
        "{batcher}"
    );
    map["ItemSelector"] = json!({
        "Items.$": "States.Array($$.Map.Item.Value)",
        "BatchInput": batcher["BatchInput"],
    });
    let machine = sfn(
        &moto,
        "CreateStateMachine",
        &json!({
            "name": "laneguard-replay",
            "definition": definition.to_string(),
            "roleArn": "arn:aws:iam::123456789012:role/laneguard-replay-map",
        }),
    );
    let input = json!({"Prefix": "archive/", "OutputPrefix": "replays/run-1"});
    let execution = sfn(
        &moto,
        "StartExecution",
        &json!({"stateMachineArn": machine["stateMachineArn"], "input": input.to_string()}),
    );
    let started = Instant::now();
    let done = loop {
        let d = sfn(
            &moto,
            "DescribeExecution",
            &json!({"executionArn": execution["executionArn"]}),
        );
        if d["status"] != "RUNNING" {
            break d;
        }
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "execution still running: {d}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let batches = objects.len().div_ceil(BATCH);
    assert_eq!(
        proxy.count("Invoke").0,
        batches + 1,
        "one invocation per batch, then the merge"
    );

    // The execution's output is the merged summary, also written as summary.json.
    let output: Value = serde_json::from_str(done["output"].as_str().unwrap()).unwrap();
    let results = read_all(&moto, "results-bucket", "replays/run-1/");
    let file = |key: &str| {
        results.iter().find(|(k, _)| k == key).unwrap_or_else(|| {
            panic!(
                "no {key} in {:?}",
                results.iter().map(|r| &r.0).collect::<Vec<_>>()
            )
        })
    };
    let summary: Value = serde_json::from_slice(&file("replays/run-1/summary.json").1).unwrap();
    assert_eq!(summary, output);
    assert_eq!(summary["batches"], batches);
    assert_eq!(summary["objects"], objects.len());
    assert!(
        summary["diagnostics"].as_object().unwrap().is_empty(),
        "{summary}"
    );
    // ResultWriter's manifest, in its own prefix.
    let runs = read_all(&moto, "results-bucket", "laneguard-map-runs/");
    assert!(
        runs.iter().any(|(k, _)| k.ends_with("/manifest.json")),
        "no map-run manifest in {:?}",
        runs.iter().map(|r| &r.0).collect::<Vec<_>>()
    );

    // The findings are exactly those of `laneguard replay` over each batch's objects (key
    // order, consecutive, BATCH at a time): same lines, same ids.
    let mut keys: Vec<&str> = objects.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    let scratch = std::env::temp_dir().join(format!("laneguard-fanout-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let local_lake = scratch.join("local");
    let mut expected: Vec<String> = Vec::new();
    for chunk in keys.chunks(BATCH) {
        let uris: Vec<String> = chunk.iter().map(|k| format!("s3://archive-bucket/{k}")).collect();
        let mut args: Vec<&str> = vec!["--ocsf-dir", local_lake.to_str().unwrap()];
        args.extend(uris.iter().map(String::as_str));
        let (out, findings) = replay(&moto, &args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        expected.extend(findings.iter().map(Value::to_string));
    }
    let lines = |dir: &str| -> Vec<String> {
        let mut all: Vec<String> = results
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("replays/run-1/{dir}/")))
            .flat_map(|(_, body)| {
                String::from_utf8_lossy(body)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort();
        all
    };
    let mut found: Vec<String> = lines("findings")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap().to_string())
        .collect();
    found.sort();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
    assert_eq!(summary["findings"], expected.len());
    // The OCSF findings, in the Security Lake layout of `replay --ocsf-dir`: the same findings,
    // by id, in the same partitions, as `tune --compare` against the local replay's shows.
    let ocsf = lines("ext");
    assert_eq!(ocsf.len(), expected.len());
    let fanout_lake = scratch.join("fanout");
    for (key, body) in &results {
        if let Some(rel) = key.strip_prefix("replays/run-1/ext/") {
            assert!(rel.starts_with("laneguard/region="), "{key}");
            assert!(rel.contains("/accountId=") && rel.contains("/eventDay="), "{key}");
            let path = fanout_lake.join("ext").join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, body).unwrap();
        }
    }
    let partitions =
        |root: &std::path::Path| -> std::collections::BTreeSet<String> { walk_dirs(&root.join("ext")) };
    assert_eq!(partitions(&fanout_lake), partitions(&local_lake));
    let compare = Command::new(env!("CARGO_BIN_EXE_laneguard"))
        .args(["tune", "--compare"])
        .arg(&local_lake)
        .arg(&fanout_lake)
        .args(["--format", "json", "--fail-on-change"])
        .output()
        .unwrap();
    assert!(
        compare.status.success(),
        "{}",
        String::from_utf8_lossy(&compare.stderr)
    );
    let v: Value = serde_json::from_slice(&compare.stdout).unwrap();
    let kept: u64 = v["rules"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["kept"].as_u64().unwrap())
        .sum();
    assert_eq!(kept, expected.len() as u64, "{v}");
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(
        results.iter().filter(|(k, _)| k.contains("/summaries/")).count(),
        batches
    );
}

/// The directories under `root` that hold files, relative to it (a lake's partitions).
fn walk_dirs(root: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(dir.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out
}
