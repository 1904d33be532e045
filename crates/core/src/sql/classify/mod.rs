//! Token-level analysis: statement boundaries, class and command, flags and objects.
//!
//! It works on the lexer's token stream, so it needs no successful parse: attack SQL, MySQL
//! `CREATE USER 'u'@'%'` (which sqlparser 0.64 rejects), masked passwords (`IDENTIFIED BY
//! *****`, `PASSWORD <REDACTED>`) and statements the audit engine truncated all still get a class
//! and flags (fail-closed). sqlparser refines the result when it can parse (see `ast.rs`); the
//! flags and objects here are computed for every statement, parsed or not, so a statement does
//! not change its flags because an unrelated part of it became parseable.

use std::ops::Range;

mod catalog;
mod ddl;
mod dynamic;
mod literals;
mod names;
mod relations;
mod scan;
mod statement;

pub(crate) use catalog::catalog_read;
pub(crate) use literals::literal_features;
pub(crate) use names::cte_names;
pub(crate) use statement::classify_statement;

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
pub(super) struct Toks<'a> {
    pub(super) src: &'a str,
    pub(super) t: &'a [Token],
    pub(super) dialect: Dialect,
}

impl<'a> Toks<'a> {
    pub(super) fn text(&self, i: usize) -> &'a str {
        self.t.get(i).map_or("", |t| t.text(self.src))
    }
    pub(super) fn kind(&self, i: usize) -> Option<Kind> {
        self.t.get(i).map(|t| t.kind)
    }
    /// Word at `i` equals `kw` (case-insensitive).
    pub(super) fn is(&self, i: usize, kw: &str) -> bool {
        self.t.get(i).is_some_and(|t| t.is(self.src, kw))
    }
    pub(super) fn is_any(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().any(|k| self.is(i, k))
    }
    pub(super) fn is_op(&self, i: usize, op: &str) -> bool {
        self.t
            .get(i)
            .is_some_and(|t| t.kind == Kind::Op && t.text(self.src) == op)
    }
    pub(super) fn upper(&self, i: usize) -> String {
        if self.kind(i) == Some(Kind::Word) {
            self.text(i).to_ascii_uppercase()
        } else {
            String::new()
        }
    }
    pub(super) fn lower(&self, i: usize) -> String {
        self.text(i).to_ascii_lowercase()
    }
    pub(super) fn len(&self) -> usize {
        self.t.len()
    }
    /// The `)` closing the group that opens at `lparen` (`len()` when it is not closed) and the
    /// number of arguments in it (commas at its top level, plus one).
    pub(super) fn group_end(&self, lparen: usize) -> (usize, u32) {
        let mut depth = 0u32;
        let mut args = 1u32;
        for j in lparen..self.len() {
            match self.kind(j) {
                Some(Kind::LParen) => depth += 1,
                Some(Kind::RParen) => {
                    depth -= 1;
                    if depth == 0 {
                        return (j, args);
                    }
                }
                Some(Kind::Comma) if depth == 1 => args += 1,
                _ => {}
            }
        }
        (self.len(), args)
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

pub(super) const AUDIT_VARS: &[&str] = &[
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

pub(super) const UNTRUSTED_LANGS: &[&str] = &[
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

pub(super) const POWER_PRIVS: &[&str] = &[
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
