//! The flag scan over a whole statement: injection, file and program access, obfuscation.

use super::{Toks, fold_name, is_audit_var};
use crate::sql::Flags;
use crate::sql::lexer::Kind;

/// Flags from the token stream that hold whatever the statement's command.
pub(super) fn scan_flags(tk: &Toks<'_>, s: usize, flags: &mut Flags) {
    let n = tk.len();
    // Credential tables are inventory unless a hash column (or every column) is read.
    let mut credential_table = false;
    let mut hash_column = false;
    for i in s..n {
        let Some(kind) = tk.kind(i) else { break };
        match kind {
            Kind::Word => {
                let w = tk.lower(i);
                let call = tk.kind(i + 1) == Some(Kind::LParen);
                let qualified_by =
                    |q: &str| i >= 2 && tk.kind(i - 1) == Some(Kind::Dot) && tk.lower(i - 2) == q;
                if w == "union" {
                    let mut j = i + 1;
                    if tk.is_any(j, &["ALL", "DISTINCT"]) {
                        j += 1;
                    }
                    while tk.kind(j) == Some(Kind::LParen) {
                        j += 1;
                    }
                    if tk.is(j, "SELECT") {
                        flags.insert(Flags::UNION_SELECT);
                    }
                } else if call {
                    match w.as_str() {
                        "sleep" | "benchmark" | "pg_sleep" | "pg_sleep_for" | "pg_sleep_until"
                        | "receive_message" => flags.insert(Flags::TIME_DELAY),
                        "load_file"
                        | "pg_read_file"
                        | "pg_read_binary_file"
                        | "pg_ls_dir"
                        | "pg_stat_file"
                        | "pg_ls_logdir"
                        | "pg_ls_waldir"
                        | "pg_ls_tmpdir"
                        | "lo_import" => flags.insert(Flags::FILE_READ),
                        "lo_export" | "pg_file_write" => flags.insert(Flags::FILE_READ | Flags::FILE_WRITE),
                        "sys_exec" | "sys_eval" => flags.insert(Flags::PROGRAM_EXEC),
                        "extractvalue" | "updatexml" | "gtid_subset" | "gtid_subtract" | "name_const" => {
                            flags.insert(Flags::ERROR_BASED)
                        }
                        "exp" if tk.is_op(i + 2, "~") => flags.insert(Flags::ERROR_BASED),
                        // `SUBSTRING((SELECT …),5,1)`, `ORD(MID((SELECT …),5,1))`
                        "substring" | "substr" | "mid" | "left" | "right" | "substrc"
                            if tk.kind(i + 2) == Some(Kind::LParen) && tk.is(i + 3, "SELECT") =>
                        {
                            flags.insert(Flags::BLIND_EXTRACTION)
                        }
                        "floor" if tk.lower(i + 2) == "rand" => flags.insert(Flags::ERROR_BASED),
                        "dblink"
                        | "dblink_connect"
                        | "dblink_exec"
                        | "dblink_send_query"
                        | "query_export_to_s3"
                        | "table_import_from_s3"
                        | "lambda_async"
                        | "lambda_sync" => flags.insert(Flags::EXTERNAL),
                        "invoke" if qualified_by("aws_lambda") => flags.insert(Flags::EXTERNAL),
                        "version" | "current_setting" | "inet_server_addr" | "pg_ls_waldir_" => {
                            flags.insert(Flags::CATALOG_READ)
                        }
                        "set_config" => {
                            if let Some(t) = tk.t.get(i + 2) {
                                if t.kind == Kind::Str && is_audit_var(&fold_name(t, tk.src, tk.dialect)) {
                                    flags.insert(Flags::AUDIT_TAMPER);
                                }
                            }
                        }
                        _ => {}
                    }
                } else {
                    let schema_qualifier = tk.kind(i + 1) == Some(Kind::Dot);
                    match w.as_str() {
                        "information_schema" | "performance_schema" | "pg_catalog" => {
                            flags.insert(Flags::CATALOG_READ)
                        }
                        "sys" | "mysql" if schema_qualifier && !call => {
                            flags.insert(Flags::CATALOG_READ);
                            if w == "mysql" && matches!(tk.lower(i + 2).as_str(), "user" | "global_priv") {
                                credential_table = true;
                            }
                        }
                        "pg_shadow" | "pg_authid" => {
                            flags.insert(Flags::CATALOG_READ);
                            credential_table = true;
                        }
                        w if (w.starts_with("pg_")
                            && !schema_qualifier
                            && tk.kind(i.wrapping_sub(1)) != Some(Kind::Dot)
                            || (w.starts_with("pg_") && qualified_by("pg_catalog")))
                            && !tk.is(i.wrapping_sub(1), "EXTENSION") =>
                        {
                            flags.insert(Flags::CATALOG_READ);
                        }
                        // Hash columns: these two name nothing else; `password`, `passwd` and
                        // `priv` (MariaDB's JSON of mysql.global_priv) only with their tables.
                        "authentication_string" | "rolpassword" => flags.insert(Flags::CREDENTIAL_READ),
                        "password" | "passwd" | "priv" => hash_column = true,
                        "offset" if matches!(tk.kind(i + 1), Some(Kind::Num | Kind::Param)) => {
                            flags.insert(Flags::PAGED)
                        }
                        "limit"
                            if matches!(tk.kind(i + 1), Some(Kind::Num | Kind::Param))
                                && tk.kind(i + 2) == Some(Kind::Comma) =>
                        {
                            flags.insert(Flags::PAGED)
                        }
                        "into" if tk.is_any(i + 1, &["OUTFILE", "DUMPFILE"]) => {
                            flags.insert(Flags::INTO_OUTFILE | Flags::FILE_WRITE);
                            if tk.is(i + 2, "S3") {
                                flags.insert(Flags::EXTERNAL);
                            }
                        }
                        "infile" => flags.insert(Flags::FILE_READ),
                        "soname" => flags.insert(Flags::PROGRAM_EXEC),
                        "union" => {
                            let mut j = i + 1;
                            if tk.is_any(j, &["ALL", "DISTINCT"]) {
                                j += 1;
                            }
                            while tk.kind(j) == Some(Kind::LParen) {
                                j += 1;
                            }
                            if tk.is(j, "SELECT") {
                                flags.insert(Flags::UNION_SELECT);
                            }
                        }
                        "waitfor" if tk.is(i + 1, "DELAY") || tk.is(i + 1, "TIME") => {
                            flags.insert(Flags::TIME_DELAY)
                        }
                        _ => {}
                    }
                }
            }
            Kind::Var => {
                let v = tk.lower(i);
                let name = if v == "@@global" || v == "@@session" {
                    tk.lower(i + 2)
                } else {
                    v.trim_start_matches('@').to_string()
                };
                if [
                    "version",
                    "version_comment",
                    "hostname",
                    "datadir",
                    "basedir",
                    "secure_file_priv",
                    "plugin_dir",
                ]
                .contains(&name.as_str())
                {
                    flags.insert(Flags::CATALOG_READ);
                }
            }
            Kind::Op if tk.text(i) == "*" => {
                let prev_ok = i > 0
                    && (tk.kind(i - 1) == Some(Kind::Dot)
                        || (tk.kind(i - 1) == Some(Kind::Word)
                            && crate::sql::keywords::is_keyword(tk.text(i - 1))
                            && !tk.is_any(i - 1, &["ON", "TO", "GRANT"]))
                        || (tk.kind(i - 1) == Some(Kind::Comma) && !tk.is_any(s, &["GRANT", "REVOKE"])));
                let next_ok = i + 1 >= n
                    || matches!(tk.kind(i + 1), Some(Kind::Comma | Kind::Semi | Kind::RParen))
                    || tk.is_any(i + 1, &["FROM", "INTO"]);
                if prev_ok
                    && next_ok
                    && !tk.is_any(s, &["GRANT", "REVOKE"])
                    && tk.kind(i - 1) != Some(Kind::Dot)
                    || (prev_ok
                        && next_ok
                        && tk.kind(i - 1) == Some(Kind::Dot)
                        && !tk.is_any(s, &["GRANT", "REVOKE"]))
                {
                    flags.insert(Flags::SELECT_STAR);
                }
            }
            _ => {}
        }
    }
    // `SELECT *`, `TABLE mysql.user`, `COPY pg_authid TO …`: every column, the hash included.
    let whole_rows = flags.contains(Flags::SELECT_STAR) || tk.is_any(s, &["TABLE", "COPY"]);
    if credential_table && (hash_column || whole_rows) {
        flags.insert(Flags::CREDENTIAL_READ);
    }
    if !flags.contains(Flags::PAGED) && keyset_page(tk, s) {
        flags.insert(Flags::PAGED);
    }
}

/// A keyset page: `… WHERE k > ? … ORDER BY k … LIMIT ?` (the next page after the last key).
fn keyset_page(tk: &Toks<'_>, s: usize) -> bool {
    let n = tk.len();
    let Some(order) = (s..n).find(|&i| tk.is(i, "ORDER") && tk.is(i + 1, "BY")) else {
        return false;
    };
    if !(order..n).any(|i| tk.is_any(i, &["LIMIT", "FETCH"])) {
        return false;
    }
    // The last part of the first ORDER BY name (`t.id` → `id`).
    let mut k = order + 2;
    while tk.kind(k + 1) == Some(Kind::Dot) {
        k += 2;
    }
    if !matches!(tk.kind(k), Some(Kind::Word | Kind::Quoted)) {
        return false;
    }
    let key = tk.text(k);
    (s..order).any(|i| {
        tk.text(i).eq_ignore_ascii_case(key)
            && matches!(tk.kind(i), Some(Kind::Word | Kind::Quoted))
            && [">", ">=", "<", "<="].iter().any(|op| tk.is_op(i + 1, op))
            && matches!(tk.kind(i + 2), Some(Kind::Num | Kind::Param | Kind::Str))
    })
}
