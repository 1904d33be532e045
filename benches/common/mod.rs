//! Shared by the benchmarks: corpora built from the real records of `samples/reference/`.

/// Repeat a sample file's records (without `#` notes) to about `target` bytes.
pub fn corpus(file: &str, target: usize) -> Vec<u8> {
    let path = format!("{}/samples/reference/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let (header, rest) = if file.starts_with("vpc-flow") {
        let (h, r) = body.split_once('\n').unwrap_or(("", &body));
        (format!("{h}\n"), r.to_owned())
    } else {
        (String::new(), body)
    };
    let mut out = header.into_bytes();
    while out.len() < target && !rest.is_empty() {
        out.extend_from_slice(rest.as_bytes());
    }
    out
}
