//! Embed the default rule pack (`rules/*.toml` at the top of the workspace) in the library, so
//! `laneguard replay samples/` works with no configuration on a fresh checkout. (The example
//! policy is embedded by `include_str!` in `policy/mod.rs`.)

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    // The pack lives at the top of the workspace, two levels above this crate.
    let root = Path::new(&manifest).join("../..");
    let dir = root.join("rules");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".toml") && n != "policy.toml")
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out =
        String::from("/// The default rule pack: (path, text) of every `rules/*.toml` but the policy.\n");
    out.push_str("pub static EMBEDDED_RULES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
        let _ = writeln!(
            out,
            "    (\"rules/{f}\", include_str!(r\"{}\")),",
            dir.join(f).display()
        );
    }
    out.push_str("];\n");
    // Where each file's `[[tests]]` section starts, when everything from there on is tests:
    // the engine compiles the rule part alone and parses the tests only when they are run.
    out.push_str(
        "/// Byte offset of each embedded file's trailing `[[tests]]` section (its length when it has none).\n",
    );
    out.push_str("pub static EMBEDDED_TESTS_AT: &[usize] = &[\n");
    for f in &files {
        let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
        let _ = writeln!(out, "    {},", tests_at(&text));
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join("embedded_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        println!("cargo:warning=cannot write {}: {e}", dest.display());
    }
}

/// Offset of the first `[[tests]]` line when every table header after it is a tests table
/// (`[[tests]]`, `[tests.…]`); the text's length otherwise (nothing is deferred then). Lines
/// that merely start with `[` inside a multi-line string only make this more conservative.
fn tests_at(text: &str) -> usize {
    let mut offset = 0;
    let mut start = None;
    for line in text.split_inclusive('\n') {
        let head = line.trim_start();
        if start.is_none() && head.starts_with("[[tests]]") {
            start = Some(offset);
        } else if start.is_some()
            && head.starts_with('[')
            && !head.starts_with("[[tests]]")
            && !head.starts_with("[tests.")
        {
            return text.len();
        }
        offset += line.len();
    }
    start.unwrap_or(text.len())
}
