//! Globs — of policy files (zones' hosts, principals, datastores, objects) and of rules (`glob`
//! tests) — compiled once into anchored regexes. One module, one syntax, one case rule:
//!
//! - `*` is any run of characters (separators and newlines included), `?` one character;
//!   everything else is literal, so a CIDR-, ARN- or path-like pattern never surprises its author
//!   with regex meta-characters;
//! - a glob matches the **whole** value;
//! - matching is **case-insensitive**: the values globs name — AWS identifiers and actions,
//!   host and log-group names, database users, SQL object names — are compared as people write
//!   them, and a policy or rule must not miss `DBA_alice` because it says `dba_*` (use a rule's
//!   `regex` for a case-sensitive test).
//!
//! Each list of globs becomes one regex alternation built through `RegexBuilder` with a size
//! limit (`Regex::new` is banned by `clippy.toml`): thousands of patterns fail at load time with a
//! message instead of eating memory per event.

use regex::{Regex, RegexBuilder};

/// Upper bound on the compiled size of one glob list (bytes of regex program).
const SIZE_LIMIT: usize = 4 << 20;

/// The regex source (unanchored) of one glob.
pub fn glob_source(glob: &str) -> String {
    let mut out = String::with_capacity(glob.len() + 8);
    let mut buf = [0u8; 4];
    for c in glob.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut buf))),
        }
    }
    out
}

/// The regex source of an object pattern, with the one-dot rule of DESIGN.md §4: a pattern with
/// exactly one dot (`payments.cards`) names `database.table` and also matches the same table in
/// any schema (`payments.public.cards`), so one pattern serves MySQL and PostgreSQL objects.
pub fn object_glob_source(glob: &str) -> String {
    match glob.split_once('.') {
        Some((db, table)) if !table.contains('.') => {
            format!("{}\\.(?:[^.]*\\.)?{}", glob_source(db), glob_source(table))
        }
        _ => glob_source(glob),
    }
}

/// Compile already-translated sources into one anchored, case-insensitive alternation; `None`
/// for an empty list (which matches nothing).
pub fn compile_sources(sources: &[String]) -> Result<Option<Regex>, regex::Error> {
    if sources.is_empty() {
        return Ok(None);
    }
    let mut pattern = String::from("^(?:");
    for (i, s) in sources.iter().enumerate() {
        if i > 0 {
            pattern.push('|');
        }
        pattern.push_str("(?:");
        pattern.push_str(s);
        pattern.push(')');
    }
    pattern.push_str(")$");
    RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .dot_matches_new_line(true)
        .size_limit(SIZE_LIMIT)
        .build()
        .map(Some)
}

/// Compile a list of plain globs (hosts, principals, log groups, datastore ids, rule values);
/// `None` for an empty list.
pub fn compile_globs<S: AsRef<str>>(globs: &[S]) -> Result<Option<Regex>, regex::Error> {
    let sources: Vec<String> = globs.iter().map(|g| glob_source(g.as_ref())).collect();
    compile_sources(&sources)
}

/// Whether `glob` contains a wildcard (otherwise it is matched by exact, case-insensitive lookup).
pub fn is_glob(glob: &str) -> bool {
    glob.contains(['*', '?'])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(globs: &[&str], s: &str) -> bool {
        compile_globs(globs).unwrap().is_some_and(|r| r.is_match(s))
    }

    fn obj(glob: &str, s: &str) -> bool {
        compile_sources(&[object_glob_source(glob)])
            .unwrap()
            .unwrap()
            .is_match(s)
    }

    #[test]
    fn globs_are_anchored_literal_and_case_insensitive() {
        assert!(m(&["dba_*"], "dba_alice"));
        assert!(m(&["dba_*"], "DBA_alice"));
        assert!(!m(&["dba_*"], "x_dba_alice"));
        assert!(m(&["a?c"], "abc"));
        assert!(!m(&["a?c"], "abbc"));
        assert!(m(&["10.0.0.1"], "10.0.0.1"));
        assert!(!m(&["10.0.0.1"], "10x0x0x1"), "dots are literal");
        assert!(m(&["[local]"], "[local]"));
        assert!(!m(&["[local]"], "l"), "brackets are literal");
        assert!(m(
            &["/aws/rds/instance/payments-db/*"],
            "/aws/rds/instance/payments-db/audit"
        ));
        assert!(!m(
            &["/aws/rds/instance/payments-db/*"],
            "/aws/rds/instance/payments-db2/audit"
        ));
        assert!(!m(&[] as &[&str], "x"));
        assert!(m(&["*trail*"], "my-CloudTrail-bucket"), "case-insensitive");
        assert!(m(&["a*b"], "a\nb"), "* spans newlines");
    }

    #[test]
    fn one_dot_rule() {
        assert!(obj("payments.cards", "payments.cards"));
        assert!(obj("payments.cards", "payments.public.cards"));
        assert!(obj("payments.cards", "payments.billing.cards"));
        assert!(!obj("payments.cards", "payments.a.b.cards"));
        assert!(!obj("payments.cards", "other.public.cards"));
        assert!(!obj("payments.cards", "payments.cards_old"));
        assert!(obj("payments.public.cards", "payments.public.cards"));
        assert!(
            !obj("payments.public.cards", "payments.other.cards"),
            "two dots: exact"
        );
        assert!(obj("*.users", "shop.users"));
        assert!(obj("*.users", "shop.public.users"));
        assert!(obj("marketing.*", "marketing.public.campaigns"));
    }
}
