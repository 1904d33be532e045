//! DDL: what is created, altered or dropped, and the flags that go with it (untrusted
//! languages, audit tampering, destructive drops).

use super::names::{dcl_or, object_type, push_unique, read_account, read_name, skip_if_exists};
use super::relations::read_name_list;
use super::statement::is_audit_word;
use super::{Toks, UNTRUSTED_LANGS, fold_name};
use crate::sql::lexer::Kind;
use crate::sql::{Dialect, Flags, StatementClass};

pub(super) fn classify_ddl(
    tk: &Toks<'_>,
    s: usize,
    verb: &str,
    flags: &mut Flags,
    objects: &mut Vec<String>,
) -> (StatementClass, String) {
    use StatementClass::*;
    let n = tk.len();
    match verb {
        "TRUNCATE" => {
            let mut i = s + 1;
            if tk.is(i, "TABLE") {
                i += 1;
            }
            i = skip_if_exists(tk, i);
            read_name_list(tk, i, objects, "");
            return (Ddl, "TRUNCATE TABLE".into());
        }
        "COMMENT" => return (Ddl, "COMMENT".into()),
        "SECURITY" => return (Dcl, "SECURITY LABEL".into()),
        "REASSIGN" => return (Dcl, "REASSIGN OWNED".into()),
        "IMPORT" => return (Ddl, "IMPORT".into()),
        _ => {}
    }
    let (ty, after) = object_type(tk, s + 1);
    let command = if ty.is_empty() {
        verb.to_string()
    } else {
        format!("{verb} {ty}")
    };
    let mut class = dcl_or(&ty, Ddl);
    if verb == "REFRESH" {
        class = Ddl;
    }
    let i = skip_if_exists(tk, after);
    match ty.as_str() {
        "TABLE" | "VIEW" | "MATERIALIZED VIEW" | "FOREIGN TABLE" => {
            if verb == "RENAME" {
                // RENAME TABLE a TO b, c TO d
                let mut k = i;
                while let Some((a, next)) = read_name(tk, k) {
                    push_unique(objects, a);
                    if tk.is(next, "TO") {
                        if let Some((b, n2)) = read_name(tk, next + 1) {
                            push_unique(objects, b);
                            if tk.kind(n2) == Some(Kind::Comma) {
                                k = n2 + 1;
                                continue;
                            }
                        }
                    }
                    break;
                }
            } else if verb == "DROP" {
                read_name_list(tk, i, objects, "");
            } else if let Some((name, _)) = read_name(tk, i) {
                push_unique(objects, name);
            }
        }
        "SCHEMA" | "DATABASE" => {
            let prefix = if ty == "DATABASE" || tk.dialect == Dialect::Mysql {
                "database:"
            } else {
                "schema:"
            };
            if tk.is(i, "AUTHORIZATION") {
                if let Some((o, _)) = read_account(tk, i + 1, true) {
                    push_unique(objects, o.replace("role:", "schema:"));
                }
            } else {
                read_name_list(tk, i, objects, prefix);
            }
        }
        "USER" | "ROLE" | "GROUP" => {
            let is_role = ty != "USER";
            let mut k = i;
            while let Some((o, next)) = read_account(tk, k, is_role) {
                push_unique(objects, o);
                let mut nx = next;
                // RENAME USER a TO b
                if verb == "RENAME" && tk.is(nx, "TO") {
                    if let Some((o2, n2)) = read_account(tk, nx + 1, is_role) {
                        push_unique(objects, o2);
                        nx = n2;
                    }
                }
                if tk.kind(nx) == Some(Kind::Comma) {
                    k = nx + 1;
                } else {
                    break;
                }
            }
            for j in i..n {
                if tk.is_any(j, &["SUPERUSER", "BYPASSRLS", "REPLICATION"]) && !tk.is(j - 1, "NO") {
                    flags.insert(Flags::SUPERUSER);
                }
            }
            if verb == "ALTER"
                && (i..n).any(|j| tk.is(j, "SET") || tk.is(j, "RESET"))
                && (i..n).any(|j| is_audit_word(tk, j))
            {
                flags.insert(Flags::AUDIT_TAMPER);
            }
        }
        "SYSTEM" | "DATABASE " => {}
        "EXTENSION" => {
            let name = tk.lower(i).trim_matches('"').to_string();
            if verb == "DROP" && name == "pgaudit" {
                flags.insert(Flags::AUDIT_TAMPER);
            }
            if UNTRUSTED_LANGS.contains(&name.as_str()) {
                flags.insert(Flags::PROGRAM_EXEC);
            }
            if [
                "dblink",
                "postgres_fdw",
                "mysql_fdw",
                "aws_s3",
                "aws_lambda",
                "log_fdw",
                "oracle_fdw",
                "tds_fdw",
                "file_fdw",
            ]
            .contains(&name.as_str())
            {
                flags.insert(Flags::EXTERNAL);
            }
            if ["plpython3u", "plperlu", "pltclu", "adminpack"].contains(&name.as_str()) {
                flags.insert(Flags::PROGRAM_EXEC);
            }
        }
        "LANGUAGE" => {
            let name = tk.lower(i).trim_matches('"').to_string();
            if UNTRUSTED_LANGS.contains(&name.as_str()) && verb == "CREATE" {
                flags.insert(Flags::PROGRAM_EXEC);
            }
        }
        "SERVER" | "FOREIGN DATA WRAPPER" | "USER MAPPING" if verb == "CREATE" || verb == "ALTER" => {
            flags.insert(Flags::EXTERNAL);
        }
        "POLICY" if verb == "DROP" => flags.insert(Flags::RLS_BYPASS),
        "INDEX" | "TRIGGER" | "POLICY" | "RULE" => {
            // the table is after ON
            if let Some(on) = (i..n).find(|&j| tk.is(j, "ON")) {
                let k = skip_if_exists(tk, on + 1);
                if let Some((name, _)) = read_name(tk, k) {
                    push_unique(objects, name);
                }
            }
        }
        _ => {}
    }
    if ty == "SYSTEM" && (i..n).any(|j| is_audit_word(tk, j)) {
        flags.insert(Flags::AUDIT_TAMPER);
    }
    if verb == "ALTER" && ty == "DATABASE" && (i..n).any(|j| is_audit_word(tk, j)) {
        flags.insert(Flags::AUDIT_TAMPER);
    }
    if verb == "ALTER" && ty == "TABLE" {
        for j in i..n {
            if tk.is(j, "DISABLE") && tk.is_any(j + 1, &["TRIGGER", "ROW"]) {
                if tk.is(j + 1, "TRIGGER") {
                    flags.insert(Flags::AUDIT_TAMPER);
                } else {
                    flags.insert(Flags::RLS_BYPASS);
                }
            }
            if tk.is(j, "NO") && tk.is(j + 1, "FORCE") && tk.is(j + 2, "ROW") {
                flags.insert(Flags::RLS_BYPASS);
            }
        }
    }
    if matches!(ty.as_str(), "FUNCTION" | "PROCEDURE") {
        for j in i..n {
            if tk.is(j, "SONAME") {
                flags.insert(Flags::PROGRAM_EXEC);
            }
            if tk.is(j, "LANGUAGE") {
                let l = fold_name(&tk.t[(j + 1).min(n - 1)], tk.src, tk.dialect);
                if UNTRUSTED_LANGS.contains(&l.as_str()) {
                    flags.insert(Flags::PROGRAM_EXEC);
                }
            }
        }
    }
    (class, command)
}
