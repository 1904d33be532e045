//! Names: object types, object and account names read off the tokens, CTE names.

use super::{Toks, fold_name};
use crate::sql::lexer::{Kind, Token};
use crate::sql::{Dialect, StatementClass};

pub(super) fn dcl_or(ty: &str, other: StatementClass) -> StatementClass {
    match ty {
        "USER" | "ROLE" | "GROUP" | "DEFAULT PRIVILEGES" | "OWNED" => StatementClass::Dcl,
        "EXTENSION" | "SERVER" | "USER MAPPING" | "SYSTEM" | "INSTANCE" | "PUBLICATION" | "SUBSCRIPTION"
        | "TABLESPACE" | "RESOURCE GROUP" | "LOGFILE GROUP" | "PLUGIN" | "COMPONENT" => StatementClass::Admin,
        _ => other,
    }
}

/// Object type after CREATE/ALTER/DROP/…: returns (type, index after it).
pub(super) fn object_type(tk: &Toks<'_>, mut i: usize) -> (String, usize) {
    // Modifiers that may sit between the verb and the type.
    loop {
        if tk.is(i, "OR") && tk.is_any(i + 1, &["REPLACE", "ALTER"]) {
            i += 2;
        } else if tk.is_any(
            i,
            &[
                "TEMPORARY",
                "TEMP",
                "UNIQUE",
                "GLOBAL",
                "LOCAL",
                "UNLOGGED",
                "ONLINE",
                "OFFLINE",
                "IGNORE",
                "FULLTEXT",
                "SPATIAL",
                "RECURSIVE",
                "TRUSTED",
                "PROCEDURAL",
                "AGGREGATE",
                "CONSTRAINT",
                "EXTERNAL",
                "VOLATILE",
                "NONCLUSTERED",
                "CLUSTERED",
            ],
        ) {
            i += 1;
        } else if tk.is_any(i, &["DEFINER", "ALGORITHM"]) && tk.is_op(i + 1, "=") {
            i += 2;
            // value: CURRENT_USER[()] | 'u'@'h' | u@h | word
            i += 1;
            if tk.kind(i) == Some(Kind::LParen) && tk.kind(i + 1) == Some(Kind::RParen) {
                i += 2;
            }
            if tk.is_op(i, "@") {
                i += 2;
            } else if tk.kind(i) == Some(Kind::Var) {
                i += 1;
            }
        } else if tk.is(i, "SQL") && tk.is(i + 1, "SECURITY") {
            i += 3;
        } else {
            break;
        }
    }
    let two: &[(&str, &str)] = &[
        ("MATERIALIZED", "VIEW"),
        ("USER", "MAPPING"),
        ("FOREIGN", "TABLE"),
        ("DEFAULT", "PRIVILEGES"),
        ("RESOURCE", "GROUP"),
        ("LOGFILE", "GROUP"),
        ("EVENT", "TRIGGER"),
        ("ACCESS", "METHOD"),
        ("TEXT", "SEARCH"),
        ("OPERATOR", "CLASS"),
        ("OPERATOR", "FAMILY"),
    ];
    for (a, b) in two {
        if tk.is(i, a) && tk.is(i + 1, b) {
            if *a == "FOREIGN" {
                return ("FOREIGN TABLE".into(), i + 2);
            }
            return (format!("{a} {b}"), i + 2);
        }
    }
    if tk.is(i, "FOREIGN") && tk.is(i + 1, "DATA") && tk.is(i + 2, "WRAPPER") {
        return ("FOREIGN DATA WRAPPER".into(), i + 3);
    }
    const TYPES: &[&str] = &[
        "TABLE",
        "VIEW",
        "INDEX",
        "SCHEMA",
        "DATABASE",
        "FUNCTION",
        "PROCEDURE",
        "TRIGGER",
        "EVENT",
        "SEQUENCE",
        "TYPE",
        "DOMAIN",
        "EXTENSION",
        "USER",
        "ROLE",
        "GROUP",
        "LANGUAGE",
        "SERVER",
        "POLICY",
        "RULE",
        "PUBLICATION",
        "SUBSCRIPTION",
        "TABLESPACE",
        "CAST",
        "OPERATOR",
        "COLLATION",
        "CONVERSION",
        "SYSTEM",
        "INSTANCE",
        "STATISTICS",
        "OWNED",
        "PLUGIN",
        "COMPONENT",
        "TABLES",
        "ROUTINE",
        "MACRO",
        "SYNONYM",
        "PACKAGE",
    ];
    if tk.is_any(i, TYPES) {
        let mut ty = tk.upper(i);
        if ty == "TABLES" {
            ty = "TABLE".into();
        }
        return (ty, i + 1);
    }
    (String::new(), i)
}

/// Skips `IF [NOT] EXISTS` and `ONLY`.
pub(super) fn skip_if_exists(tk: &Toks<'_>, mut i: usize) -> usize {
    if tk.is(i, "IF") {
        i += 1;
        if tk.is(i, "NOT") {
            i += 1;
        }
        if tk.is(i, "EXISTS") {
            i += 1;
        }
    }
    while tk.is_any(i, &["ONLY", "CONCURRENTLY"]) {
        i += 1;
    }
    i
}

/// Words that cannot start a relation name where one is expected.
pub(super) const NOT_NAMES: &[&str] = &[
    "SELECT",
    "WITH",
    "VALUES",
    "SET",
    "WHERE",
    "ON",
    "USING",
    "JOIN",
    "LEFT",
    "RIGHT",
    "INNER",
    "OUTER",
    "CROSS",
    "NATURAL",
    "FULL",
    "AS",
    "TO",
    "FROM",
    "IF",
    "LATERAL",
    "ORDER",
    "GROUP",
    "LIMIT",
    "UNION",
    "INTO",
    "DEFAULT",
    "TABLE",
    "ALL",
    "DISTINCT",
    "BY",
    "HAVING",
    "WINDOW",
    "FOR",
    "AND",
    "OR",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "RETURNING",
    "LOCAL",
    "READ",
    "WRITE",
    "STDIN",
    "STDOUT",
    "PROGRAM",
    "OUTFILE",
    "DUMPFILE",
    "IDENTIFIED",
    "EXCEPT",
    "INTERSECT",
    "OFFSET",
    "FETCH",
    "PARTITION",
    "IGNORE",
    "REPLACE",
    "LOW_PRIORITY",
    "HIGH_PRIORITY",
    "DELAYED",
    "QUICK",
    "UPDATE",
    "DELETE",
    "INSERT",
    "CASCADE",
    "RESTRICT",
    "ONLY",
    "ROW",
    "ROWS",
    "TRUE",
    "FALSE",
    "LOCK",
    "SHARE",
    "NOWAIT",
    "SKIP",
];

/// Reads a dotted name at `i`; returns (name, next index).
pub(super) fn read_name(tk: &Toks<'_>, mut i: usize) -> Option<(String, usize)> {
    let mut parts: Vec<String> = Vec::new();
    loop {
        let t = tk.t.get(i)?;
        match t.kind {
            Kind::Word if parts.is_empty() && tk.is_any(i, NOT_NAMES) => {
                return None;
            }
            Kind::Word | Kind::Quoted => parts.push(fold_name(t, tk.src, tk.dialect)),
            Kind::Op if tk.text(i) == "*" && !parts.is_empty() => parts.push("*".into()),
            _ => return None,
        }
        i += 1;
        if tk.kind(i) == Some(Kind::Dot) {
            i += 1;
        } else {
            break;
        }
    }
    Some((parts.join("."), i))
}

/// Reads an account (`'u'@'h'`, `u@h`, `"role"`, `role`); returns (object, next index).
pub(super) fn read_account(tk: &Toks<'_>, i: usize, is_role: bool) -> Option<(String, usize)> {
    let t = tk.t.get(i)?;
    if !matches!(t.kind, Kind::Word | Kind::Quoted | Kind::Str) {
        return None;
    }
    if t.kind == Kind::Word && tk.is_any(i, &["IF", "WITH", "IDENTIFIED", "FROM", "TO", "ON"]) {
        return None;
    }
    let name = fold_name(t, tk.src, tk.dialect);
    if tk.dialect == Dialect::Postgres
        || (tk.dialect == Dialect::Generic && !tk.is_op(i + 1, "@") && tk.kind(i + 1) != Some(Kind::Var))
    {
        let name = if t.kind == Kind::Word {
            name.to_ascii_lowercase()
        } else {
            name
        };
        return Some((format!("role:{name}"), i + 1));
    }
    if tk.is_op(i + 1, "@") {
        if let Some(h) = tk.t.get(i + 2) {
            let host = fold_name(h, tk.src, tk.dialect);
            return Some((format!("user:{name}@{host}"), i + 3));
        }
    }
    if tk.kind(i + 1) == Some(Kind::Var) {
        let host = tk.text(i + 1).trim_start_matches('@').to_ascii_lowercase();
        return Some((format!("user:{name}@{host}"), i + 2));
    }
    if is_role {
        Some((format!("role:{name}"), i + 1))
    } else {
        Some((format!("user:{name}@%"), i + 1))
    }
}

pub(super) fn push_unique(objects: &mut Vec<String>, o: String) {
    if !o.is_empty() && !objects.contains(&o) {
        objects.push(o);
    }
}

/// Names defined by `WITH name AS (…)` in the statement (not real tables).
pub(crate) fn cte_names(tk_src: &str, tokens: &[Token], dialect: Dialect) -> Vec<String> {
    let tk = Toks {
        src: tk_src,
        t: tokens,
        dialect,
    };
    let mut names = Vec::new();
    for i in 0..tokens.len() {
        if tk.is(i, "WITH") || (tk.kind(i) == Some(Kind::Comma) && !names.is_empty()) {
            let mut j = i + 1;
            if tk.is(j, "RECURSIVE") {
                j += 1;
            }
            if let Some((n, mut k)) = read_name(&tk, j) {
                if tk.kind(k) == Some(Kind::LParen) {
                    // column list
                    while k < tk.len() && tk.kind(k) != Some(Kind::RParen) {
                        k += 1;
                    }
                    k += 1;
                }
                if tk.is(k, "AS") {
                    names.push(n);
                }
            }
        }
    }
    names
}
