//! Fitting a JSON record into a destination's size limit instead of losing it.
//!
//! SNS takes at most 256 KiB per message and CloudWatch Logs 256 KiB per log event. A finding or
//! an OCSF record is almost always a few KiB; the rare one over the limit owes it to one or two
//! huge strings (a statement of many thousand values, a long object list). Refusing it would lose
//! the finding; splitting it would hand a consumer two halves of a JSON document. So the record is
//! kept whole and its **longest strings are cut**, longest first, each ending with [`TRUNCATED`],
//! until the rendered document fits: every key stays, the finding id, rule and severity stay, and
//! a reader sees where text was cut. A document that cannot fit that way (not JSON, or too much
//! structure besides strings) is `None`, and the sink reports it.

use serde_json::Value;

/// Ends every string cut to fit: a reader sees that the text continued.
pub const TRUNCATED: &str = "…[truncated by laneguard]";

/// Strings shorter than this are never cut (ids, names, severities): cutting them would make the
/// record useless and could not save much.
const MIN_CUT: usize = 64;

/// Rounds of cutting before giving up (one is almost always enough; escapes can need another).
const MAX_ROUNDS: usize = 8;

/// How a document is rendered (as the sink would send it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Render {
    /// `serde_json::to_string`.
    Compact,
    /// `serde_json::to_string_pretty`.
    Pretty,
}

/// `text`, a JSON document, within `limit` bytes as rendered by `render`: `Some(text)`
/// unchanged when it fits, else `Some` of the document with its longest strings cut (see the
/// module), else `None` when it cannot fit.
///
/// The cut is fair: every string longer than a common length `cap` is cut to `cap` (the largest
/// cap that saves enough), so one huge field does not leave another one whole and itself empty.
pub fn fit_json(text: &str, limit: usize, render: Render) -> Option<String> {
    if text.len() <= limit {
        return Some(text.to_owned());
    }
    let mut value: Value = serde_json::from_str(text).ok()?;
    for _ in 0..MAX_ROUNDS {
        let rendered = match render {
            Render::Compact => serde_json::to_string(&value),
            Render::Pretty => serde_json::to_string_pretty(&value),
        }
        .ok()?;
        if rendered.len() <= limit {
            return Some(rendered);
        }
        let excess = rendered.len() - limit;
        let mut strings = Vec::new();
        collect_strings(&value, String::new(), &mut strings);
        // Each raw byte cut shortens the rendering by at least one byte (escapes only make it
        // longer); each cut string gains the marker.
        let saving = |cap: usize| -> usize {
            strings
                .iter()
                .filter(|(len, _)| *len > cap + TRUNCATED.len())
                .map(|(len, _)| len - cap - TRUNCATED.len())
                .sum()
        };
        if saving(0) < excess {
            return None;
        }
        // The largest cap that saves enough (saving decreases as the cap grows).
        let (mut lo, mut hi) = (0, strings.iter().map(|(len, _)| *len).max().unwrap_or(0));
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if saving(mid) >= excess {
                lo = mid
            } else {
                hi = mid - 1
            }
        }
        for (len, pointer) in &strings {
            if *len <= lo + TRUNCATED.len() {
                continue;
            }
            if let Some(Value::String(s)) = value.pointer_mut(pointer) {
                let mut keep = lo;
                while !s.is_char_boundary(keep) {
                    keep -= 1;
                }
                s.truncate(keep);
                s.push_str(TRUNCATED);
            }
        }
    }
    None
}

/// Every string of `value` that may be cut (at least [`MIN_CUT`] bytes, not cut before): its
/// length in bytes and JSON pointer.
fn collect_strings(value: &Value, at: String, out: &mut Vec<(usize, String)>) {
    match value {
        Value::String(s) if s.len() >= MIN_CUT && !s.ends_with(TRUNCATED) => out.push((s.len(), at)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_strings(v, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                collect_strings(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fitting_document_is_unchanged() {
        let text = r#"{"a":"b"}"#;
        assert_eq!(fit_json(text, 100, Render::Compact).as_deref(), Some(text));
    }

    #[test]
    fn the_longest_strings_are_cut_with_a_marker() {
        let doc = serde_json::json!({
            "id": "f1",
            "statement": {"normalized": "x".repeat(10_000), "objects": ["é".repeat(3_000)]},
        });
        for render in [Render::Compact, Render::Pretty] {
            let out = fit_json(&doc.to_string(), 4_000, render).unwrap();
            assert!(out.len() <= 4_000, "{}", out.len());
            let v: Value = serde_json::from_str(&out).unwrap();
            assert_eq!(v["id"], "f1");
            let n = v["statement"]["normalized"].as_str().unwrap();
            assert!(n.ends_with(TRUNCATED) && n.starts_with("xxx"), "{n}");
            let o = v["statement"]["objects"][0].as_str().unwrap();
            assert!(o.ends_with(TRUNCATED) && o.starts_with("ééé"), "{o}");
            // Cut fairly: both to about the same length.
            assert!(n.len().abs_diff(o.len()) < 8, "{} {}", n.len(), o.len());
        }
    }

    #[test]
    fn what_cannot_fit_is_none() {
        assert_eq!(fit_json("not json at all, and long", 10, Render::Compact), None);
        let many: Vec<u32> = (0..10_000).collect();
        let doc = serde_json::json!({ "numbers": many }).to_string();
        assert_eq!(fit_json(&doc, 1_000, Render::Compact), None);
    }
}
