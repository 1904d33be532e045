//! Token-level analysis: statement boundaries, class and command, flags and objects.
//!
//! It works on the lexer's token stream, so it needs no successful parse: attack SQL, MySQL
//! `CREATE USER 'u'@'%'` (which sqlparser 0.64 rejects), masked passwords (`IDENTIFIED BY
//! *****`, `PASSWORD <REDACTED>`) and statements the audit engine truncated all still get a class
//! and flags (fail-closed). sqlparser refines the result when it can parse (see `ast.rs`); the
//! flags and objects here are computed for every statement, parsed or not, so a statement does
//! not change its flags because an unrelated part of it became parseable.

use std::ops::Range;

use super::lexer::{Kind, Token};
use super::{Dialect, Flags, StatementClass};

/// What the token classifier learned about one statement.
#[derive(Debug, Clone)]
pub(crate) struct StmtInfo {
    pub class: StatementClass,
    pub command: String,
    pub flags: Flags,
    pub objects: Vec<String>,
}

/// A cursor over one statement's tokens.
struct Toks<'a> {
    src: &'a str,
    t: &'a [Token],
    dialect: Dialect,
}

impl<'a> Toks<'a> {
    fn text(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.text(self.src))
    }
    fn kind(&self, i: usize) -> Option<Kind> {
        self.t.get(i).map(|t| t.kind)
    }
    /// Word at `i` equals `kw` (case-insensitive).
    fn is(&self, i: usize, kw: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.is(self.src, kw))
    }
    fn is_any(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().any(|k| self.is(i, k))
    }
    fn is_op(&self, i: usize, op: &str) -> bool {
        self.t
            .get(i)
            .is_some_and(|t| t.kind == Kind::Op && t.text(self.src) == op)
    }
    fn upper(&self, i: usize) -> String {
        if self.kind(i) == Some(Kind::Word) {
            self.text(i).to_ascii_uppercase()
        } else {
            String::new()
        }
    }
    fn lower(&self, i: usize) -> String {
        self.text(i).to_ascii_lowercase()
    }
    fn len(&self) -> usize {
        self.t.len()
    }
}

/// Token index ranges of the statements in `tokens` (split at `;` outside routine bodies).
pub(crate) fn statement_ranges(src: &str, tokens: &[Token]) -> Vec<Range<usize>> {
    let tk = Toks {
        src,
        t: tokens,
        dialect: Dialect::Generic,
    };
    let mut out = Vec::new();
    let mut start = 0;
    let mut routine = false; // CREATE … PROCEDURE/FUNCTION/TRIGGER/EVENT seen
    let mut level = 0u32; // BEGIN … END nesting inside a routine body
    for (i, tok) in tokens.iter().enumerate() {
        if i == start {
            routine = false;
            level = 0;
        }
        match tok.kind {
            Kind::Semi if level == 0 => {
                if i > start {
                    out.push(start..i);
                }
                start = i + 1;
            }
            Kind::Word => {
                if !routine
                    && tk.is_any(start, &["CREATE", "ALTER"])
                    && tk.is_any(i, &["PROCEDURE", "FUNCTION", "TRIGGER", "EVENT"])
                {
                    routine = true;
                } else if routine && (tk.is(i, "BEGIN") || (level > 0 && tk.is(i, "CASE"))) {
                    level += 1;
                } else if routine
                    && level > 0
                    && tk.is(i, "END")
                    && !tk.is_any(i + 1, &["IF", "LOOP", "WHILE", "REPEAT", "FOR"])
                {
                    level -= 1;
                }
            }
            _ => {}
        }
    }
    if start < tokens.len() {
        out.push(start..tokens.len());
    }
    out
}

/// Strips the quotes of a quoted identifier or string and folds case as the engine does.
pub(crate) fn fold_name(tok: &Token, src: &str, dialect: Dialect) -> String {
    let t = tok.text(src);
    match tok.kind {
        Kind::Word => t.to_ascii_lowercase(),
        Kind::Var => t.trim_start_matches('@').to_ascii_lowercase(),
        Kind::Quoted | Kind::Str => {
            let q = t.chars().next().unwrap_or('"');
            let inner = t.get(1..t.len().saturating_sub(1)).unwrap_or("");
            let mut s = inner.replace(&format!("{q}{q}"), &q.to_string());
            if tok.kind == Kind::Str {
                s = s.replace("\\'", "'");
            }
            if dialect == Dialect::Mysql || q == '`' || tok.kind == Kind::Str {
                s.make_ascii_lowercase();
            }
            s
        }
        _ => t.to_owned(),
    }
}

const AUDIT_VARS: &[&str] = &[
    "server_audit",
    "general_log",
    "slow_query_log",
    "sql_log_bin",
    "sql_log_off",
    "log_output",
    "log_statement",
    "log_min_",
    "log_connections",
    "log_disconnections",
    "log_error_verbosity",
    "log_line_prefix",
    "audit_log",
    "session_replication_role",
    "pgaudit",
    "rds.log",
];

/// True for a setting name whose change weakens auditing or logging.
pub(crate) fn is_audit_var(name: &str) -> bool {
    let n = name.trim_start_matches('@').to_ascii_lowercase();
    let n = n
        .strip_prefix("global.")
        .or_else(|| n.strip_prefix("session.").or_else(|| n.strip_prefix("persist.")))
        .unwrap_or(&n);
    AUDIT_VARS.iter().any(|p| n.starts_with(p))
}

const UNTRUSTED_LANGS: &[&str] = &[
    "c",
    "plpythonu",
    "plpython2u",
    "plpython3u",
    "plperlu",
    "pltclu",
    "plsh",
    "plr",
    "pllua",
    "plv8u",
];

const POWER_PRIVS: &[&str] = &[
    "SUPER",
    "FILE",
    "PROCESS",
    "SHUTDOWN",
    "RELOAD",
    "REPLICATION",
    "SYSTEM_VARIABLES_ADMIN",
    "AUDIT_ADMIN",
    "ROLE_ADMIN",
    "CONNECTION_ADMIN",
    "SET_USER_ID",
    "SET_ANY_DEFINER",
    "SYSTEM_USER",
    "BINLOG_ADMIN",
    "ENCRYPTION_KEY_ADMIN",
    "RDS_SUPERUSER",
    "RDS_SUPERUSER_ROLE",
    "RDS_SUPERUSER_ROLE",
    "PG_EXECUTE_SERVER_PROGRAM",
    "PG_READ_SERVER_FILES",
    "PG_WRITE_SERVER_FILES",
    "PG_SIGNAL_BACKEND",
    "SUPERUSER",
];

/// Flags whose truth depends on literal values, plus whether literals name identities (MySQL
/// accounts, `set_config` names, languages): both are computed on every call, cache hit or not,
/// and are part of the cache key (see `mod.rs`).
pub(crate) fn literal_features(src: &str, tokens: &[Token], dialect: Dialect) -> (Flags, bool) {
    let tk = Toks {
        src,
        t: tokens,
        dialect,
    };
    let mut flags = Flags::empty();
    let mut sensitive = false;
    let mut chr_calls = 0u32;
    let n = tokens.len();
    let mut i = 0;
    while i < n {
        let tok = tokens[i];
        match tok.kind {
            // Only words of these lengths are compared below (OR, XOR/chr, char, WHERE, HAVING,
            // LANGUAGE, set_config, current_setting): skip the rest without comparing.
            Kind::Word if matches!(tok.end.wrapping_sub(tok.start), 2..=6 | 8 | 10 | 15) => {
                let w = tok.text(src);
                if ((w.eq_ignore_ascii_case("OR") && i > 0) || w.eq_ignore_ascii_case("XOR"))
                    && tautology_at(&tk, i + 1, false)
                {
                    flags.insert(Flags::TAUTOLOGY);
                } else if w.eq_ignore_ascii_case("WHERE") || w.eq_ignore_ascii_case("HAVING") {
                    if tautology_at(&tk, i + 1, true) {
                        flags.insert(Flags::TAUTOLOGY);
                    }
                } else if tk.kind(i + 1) == Some(Kind::LParen) {
                    if w.eq_ignore_ascii_case("char") {
                        if count_args(&tk, i + 1) >= 3 {
                            flags.insert(Flags::CHAR_CHAIN);
                        }
                    } else if w.eq_ignore_ascii_case("chr") {
                        chr_calls += 1;
                    } else if w.eq_ignore_ascii_case("set_config")
                        || w.eq_ignore_ascii_case("current_setting")
                    {
                        sensitive = true;
                    }
                } else if w.eq_ignore_ascii_case("LANGUAGE") && tk.kind(i + 1) == Some(Kind::Str) {
                    sensitive = true;
                }
            }
            Kind::Op
                if tk.text(i) == "||" && dialect == Dialect::Mysql && tautology_at(&tk, i + 1, false) =>
            {
                flags.insert(Flags::TAUTOLOGY);
            }
            Kind::Op
                if tk.text(i) == "@" && i > 0 && matches!(tokens[i - 1].kind, Kind::Str | Kind::Quoted) =>
            {
                sensitive = true;
            }
            Kind::Num => {
                let t = tok.text(src);
                if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                    if hex.len() >= 8 {
                        flags.insert(Flags::HEX_LITERAL);
                    }
                    if is_sqlmap_hex(hex) {
                        flags.insert(Flags::SQLMAP_DELIMITER);
                    }
                }
            }
            Kind::Str => {
                let t = tok.text(src);
                let b = t.as_bytes();
                if matches!(b.first(), Some(b'x' | b'X')) && t.len() >= 11 {
                    flags.insert(Flags::HEX_LITERAL);
                }
                let inner = t.trim_matches(|c| c == '\'' || c == '"');
                if is_sqlmap_delim(inner) {
                    flags.insert(Flags::SQLMAP_DELIMITER);
                }
            }
            _ => {}
        }
        i += 1;
    }
    if chr_calls >= 3 {
        flags.insert(Flags::CHAR_CHAIN);
    }
    // Account names are string literals in MySQL; DCL text must not share a cache entry across
    // different accounts.
    if let Some(first) = tokens.iter().position(|t| t.kind == Kind::Word) {
        if tk.is_any(first, &["GRANT", "REVOKE", "RENAME"])
            || (tk.is_any(first, &["CREATE", "ALTER", "DROP"]) && tk.is_any(first + 1, &["USER", "ROLE"]))
            || (tk.is(first, "SET") && tk.is_any(first + 1, &["PASSWORD", "ROLE", "DEFAULT"]))
        {
            sensitive |= tokens.iter().any(|t| t.kind == Kind::Str);
        }
    }
    (flags, sensitive)
}

fn is_sqlmap_delim(s: &str) -> bool {
    // 'q' + three of zxjkvbp + 'q' at the start (sqlmap KB_CHARS_BOUNDARY_CHAR / alphabet).
    let b = s.as_bytes();
    b.len() >= 5 && b[0] == b'q' && b[4] == b'q' && b[1..4].iter().all(|c| b"zxjkvbp".contains(c))
}

fn is_sqlmap_hex(hex: &str) -> bool {
    let h = hex.to_ascii_lowercase();
    if h.len() < 10 || !h.starts_with("71") {
        return false;
    }
    let mid = [&h[2..4], &h[4..6], &h[6..8]];
    mid.iter()
        .all(|m| ["7a", "78", "6a", "6b", "76", "62", "70"].contains(m))
        && &h[8..10] == "71"
}

fn count_args(tk: &Toks<'_>, lparen: usize) -> u32 {
    let mut depth = 0u32;
    let mut args = 1u32;
    for j in lparen..tk.len() {
        match tk.kind(j) {
            Some(Kind::LParen) => depth += 1,
            Some(Kind::RParen) => {
                depth -= 1;
                if depth == 0 {
                    return args;
                }
            }
            Some(Kind::Comma) if depth == 1 => args += 1,
            _ => {}
        }
    }
    args
}

/// Literal value of a token for tautology comparison: unquoted string or number text.
fn operand_value<'a>(tk: &Toks<'a>, i: usize) -> Option<(&'a str, bool)> {
    let t = tk.t.get(i)?;
    let s = t.text(tk.src);
    match t.kind {
        Kind::Num => Some((s, true)),
        Kind::Str => {
            let q = s.find(['\'', '"'])?;
            Some((s.get(q + 1..s.len().saturating_sub(1)).unwrap_or(""), false))
        }
        Kind::Word | Kind::Quoted => Some((s, false)),
        _ => None,
    }
}

/// Is there an always-true condition at `i`? With `whole`, it must also be the whole clause.
fn tautology_at(tk: &Toks<'_>, mut i: usize, whole: bool) -> bool {
    let mut parens = 0;
    while tk.kind(i) == Some(Kind::LParen) {
        i += 1;
        parens += 1;
    }
    let end;
    if tk.is(i, "TRUE") {
        end = i + 1;
    } else if tk.is(i, "NOT") && tk.is(i + 1, "FALSE") {
        end = i + 2;
    } else if tk.kind(i) == Some(Kind::Num)
        && !matches!(tk.kind(i + 1), Some(Kind::Op))
        && !tk.is_any(i + 1, &["LIKE", "IS", "IN", "BETWEEN", "REGEXP", "RLIKE"])
    {
        // `OR 1` — a bare non-zero number is true in MySQL.
        let v = tk.text(i).parse::<f64>().unwrap_or(0.0);
        if v == 0.0 {
            return false;
        }
        end = i + 1;
    } else {
        let Some((a, a_num)) = operand_value(tk, i) else {
            return false;
        };
        let a_kind = tk.kind(i);
        if a_kind == Some(Kind::Word) && tk.t.get(i).is_some_and(|t| t.kw) {
            return false;
        }
        // The operator, upper-cased where it matters (`like`); no allocation.
        let op_text = tk.text(i + 1);
        let op = if op_text.eq_ignore_ascii_case("LIKE") {
            "LIKE"
        } else {
            op_text
        };
        let mut j = i + 2;
        let mut paren_b = 0;
        while tk.kind(j) == Some(Kind::LParen) {
            j += 1;
            paren_b += 1;
        }
        let Some((b, b_num)) = operand_value(tk, j) else {
            return false;
        };
        let b_kind = tk.kind(j);
        // Identifiers compare only with identifiers (`x=x`), literals with literals.
        let a_lit = matches!(a_kind, Some(Kind::Num | Kind::Str));
        let b_lit = matches!(b_kind, Some(Kind::Num | Kind::Str));
        if a_lit != b_lit {
            return false;
        }
        if !a_lit && (tk.kind(j + 1) == Some(Kind::Dot) || tk.kind(i + 1) == Some(Kind::Dot)) {
            return false;
        }
        let eq = if a_lit { a == b } else { a.eq_ignore_ascii_case(b) };
        let truth = match op {
            "=" | "<=>" | "==" | "LIKE" | ">=" | "<=" => {
                eq || (op == "LIKE" && b == "%") || {
                    if a_num && b_num {
                        let (x, y) = (a.parse::<f64>().unwrap_or(0.0), b.parse::<f64>().unwrap_or(1.0));
                        (op == ">=" && x >= y) || (op == "<=" && x <= y)
                    } else {
                        false
                    }
                }
            }
            "<>" | "!=" | ">" | "<" => {
                if a_num && b_num {
                    let (x, y) = (a.parse::<f64>().unwrap_or(0.0), b.parse::<f64>().unwrap_or(0.0));
                    match op {
                        ">" => x > y,
                        "<" => x < y,
                        _ => x != y,
                    }
                } else {
                    a_lit && !eq && op != ">" && op != "<"
                }
            }
            _ => false,
        };
        if !truth {
            return false;
        }
        end = j + 1 + paren_b;
        let _ = parens;
    }
    if !whole {
        return true;
    }
    let mut k = end;
    while tk.kind(k) == Some(Kind::RParen) {
        k += 1;
    }
    k >= tk.len()
        || matches!(tk.kind(k), Some(Kind::Semi | Kind::RParen))
        || tk.is_any(k, &["OR", "ORDER", "GROUP", "LIMIT", "UNION", "RETURNING", "FOR"])
}

/// Skips leading `(` and returns the index of the first token that is not one.
fn first_non_paren(tk: &Toks<'_>) -> usize {
    let mut i = 0;
    while tk.kind(i) == Some(Kind::LParen) {
        i += 1;
    }
    i
}

fn dcl_or(ty: &str, other: StatementClass) -> StatementClass {
    match ty {
        "USER" | "ROLE" | "GROUP" | "DEFAULT PRIVILEGES" | "OWNED" => StatementClass::Dcl,
        "EXTENSION" | "SERVER" | "USER MAPPING" | "SYSTEM" | "INSTANCE" | "PUBLICATION" | "SUBSCRIPTION"
        | "TABLESPACE" | "RESOURCE GROUP" | "LOGFILE GROUP" | "PLUGIN" | "COMPONENT" => StatementClass::Admin,
        _ => other,
    }
}

/// Object type after CREATE/ALTER/DROP/…: returns (type, index after it).
fn object_type(tk: &Toks<'_>, mut i: usize) -> (String, usize) {
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
fn skip_if_exists(tk: &Toks<'_>, mut i: usize) -> usize {
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
const NOT_NAMES: &[&str] = &[
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
fn read_name(tk: &Toks<'_>, mut i: usize) -> Option<(String, usize)> {
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
fn read_account(tk: &Toks<'_>, i: usize, is_role: bool) -> Option<(String, usize)> {
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

fn push_unique(objects: &mut Vec<String>, o: String) {
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
            if !sub.is_empty() && super::keywords::is_keyword(&sub)
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
    collect_relations(&tk, s, &mut objects);
    StmtInfo {
        class,
        command,
        flags,
        objects,
    }
}

fn depth_at(tk: &Toks<'_>, from: usize, to: usize) -> i32 {
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

fn has_where(tk: &Toks<'_>, verb: usize) -> bool {
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

fn is_audit_word(tk: &Toks<'_>, i: usize) -> bool {
    match tk.kind(i) {
        Some(Kind::Word) => {
            (tk.is(i, "pgaudit") && tk.kind(i + 1) == Some(Kind::Dot)) || is_audit_var(tk.text(i))
        }
        Some(Kind::Var) => is_audit_var(tk.text(i)),
        Some(Kind::Quoted) => is_audit_var(tk.text(i).trim_matches(|c| c == '"' || c == '`')),
        _ => false,
    }
}

fn classify_set(
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

fn classify_grant(
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
            && super::keywords::is_keyword(tk.text(j))
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

fn classify_ddl(
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

fn read_name_list(tk: &Toks<'_>, mut k: usize, objects: &mut Vec<String>, prefix: &str) {
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
fn collect_relations(tk: &Toks<'_>, s: usize, objects: &mut Vec<String>) {
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
                    && !super::keywords::is_keyword(tk.text(i + 1)) =>
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
                    && !super::keywords::is_keyword(tk.text(m))
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

/// Flags from the token stream that hold whatever the statement's command.
fn scan_flags(tk: &Toks<'_>, s: usize, flags: &mut Flags) {
    let n = tk.len();
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
                            if w == "mysql" && tk.lower(i + 2) == "user" {
                                flags.insert(Flags::CREDENTIAL_READ);
                            }
                        }
                        "pg_shadow" | "pg_authid" => {
                            flags.insert(Flags::CATALOG_READ | Flags::CREDENTIAL_READ)
                        }
                        w if (w.starts_with("pg_")
                            && !schema_qualifier
                            && tk.kind(i.wrapping_sub(1)) != Some(Kind::Dot)
                            || (w.starts_with("pg_") && qualified_by("pg_catalog")))
                            && !tk.is(i.wrapping_sub(1), "EXTENSION") =>
                        {
                            flags.insert(Flags::CATALOG_READ);
                        }
                        "authentication_string" | "rolpassword" => flags.insert(Flags::CREDENTIAL_READ),
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
                            && super::keywords::is_keyword(tk.text(i - 1))
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
}
