//! Embed the default rule pack (`rules/*.toml`) and the example policy in the library, so
//! `laneguard replay samples/` works with no configuration on a fresh checkout.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("rules");
    println!("cargo:rerun-if-changed=rules");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml") && n != "policy.toml")
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let mut out =
        String::from("/// The default rule pack: (path, text) of every `rules/*.toml` but the policy.\n");
    out.push_str("pub static EMBEDDED_RULES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed=rules/{f}");
        let _ = writeln!(out, "    (\"rules/{f}\", include_str!(r\"{root}/rules/{f}\")),");
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("embedded_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}
