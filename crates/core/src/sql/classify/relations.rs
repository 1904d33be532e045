//! The relations a statement reads or writes (`FROM`, `JOIN`, `INTO`, `UPDATE`, …).

use super::Toks;
use super::names::{cte_names, push_unique, read_name, skip_if_exists};
use crate::sql::Dialect;
use crate::sql::lexer::Kind;

pub(super) fn read_name_list(tk: &Toks<'_>, mut k: usize, objects: &mut Vec<String>, prefix: &str) {
    while let Some((name, next)) = read_name(tk, k) {
        push_unique(objects, format!("{prefix}{name}"));
        if tk.kind(next) == Some(Kind::Comma) {
            k = skip_if_exists(tk, next + 1);
        } else {
            break;
        }
    }
}

/// Tables read or written: after FROM, JOIN, INTO, UPDATE, TABLE, USING, COPY, DESCRIBE, …
pub(super) fn collect_relations(tk: &Toks<'_>, s: usize, objects: &mut Vec<String>) {
    let n = tk.len();
    let ctes = cte_names(tk.src, tk.t, tk.dialect);
    let first = tk.upper(s);
    if matches!(first.as_str(), "FETCH" | "MOVE" | "LOAD") && !tk.is_any(s + 1, &["DATA", "XML"]) {
        return;
    }
    let mut i = s;
    while i < n {
        let ctx = if tk.kind(i) == Some(Kind::Word) {
            tk.upper(i)
        } else {
            String::new()
        };
        let list = matches!(ctx.as_str(), "FROM" | "USING" | "TABLES");
        let start = match ctx.as_str() {
            "FROM" | "JOIN" | "USING" | "STRAIGHT_JOIN" => {
                if ctx == "FROM"
                    && (first == "REVOKE"
                        || first == "COPY"
                        || first == "LOAD"
                        || (i > 0 && tk.is(i - 1, "DISTINCT")))
                {
                    None
                } else {
                    Some(i + 1)
                }
            }
            "INTO"
                if !tk.is_any(i + 1, &["OUTFILE", "DUMPFILE", "STRICT", "TABLE"])
                    && tk.kind(i + 1) != Some(Kind::Var) =>
            {
                Some(i + 1)
            }
            "UPDATE" if i == s || (i > 0 && matches!(tk.kind(i - 1), Some(Kind::LParen | Kind::RParen))) => {
                let mut j = i + 1;
                while tk.is_any(j, &["LOW_PRIORITY", "IGNORE", "ONLY"]) {
                    j += 1;
                }
                Some(j)
            }
            "TABLE" if i == s || tk.is_any(i - 1, &["LOCK", "TRUNCATE", "INTO"]) => Some(i + 1),
            "TABLES" if i > 0 && tk.is(i - 1, "LOCK") => Some(i + 1),
            "COPY" | "DESCRIBE" | "DESC" if i == s => Some(i + 1),
            "EXPLAIN"
                if i == s
                    && matches!(tk.kind(i + 1), Some(Kind::Word | Kind::Quoted))
                    && !crate::sql::keywords::is_keyword(tk.text(i + 1)) =>
            {
                Some(i + 1)
            }
            "REFERENCES" => Some(i + 1),
            "DELETE" if i == s && !tk.is(i + 1, "FROM") && tk.dialect == Dialect::Mysql => Some(i + 1),
            _ => None,
        };
        if let Some(mut k) = start {
            k = skip_if_exists(tk, k);
            while let Some((name, next)) = read_name(tk, k) {
                let table_function =
                    tk.kind(next) == Some(Kind::LParen) && matches!(ctx.as_str(), "FROM" | "JOIN" | "USING");
                if !table_function && name != "dual" && !ctes.contains(&name) {
                    push_unique(objects, name);
                }
                if !list {
                    break;
                }
                // skip alias and lock modes, then a comma continues the list
                let mut m = next;
                if table_function {
                    break;
                }
                if tk.is(m, "AS") {
                    m += 1;
                }
                if matches!(tk.kind(m), Some(Kind::Word | Kind::Quoted))
                    && !crate::sql::keywords::is_keyword(tk.text(m))
                {
                    m += 1;
                }
                while tk.is_any(m, &["READ", "WRITE", "LOCAL", "LOW_PRIORITY"]) {
                    m += 1;
                }
                if tk.kind(m) == Some(Kind::Comma) {
                    k = m + 1;
                } else {
                    break;
                }
            }
        }
        i += 1;
    }
}
