//! The class, command, flags and objects of one statement from its tokens, with the special
//! forms of `SET` and `GRANT`/`REVOKE`.

use super::ddl::classify_ddl;
use super::literals::first_non_paren;
use super::names::{push_unique, read_account, read_name};
use super::relations::collect_relations;
use super::scan::scan_flags;
use super::{POWER_PRIVS, StmtInfo, Toks, is_audit_var};
use crate::sql::lexer::{Kind, Token};
use crate::sql::{Dialect, Flags, StatementClass};

/// Classifies one statement from its tokens.
pub(crate) fn classify_statement(src: &str, t: &[Token], dialect: Dialect) -> StmtInfo {
    use StatementClass::*;
    let tk = Toks { src, t, dialect };
    let mut flags = Flags::empty();
    let mut objects = Vec::new();
    let s = first_non_paren(&tk);
    let k0 = tk.upper(s);
    let k1 = tk.upper(s + 1);
    let mut verb_at = s; // index of the DML verb for no_where
    let (class, command): (StatementClass, String) = match k0.as_str() {
        "SELECT" => {
            // PostgreSQL `SELECT … INTO new_table` creates a table.
            let into = (s..t.len()).find(|&i| tk.is(i, "INTO") && depth_at(&tk, s, i) == 0);
            match into {
                Some(i)
                    if dialect == Dialect::Postgres
                        && matches!(tk.kind(i + 1), Some(Kind::Word | Kind::Quoted))
                        && !tk.is_any(i + 1, &["OUTFILE", "DUMPFILE", "STRICT"]) =>
                {
                    (Ddl, "SELECT INTO".into())
                }
                _ => (Dql, "SELECT".into()),
            }
        }
        "VALUES" | "TABLE" | "HANDLER" | "FETCH" | "MOVE" | "HELP" => (Dql, k0.clone()),
        "WITH" => {
            let mut found: Option<(usize, String)> = None;
            for i in s + 1..t.len() {
                let after_paren = matches!(tk.kind(i - 1), Some(Kind::LParen | Kind::RParen));
                if after_paren && tk.is_any(i, &["INSERT", "UPDATE", "DELETE", "MERGE"])
                    || (after_paren && tk.is(i, "REPLACE") && tk.is(i + 1, "INTO"))
                {
                    found = Some((i, tk.upper(i)));
                    break;
                }
            }
            match found {
                Some((i, verb)) => {
                    verb_at = i;
                    (Dml, verb)
                }
                None => (Dql, "SELECT".into()),
            }
        }
        "INSERT" | "REPLACE" | "UPDATE" | "DELETE" | "MERGE" | "UPSERT" => (Dml, k0.clone()),
        "CALL" => {
            let name = tk.lower(s + 1);
            if name == "mysql" && tk.lower(s + 3).starts_with("rds_") {
                (Admin, "CALL".into())
            } else {
                (Dml, "CALL".into())
            }
        }
        "DO" => (Dml, "DO".into()),
        "LOAD" => match k1.as_str() {
            "DATA" | "XML" => {
                flags.insert(Flags::FILE_READ);
                if (s..t.len()).any(|i| tk.is(i, "S3")) {
                    flags.insert(Flags::EXTERNAL);
                }
                (Dml, format!("LOAD {k1}"))
            }
            "INDEX" => (Admin, "LOAD INDEX".into()),
            _ => {
                flags.insert(Flags::PROGRAM_EXEC);
                (Admin, "LOAD".into())
            }
        },
        "COPY" => {
            let mut class = Dml;
            let mut d = 0i32;
            for i in s + 1..t.len() {
                match tk.kind(i) {
                    Some(Kind::LParen) => d += 1,
                    Some(Kind::RParen) => d -= 1,
                    _ if d == 0 && tk.is_any(i, &["FROM", "TO"]) => {
                        let to = tk.is(i, "TO");
                        class = if to { Dql } else { Dml };
                        let mut j = i + 1;
                        if tk.is(j, "PROGRAM") {
                            flags.insert(Flags::PROGRAM_EXEC);
                            j += 1;
                        } else if tk.kind(j) == Some(Kind::Str) {
                            flags.insert(Flags::FILE_READ);
                            if to {
                                flags.insert(Flags::FILE_WRITE);
                            }
                        }
                        let _ = j;
                        break;
                    }
                    _ => {}
                }
            }
            (class, "COPY".into())
        }
        "SHOW" => {
            flags.insert(Flags::CATALOG_READ);
            let mut i = s + 1;
            while tk.is_any(
                i,
                &[
                    "FULL", "GLOBAL", "SESSION", "EXTENDED", "ALL", "MASTER", "SLAVE", "REPLICA", "BINARY",
                    "ENGINE", "STORAGE",
                ],
            ) && !(tk.is_any(i, &["MASTER", "SLAVE", "REPLICA", "BINARY"]) && tk.kind(i + 1).is_none())
            {
                if tk.is_any(i, &["MASTER", "SLAVE", "REPLICA", "BINARY"]) {
                    break;
                }
                i += 1;
            }
            let sub = tk.upper(i);
            if !sub.is_empty() && crate::sql::keywords::is_keyword(&sub)
                || matches!(
                    sub.as_str(),
                    "GRANTS" | "DATABASES" | "PLUGINS" | "ENGINES" | "USERS" | "ERRORS" | "PROFILES"
                )
            {
                if sub == "CREATE" {
                    (Dql, format!("SHOW CREATE {}", tk.upper(i + 1)))
                } else {
                    if sub == "GRANTS" {
                        flags.insert(Flags::CATALOG_READ);
                    }
                    (Dql, format!("SHOW {sub}"))
                }
            } else {
                (Dql, "SHOW".into())
            }
        }
        "DESCRIBE" | "DESC" | "EXPLAIN" => {
            let mut i = s + 1;
            let mut analyze = false;
            loop {
                if tk.is_any(i, &["ANALYZE", "ANALYSE"]) {
                    analyze = true;
                    i += 1;
                } else if tk.is_any(i, &["VERBOSE", "EXTENDED", "PARTITIONS", "QUERY", "PLAN"]) {
                    i += 1;
                } else if tk.is(i, "FORMAT") {
                    i += if tk.is_op(i + 1, "=") { 3 } else { 2 };
                } else if tk.kind(i) == Some(Kind::LParen) && k0 == "EXPLAIN" {
                    // PostgreSQL option list `(ANALYZE, BUFFERS)`.
                    let mut j = i + 1;
                    while j < t.len() && tk.kind(j) != Some(Kind::RParen) {
                        if tk.is_any(j, &["ANALYZE", "ANALYSE"]) && !tk.is_any(j + 1, &["FALSE", "OFF"]) {
                            analyze = true;
                        }
                        j += 1;
                    }
                    i = j + 1;
                } else {
                    break;
                }
            }
            let inner = tk.upper(i);
            if analyze
                && matches!(
                    inner.as_str(),
                    "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "REPLACE"
                )
            {
                verb_at = i;
                (Dml, "EXPLAIN ANALYZE".into())
            } else if k0 == "EXPLAIN" {
                (Dql, "EXPLAIN".into())
            } else {
                (Dql, "DESCRIBE".into())
            }
        }
        "DECLARE" => (Dql, "DECLARE CURSOR".into()),
        "CLOSE" | "DEALLOCATE" | "DISCARD" | "LISTEN" | "UNLISTEN" | "NOTIFY" => (Session, k0.clone()),
        "PREPARE" => {
            if k1 == "TRANSACTION" {
                (Tcl, "PREPARE TRANSACTION".into())
            } else if let Some(as_at) = (s..t.len()).find(|&i| tk.is(i, "AS")) {
                let inner = classify_statement(src, &t[as_at + 1..], dialect);
                flags.insert(inner.flags);
                objects = inner.objects;
                let class = if inner.class == Unparsed { Dml } else { inner.class };
                return StmtInfo {
                    class,
                    command: "PREPARE".into(),
                    flags,
                    objects,
                };
            } else {
                (Dml, "PREPARE".into())
            }
        }
        "EXECUTE" | "EXEC" => (Dml, "EXECUTE".into()),
        "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" | "ABORT" | "END" | "XA" => {
            let cmd = match k0.as_str() {
                "END" => "COMMIT",
                "ABORT" => "ROLLBACK",
                "RELEASE" => "RELEASE SAVEPOINT",
                other => other,
            };
            (Tcl, cmd.into())
        }
        "START" => match k1.as_str() {
            "TRANSACTION" => (Tcl, "START TRANSACTION".into()),
            "SLAVE" | "REPLICA" | "GROUP_REPLICATION" => (Admin, "START REPLICA".into()),
            _ => (Admin, "START".into()),
        },
        "STOP" => (Admin, "STOP REPLICA".into()),
        "LOCK" => (
            Tcl,
            if k1 == "TABLES" {
                "LOCK TABLES".into()
            } else {
                "LOCK TABLE".into()
            },
        ),
        "UNLOCK" => (Tcl, "UNLOCK TABLES".into()),
        "SET" => classify_set(&tk, s, &mut flags, &mut objects),
        "RESET" => {
            if (s + 1..t.len()).any(|i| is_audit_word(&tk, i)) {
                flags.insert(Flags::AUDIT_TAMPER);
            }
            if dialect == Dialect::Postgres
                || !matches!(
                    k1.as_str(),
                    "MASTER" | "SLAVE" | "REPLICA" | "BINARY" | "PERSIST" | "QUERY"
                )
            {
                (Session, "RESET".into())
            } else {
                (Admin, "RESET".into())
            }
        }
        "USE" => {
            if let Some((n, _)) = read_name(&tk, s + 1) {
                objects.push(format!("database:{n}"));
            }
            (Session, "USE".into())
        }
        "GRANT" | "REVOKE" => classify_grant(&tk, s, &k0, &mut flags, &mut objects),
        "CREATE" | "ALTER" | "DROP" | "RENAME" | "TRUNCATE" | "COMMENT" | "REINDEX" | "REFRESH"
        | "IMPORT" | "SECURITY" | "REASSIGN" => classify_ddl(&tk, s, &k0, &mut flags, &mut objects),
        "INSTALL" | "UNINSTALL" => {
            let ty = if k1.is_empty() {
                "PLUGIN".to_string()
            } else {
                k1.clone()
            };
            if k0 == "UNINSTALL" && tk.lower(s + 2).contains("audit") {
                flags.insert(Flags::AUDIT_TAMPER);
            }
            (Admin, format!("{k0} {ty}"))
        }
        "KILL" | "FLUSH" | "SHUTDOWN" | "RESTART" | "PURGE" | "VACUUM" | "ANALYZE" | "OPTIMIZE"
        | "REPAIR" | "CHECK" | "CHECKSUM" | "CHECKPOINT" | "CLUSTER" | "BINLOG" | "CACHE" | "CLONE" => {
            (Admin, k0.clone())
        }
        "CHANGE" => {
            if k1 == "REPLICATION" {
                (Admin, format!("CHANGE REPLICATION {}", tk.upper(s + 2)))
            } else {
                (Admin, format!("CHANGE {k1}"))
            }
        }
        "WAITFOR" => {
            flags.insert(Flags::TIME_DELAY);
            (Dql, "WAITFOR".into())
        }
        _ => (Unparsed, String::new()),
    };
    scan_flags(&tk, s, &mut flags);
    if (command == "UPDATE"
        || command == "DELETE"
        || (command == "EXPLAIN ANALYZE" && tk.is_any(verb_at, &["UPDATE", "DELETE"])))
        && !has_where(&tk, verb_at)
    {
        flags.insert(Flags::NO_WHERE);
    }
    if command == "UPDATE" && recomputes(&tk, verb_at) {
        flags.insert(Flags::RECOMPUTE);
    }
    collect_relations(&tk, s, &mut objects);
    StmtInfo {
        class,
        command,
        flags,
        objects,
    }
}

/// `UPDATE t SET a = (SELECT … WHERE x.k = t.id), b = …`: every assignment recomputes its
/// column from a subquery correlated with the updated table (a denormalized total refreshed by
/// a job), so no row loses information a constant would overwrite.
fn recomputes(tk: &Toks<'_>, verb: usize) -> bool {
    let mut i = verb + 1;
    while tk.is_any(i, &["LOW_PRIORITY", "IGNORE", "ONLY"]) {
        i += 1;
    }
    // The updated table and its alias: `customers`, `shop.customers c`, `customers AS c`.
    let mut names: Vec<&str> = Vec::new();
    while let Some(Kind::Word | Kind::Quoted) = tk.kind(i) {
        names.push(tk.text(i).trim_matches(['`', '"']));
        if tk.kind(i + 1) == Some(Kind::Dot) {
            i += 2;
        } else {
            i += 1;
            break;
        }
    }
    let Some(&table) = names.last() else {
        return false;
    };
    if tk.is(i, "AS") {
        i += 1;
    }
    let alias = (tk.kind(i) == Some(Kind::Word) && !tk.is(i, "SET")).then(|| tk.text(i));
    if alias.is_some() {
        i += 1;
    }
    if !tk.is(i, "SET") {
        return false;
    }
    // Each assignment up to the next comma at depth 0, until WHERE/FROM/RETURNING/end.
    let mut start = i + 1;
    let mut depth = 0i32;
    let mut j = start;
    loop {
        let end_here = match tk.kind(j) {
            None | Some(Kind::Semi) => true,
            Some(Kind::LParen) => {
                depth += 1;
                false
            }
            Some(Kind::RParen) => {
                depth -= 1;
                false
            }
            Some(Kind::Comma) if depth == 0 => true,
            _ => depth == 0 && tk.is_any(j, &["WHERE", "FROM", "RETURNING", "ORDER", "LIMIT"]),
        };
        if end_here {
            let correlated = (start..j).any(|k| tk.is(k, "SELECT"))
                && (start..j).any(|k| {
                    tk.kind(k + 1) == Some(Kind::Dot)
                        && (tk.text(k).trim_matches(['`', '"']).eq_ignore_ascii_case(table)
                            || alias.is_some_and(|a| tk.text(k).eq_ignore_ascii_case(a)))
                });
            if !correlated {
                return false;
            }
            if tk.kind(j) != Some(Kind::Comma) {
                return true;
            }
            start = j + 1;
        }
        j += 1;
    }
}

pub(super) fn depth_at(tk: &Toks<'_>, from: usize, to: usize) -> i32 {
    let mut d = 0;
    for i in from..to {
        match tk.kind(i) {
            Some(Kind::LParen) => d += 1,
            Some(Kind::RParen) => d -= 1,
            _ => {}
        }
    }
    d
}

pub(super) fn has_where(tk: &Toks<'_>, verb: usize) -> bool {
    let mut d = 0i32;
    for i in verb + 1..tk.len() {
        match tk.kind(i) {
            Some(Kind::LParen) => d += 1,
            Some(Kind::RParen) => {
                if d == 0 {
                    return false;
                }
                d -= 1;
            }
            _ if d == 0 && tk.is(i, "WHERE") => return true,
            _ => {}
        }
    }
    false
}

pub(super) fn is_audit_word(tk: &Toks<'_>, i: usize) -> bool {
    match tk.kind(i) {
        Some(Kind::Word) => {
            (tk.is(i, "pgaudit") && tk.kind(i + 1) == Some(Kind::Dot)) || is_audit_var(tk.text(i))
        }
        Some(Kind::Var) => is_audit_var(tk.text(i)),
        Some(Kind::Quoted) => is_audit_var(tk.text(i).trim_matches(|c| c == '"' || c == '`')),
        _ => false,
    }
}

pub(super) fn classify_set(
    tk: &Toks<'_>,
    s: usize,
    flags: &mut Flags,
    objects: &mut Vec<String>,
) -> (StatementClass, String) {
    use StatementClass::*;
    let k1 = tk.upper(s + 1);
    if (s + 1..tk.len()).any(|i| is_audit_word(tk, i)) {
        flags.insert(Flags::AUDIT_TAMPER);
    }
    match k1.as_str() {
        "PASSWORD" => {
            if tk.is(s + 2, "FOR") {
                if let Some((o, _)) = read_account(tk, s + 3, false) {
                    objects.push(o);
                }
            }
            return (Dcl, "SET PASSWORD".into());
        }
        "ROLE" => {
            if tk.dialect == Dialect::Postgres {
                if let Some((o, _)) = read_account(tk, s + 2, true) {
                    objects.push(o);
                }
            }
            return (Session, "SET ROLE".into());
        }
        "DEFAULT" if tk.is(s + 2, "ROLE") => return (Dcl, "SET DEFAULT ROLE".into()),
        "TRANSACTION" | "CONSTRAINTS" => return (Tcl, format!("SET {k1}")),
        "SESSION" if tk.is(s + 2, "AUTHORIZATION") => {
            return (Session, "SET SESSION AUTHORIZATION".into());
        }
        "SESSION" if tk.is(s + 2, "CHARACTERISTICS") => return (Tcl, "SET TRANSACTION".into()),
        _ => {}
    }
    // GLOBAL/PERSIST at the start of any assignment, or @@global.x.
    let mut d = 0i32;
    let mut at_start = true;
    for i in s + 1..tk.len() {
        match tk.kind(i) {
            Some(Kind::LParen) => d += 1,
            Some(Kind::RParen) => d -= 1,
            Some(Kind::Comma) if d == 0 => {
                at_start = true;
                continue;
            }
            _ => {}
        }
        if at_start && d == 0 {
            let global_word = tk.is_any(i, &["GLOBAL", "PERSIST", "PERSIST_ONLY"]);
            let global_var = tk.kind(i) == Some(Kind::Var) && {
                let v = tk.text(i).to_ascii_lowercase();
                v == "@@global" || v == "@@persist" || v == "@@persist_only"
            };
            if global_word || global_var {
                if k1 == "GLOBAL" && tk.is(s + 2, "TRANSACTION") {
                    return (Admin, "SET GLOBAL".into());
                }
                return (Admin, "SET GLOBAL".into());
            }
        }
        at_start = false;
    }
    (Session, "SET".into())
}

pub(super) fn classify_grant(
    tk: &Toks<'_>,
    s: usize,
    verb: &str,
    flags: &mut Flags,
    objects: &mut Vec<String>,
) -> (StatementClass, String) {
    let n = tk.len();
    // privilege (or role) list: up to ON / TO / FROM at depth 0
    let mut i = s + 1;
    if verb == "REVOKE" && tk.is(i, "GRANT") && tk.is(i + 1, "OPTION") && tk.is(i + 2, "FOR") {
        i += 3;
    }
    let list_start = i;
    let mut d = 0;
    while i < n {
        match tk.kind(i) {
            Some(Kind::LParen) => d += 1,
            Some(Kind::RParen) => d -= 1,
            _ => {}
        }
        if d == 0 && tk.is_any(i, &["ON", "TO", "FROM"]) {
            break;
        }
        i += 1;
    }
    let mut is_role_grant = true;
    for j in list_start..i {
        if verb == "GRANT" && tk.is(j, "ALL") && (j == list_start || tk.kind(j - 1) == Some(Kind::Comma)) {
            flags.insert(Flags::GRANT_ALL);
        }
        if verb == "GRANT" && tk.kind(j) == Some(Kind::Word) {
            let u = tk.upper(j);
            if POWER_PRIVS.contains(&u.as_str()) || (u == "CREATE" && tk.is(j + 1, "USER")) {
                flags.insert(Flags::SUPERUSER);
            }
        }
        if tk.kind(j) == Some(Kind::Word)
            && crate::sql::keywords::is_keyword(tk.text(j))
            && !tk.is_any(j, &["FILE", "PROCESS", "SHUTDOWN", "RELOAD"])
        {
            is_role_grant = false;
        }
    }
    if tk.is(i, "ON") {
        is_role_grant = false;
        let mut j = i + 1;
        let mut prefix = "";
        if tk.is(j, "ALL")
            && tk.is_any(
                j + 1,
                &["TABLES", "SEQUENCES", "FUNCTIONS", "PROCEDURES", "ROUTINES"],
            )
            && tk.is(j + 2, "IN")
            && tk.is(j + 3, "SCHEMA")
        {
            j += 4;
            prefix = "schema:";
        } else if tk.is_any(j, &["SCHEMA"]) {
            j += 1;
            prefix = if tk.dialect == Dialect::Mysql {
                "database:"
            } else {
                "schema:"
            };
        } else if tk.is(j, "DATABASE") {
            j += 1;
            prefix = "database:";
        } else if tk.is_any(j, &["TABLE", "VIEW", "SEQUENCE"]) {
            j += 1;
        } else if tk.is_any(
            j,
            &[
                "FUNCTION",
                "PROCEDURE",
                "ROUTINE",
                "LANGUAGE",
                "TYPE",
                "DOMAIN",
                "TABLESPACE",
                "FOREIGN",
                "LARGE",
            ],
        ) {
            prefix = "-";
        }
        if tk.is_op(j, "*") && tk.kind(j + 1) == Some(Kind::Dot) && tk.is_op(j + 2, "*") {
            flags.insert(Flags::GRANT_ALL);
        } else if prefix != "-" {
            let mut k = j;
            while let Some((name, next)) = read_name(tk, k) {
                let obj = if let Some(db) = name.strip_suffix(".*") {
                    format!("database:{db}")
                } else if name == "*" {
                    String::new()
                } else {
                    format!("{prefix}{name}")
                };
                push_unique(objects, obj);
                if tk.kind(next) == Some(Kind::Comma) {
                    k = next + 1;
                } else {
                    break;
                }
            }
        }
        while i < n && !tk.is_any(i, &["TO", "FROM"]) {
            i += 1;
        }
    }
    if is_role_grant && verb == "GRANT" {
        // Roles granted to accounts: the roles themselves are objects.
        let mut k = list_start;
        while let Some((o, next)) = read_account(tk, k, true) {
            if tk.dialect == Dialect::Mysql {
                push_unique(
                    objects,
                    o.replace("user:", "role:").trim_end_matches("@%").to_string(),
                );
            } else {
                push_unique(objects, o);
            }
            if tk.kind(next) == Some(Kind::Comma) {
                k = next + 1;
            } else {
                break;
            }
        }
    }
    // grantees
    let mut k = i + 1;
    if tk.is(k, "GROUP") || tk.is(k, "ROLE") {
        k += 1;
    }
    while let Some((o, next)) = read_account(tk, k, false) {
        push_unique(objects, o);
        if tk.kind(next) == Some(Kind::Comma) {
            k = next + 1;
        } else {
            break;
        }
    }
    for j in s..n {
        if tk.is(j, "WITH") && tk.is_any(j + 1, &["GRANT", "ADMIN"]) && tk.is(j + 2, "OPTION") {
            flags.insert(Flags::GRANT_ALL);
        }
        if tk.is(j, "TO") && tk.is(j + 1, "PUBLIC") && verb == "GRANT" {
            flags.insert(Flags::GRANT_ALL);
        }
    }
    (StatementClass::Dcl, verb.to_string())
}
