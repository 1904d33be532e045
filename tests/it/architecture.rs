//! Invariants of the crate graph (ARCHITECTURE.md, "Invariants"), checked over `cargo tree`:
//! the core crate depends on no AWS SDK, Lambda runtime or async runtime crate — directly or
//! through another dependency — so engine-only users and the core's own tests never compile
//! them, and no adapter code can creep into the engine unnoticed.

use std::process::Command;

/// The normal (non-dev, non-build) dependencies of `package`, one crate name per line.
fn normal_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

fn forbidden(name: &str) -> bool {
    name.starts_with("aws-") || name.starts_with("aws_") || name == "lambda_runtime" || name == "tokio"
}

#[test]
fn core_depends_on_no_aws_lambda_or_async_runtime_crate() {
    let deps = normal_dependencies("laneguard-core");
    assert!(
        deps.iter().any(|d| d == "sqlparser"),
        "cargo tree must list the core's dependencies: {deps:?}"
    );
    let bad: Vec<&String> = deps.iter().filter(|d| forbidden(d)).collect();
    assert!(bad.is_empty(), "laneguard-core depends on {bad:?}");
}

#[test]
fn the_check_sees_what_it_forbids() {
    // The adapters do depend on the SDK: the filter above is not vacuous.
    let deps = normal_dependencies("laneguard-lambda");
    for name in ["aws-config", "lambda_runtime", "tokio"] {
        assert!(deps.iter().any(|d| d == name), "{name} missing from {deps:?}");
    }
}
