//! Dynamic SQL: statements that run text made at run time, and the string assembly that feeds
//! them — where the command an attacker runs never appears as written (`SET @s =
//! CONCAT('DR','OP TABLE t'); PREPARE st FROM @s`, `DO $$ BEGIN EXECUTE format('DROP TABLE %I',
//! …); END $$`).
//!
//! The text being assembled is made of string literals, so these flags depend on literal values:
//! they are computed in the literal pass on every call (see `literals.rs`) and are part of the
//! analysis cache key. The scan runs only when a trigger word was seen (`is_trigger_word`, or a
//! string literal followed by `||`); it allocates only to lex the body of a `DO` block or a
//! function written in single quotes with doubled quotes inside, which applications do not send
//! at volume.

use std::borrow::Cow;

use super::Toks;
use crate::sql::lexer::{Kind, Lexer};
use crate::sql::{Dialect, Flags};

/// Statement verbs: text that starts with one of them is SQL.
const COMMANDS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "REPLACE",
    "MERGE",
    "CALL",
    "DO",
    "EXECUTE",
    "COPY",
    "LOAD",
    "SET",
    "SHOW",
    "HANDLER",
    "PREPARE",
    "DEALLOCATE",
    "KILL",
    "SHUTDOWN",
    "INSTALL",
    "UNINSTALL",
    "LOCK",
    "UNLOCK",
    "FLUSH",
    "RESET",
    "PURGE",
    "VACUUM",
    "COMMENT",
    "WITH",
    "VALUES",
    "TABLE",
    "DESCRIBE",
    "EXPLAIN",
];

/// Verbs that change schema or privileges.
const DDL_VERBS: &[&str] = &["DROP", "CREATE", "ALTER", "TRUNCATE", "RENAME", "GRANT", "REVOKE"];

/// What may follow a DDL verb (`DROP TABLE`, `CREATE OR REPLACE`, `ALTER USER`, …).
const DDL_OBJECTS: &[&str] = &[
    "TABLE",
    "DATABASE",
    "SCHEMA",
    "USER",
    "ROLE",
    "INDEX",
    "VIEW",
    "FUNCTION",
    "PROCEDURE",
    "TRIGGER",
    "EVENT",
    "SEQUENCE",
    "EXTENSION",
    "POLICY",
    "OWNED",
    "TABLESPACE",
    "SERVER",
    "TYPE",
    "DOMAIN",
    "MATERIALIZED",
    "TEMPORARY",
    "TEMP",
    "UNIQUE",
    "OR",
    "IF",
    "DEFINER",
    "ALGORITHM",
    "AGGREGATE",
    "LANGUAGE",
    "PUBLICATION",
    "SUBSCRIPTION",
    "FOREIGN",
    "PLUGIN",
    "TABLES",
    "COLUMN",
    "ONLY",
];

/// Bodies nest (`DO $a$ … EXECUTE $b$ … $b$ … $a$`); this deep and no deeper.
const MAX_BODY_DEPTH: u8 = 2;

/// Words whose presence makes the literal pass run [`dynamic_features`].
pub(super) fn is_trigger_word(w: &str) -> bool {
    matches!(w.len(), 2 | 6 | 7 | 9)
        && ["DO", "PREPARE", "EXECUTE", "CONCAT", "CONCAT_WS", "FORMAT"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
}

/// The first bytes of a string assembled from pieces, as far as they are literal.
struct Assembled {
    prefix: [u8; 48],
    len: usize,
    /// Literal pieces and other operands that make up the text.
    pieces: u32,
    /// A piece that is not a literal was met: the text goes on with unknown content.
    open: bool,
}

impl Assembled {
    fn new() -> Self {
        Assembled {
            prefix: [0; 48],
            len: 0,
            pieces: 0,
            open: false,
        }
    }

    fn literal(&mut self, s: &str) {
        self.pieces += 1;
        if self.open {
            return;
        }
        for &b in s.as_bytes() {
            if self.len == self.prefix.len() {
                return;
            }
            self.prefix[self.len] = b;
            self.len += 1;
        }
    }

    fn unknown(&mut self) {
        self.pieces += 1;
        self.open = true;
    }

    fn text(&self) -> &[u8] {
        &self.prefix[..self.len]
    }
}

/// The first two words of a text prefix (leading blanks and `(` skipped).
fn leading_words(text: &[u8]) -> [Option<&[u8]>; 2] {
    let mut words: [Option<&[u8]>; 2] = [None, None];
    let mut i = 0;
    for slot in &mut words {
        while i < text.len() && (text[i].is_ascii_whitespace() || text[i] == b'(') {
            i += 1;
        }
        let start = i;
        while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == b'_') {
            i += 1;
        }
        if i == start {
            break;
        }
        *slot = Some(&text[start..i]);
    }
    words
}

/// Words that make a text starting with a statement verb read as SQL, not prose.
const SQL_WORDS: &[&str] = &[
    "FROM",
    "INTO",
    "TABLE",
    "SET",
    "WHERE",
    "VALUES",
    "DATABASE",
    "SCHEMA",
    "USER",
    "ROLE",
    "ON",
    "TO",
    "VIEW",
    "INDEX",
    "PROCEDURE",
    "FUNCTION",
    "DISTINCT",
    "ALL",
    "GLOBAL",
    "SESSION",
    "NAMES",
    "PASSWORD",
];

/// Text that starts with a statement verb and reads as SQL: the verb is followed by unknown
/// (computed) text, by a number, `*`, `@`, `(` or a quote, or a SQL word comes soon after
/// (`SELECT user FROM …`); `Update available` does not.
fn reads_as_sql(a: &Assembled) -> bool {
    let text = a.text();
    let mut words = text
        .split(|b: &u8| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .filter(|w| !w.is_empty());
    let _verb = words.next();
    let after_verb = text
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b'(')
        .skip_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .find(|b| !b.is_ascii_whitespace());
    match after_verb {
        None => a.open,
        Some(b) if b.is_ascii_digit() || matches!(b, b'*' | b'@' | b'(' | b'\'' | b'"' | b'`') => true,
        _ => words.take(6).any(|w| is_one_of(w, SQL_WORDS)),
    }
}

fn is_one_of(word: &[u8], list: &[&str]) -> bool {
    list.iter().any(|k| word.eq_ignore_ascii_case(k.as_bytes()))
}

/// Flags for assembled text: `ASSEMBLED_SQL` when pieces make up a statement (`feeding`: the text
/// is prepared or executed, or stored for that), `DYNAMIC_DDL` when that statement changes schema
/// or privileges. Outside a feeding context only explicit DDL (`DROP TABLE …`) counts.
fn judge(a: &Assembled, feeding: bool) -> Flags {
    let mut flags = Flags::empty();
    let [first, second] = leading_words(a.text());
    let Some(first) = first else {
        return flags;
    };
    let ddl_verb = is_one_of(first, DDL_VERBS);
    if feeding && a.pieces >= 2 && (ddl_verb || is_one_of(first, COMMANDS) && reads_as_sql(a)) {
        flags.insert(Flags::ASSEMBLED_SQL);
    }
    if ddl_verb {
        let explicit = is_one_of(first, &["GRANT", "REVOKE"]) && second.is_some()
            || second.is_some_and(|w| is_one_of(w, DDL_OBJECTS));
        let implied =
            feeding && (is_one_of(first, &["GRANT", "REVOKE", "TRUNCATE"]) || second.is_none() && a.open);
        if (explicit && (feeding || a.pieces >= 2)) || implied {
            flags.insert(Flags::DYNAMIC_DDL);
        }
    }
    flags
}

/// The content of a string literal token (quotes and prefixes removed; doubled quotes kept).
fn literal_content(raw: &str) -> &str {
    if let Some(rest) = raw.strip_prefix('$') {
        // `$tag$…$tag$`
        if let Some(close) = rest.find('$') {
            let tag = &raw[..close + 2];
            let inner = &raw[tag.len()..];
            return inner.strip_suffix(tag).unwrap_or(inner);
        }
        return raw;
    }
    let start = raw.find(['\'', '"']).map_or(0, |q| q + 1);
    let inner = &raw[start.min(raw.len())..];
    inner.strip_suffix(['\'', '"']).unwrap_or(inner)
}

/// The arguments of `CONCAT(…)`, `CONCAT_WS(sep, …)` or `format('…', …)` opening at `lparen`
/// as pieces of `a` (a single string literal is a literal piece, anything else unknown text);
/// for `CONCAT_WS` the first argument is the separator. Returns the index of the `)`.
fn pieces(tk: &Toks<'_>, lparen: usize, with_separator: bool, a: &mut Assembled) -> usize {
    let single_str = |s: usize, e: usize| e == s + 1 && tk.kind(s) == Some(Kind::Str);
    let mut sep: Option<&str> = None;
    let mut arg = 0usize;
    let mut from = lparen + 1;
    let mut depth = 0u32;
    for j in lparen..tk.len() {
        let end_of_arg = match tk.kind(j) {
            Some(Kind::LParen) => {
                depth += 1;
                false
            }
            Some(Kind::RParen) => {
                depth -= 1;
                depth == 0
            }
            Some(Kind::Comma) => depth == 1,
            _ => false,
        };
        if !end_of_arg {
            continue;
        }
        if with_separator && arg == 0 {
            sep = single_str(from, j).then(|| literal_content(tk.text(from)));
        } else {
            if let Some(sep) = sep.filter(|_| arg > usize::from(with_separator)) {
                a.literal(sep);
                a.pieces -= 1;
            }
            if single_str(from, j) {
                a.literal(literal_content(tk.text(from)));
            } else {
                a.unknown();
            }
        }
        arg += 1;
        from = j + 1;
        if depth == 0 {
            return j;
        }
    }
    tk.len()
}

/// The text an expression at `at` assembles: a literal, `CONCAT(…)`, `CONCAT_WS(…)`,
/// `format('…', …)`, or a `||` chain of those.
fn assembled_at(tk: &Toks<'_>, at: usize) -> Assembled {
    let mut a = Assembled::new();
    let mut i = at;
    loop {
        match tk.kind(i) {
            Some(Kind::Str) => {
                a.literal(literal_content(tk.text(i)));
                i += 1;
            }
            Some(Kind::Word) if tk.kind(i + 1) == Some(Kind::LParen) => {
                let concat = tk.is(i, "CONCAT");
                let concat_ws = tk.is(i, "CONCAT_WS");
                let format = tk.is(i, "FORMAT") && tk.kind(i + 2) == Some(Kind::Str);
                let close = if concat || concat_ws || format {
                    pieces(tk, i + 1, concat_ws, &mut a)
                } else {
                    a.unknown();
                    tk.group_end(i + 1).0
                };
                i = close + 1;
            }
            Some(Kind::Word | Kind::Var | Kind::Quoted | Kind::Param | Kind::Num) => {
                a.unknown();
                i += 1;
                while tk.kind(i) == Some(Kind::Dot)
                    && matches!(tk.kind(i + 1), Some(Kind::Word | Kind::Quoted))
                {
                    i += 2;
                }
            }
            _ => break,
        }
        if tk.is_op(i, "||") {
            i += 1;
        } else {
            break;
        }
    }
    a
}

/// The body of a `DO` block or function at string token `at`, lexed as PostgreSQL and scanned.
fn body(tk: &Toks<'_>, at: usize, depth: u8) -> Flags {
    if depth >= MAX_BODY_DEPTH {
        return Flags::empty();
    }
    let raw = tk.text(at);
    let content = literal_content(raw);
    let text: Cow<'_, str> = if raw.starts_with('$') || !content.contains("''") {
        Cow::Borrowed(content)
    } else {
        Cow::Owned(content.replace("''", "'"))
    };
    let mut lx = Lexer::new(&text, Dialect::Postgres);
    let mut tokens = Vec::new();
    while let Some(t) = lx.next_token() {
        tokens.push(t);
    }
    let inner = Toks {
        src: &text,
        t: &tokens,
        dialect: Dialect::Postgres,
    };
    dynamic_features(&inner, depth + 1)
}

/// Dynamic-SQL flags of a token stream (`depth` 0: a statement; above: a routine body).
pub(super) fn dynamic_features(tk: &Toks<'_>, depth: u8) -> Flags {
    let mut flags = Flags::empty();
    let in_body = depth > 0;
    let n = tk.len();
    let mut stmt_start = 0;
    for i in 0..n {
        let Some(kind) = tk.kind(i) else { break };
        match kind {
            Kind::Semi => stmt_start = i + 1,
            Kind::Word => {
                if tk.is(i, "PREPARE") && !in_body && tk.dialect != Dialect::Postgres {
                    // MySQL `PREPARE name FROM expr` (PostgreSQL's `PREPARE name AS stmt` is static).
                    if let Some(from) = (i + 1..(i + 4).min(n)).find(|&j| tk.is(j, "FROM")) {
                        flags.insert(Flags::DYNAMIC_SQL);
                        flags.insert(judge(&assembled_at(tk, from + 1), true));
                    }
                } else if tk.is(i, "EXECUTE") {
                    if tk.is(i + 1, "IMMEDIATE") {
                        flags.insert(Flags::DYNAMIC_SQL);
                        flags.insert(judge(&assembled_at(tk, i + 2), true));
                    } else if in_body {
                        // PL/pgSQL `EXECUTE <text>`: the command is a run-time string.
                        flags.insert(Flags::DYNAMIC_SQL);
                        flags.insert(judge(&assembled_at(tk, i + 1), true));
                        if tk.kind(i + 1) == Some(Kind::Str) {
                            flags.insert(body(tk, i + 1, depth));
                        }
                    }
                } else if tk.is(i, "DO") && i == stmt_start {
                    // `DO $$…$$`, `DO LANGUAGE plpgsql $$…$$`
                    let at = if tk.is(i + 1, "LANGUAGE") { i + 3 } else { i + 1 };
                    if tk.kind(at) == Some(Kind::Str) {
                        flags.insert(body(tk, at, depth));
                    }
                } else if tk.is(i, "AS")
                    && tk.kind(i + 1) == Some(Kind::Str)
                    && is_routine_definition(tk, stmt_start, i)
                {
                    flags.insert(body(tk, i + 1, depth));
                } else if tk.is_any(i, &["CONCAT", "CONCAT_WS", "FORMAT"])
                    && tk.kind(i + 1) == Some(Kind::LParen)
                {
                    flags.insert(judge(&assembled_at(tk, i), in_body));
                }
            }
            // `SET @s = …`, `SET @a = …, @b = …`, `@s := …`
            Kind::Var
                if tk.is_op(i + 1, ":=") || (tk.is_op(i + 1, "=") && is_set_target(tk, stmt_start, i)) =>
            {
                flags.insert(judge(&assembled_at(tk, i + 2), true));
            }
            // PL/pgSQL assignment `v := '…' || …`
            Kind::Op if in_body && tk.text(i) == ":=" => {
                flags.insert(judge(&assembled_at(tk, i + 1), true));
            }
            // `'DROP TABLE ' || quote_ident(t)` (the start of a chain).
            Kind::Str if tk.is_op(i + 1, "||") && !tk.is_op(i.wrapping_sub(1), "||") => {
                flags.insert(judge(&assembled_at(tk, i), in_body));
            }
            _ => {}
        }
    }
    flags
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE …` up to `at`.
fn is_routine_definition(tk: &Toks<'_>, start: usize, at: usize) -> bool {
    tk.is(start, "CREATE") && (start + 1..at.min(start + 4)).any(|j| tk.is_any(j, &["FUNCTION", "PROCEDURE"]))
}

/// The variable at `i` is assigned by a `SET` statement (`SET @a = …` or `…, @b = …`).
fn is_set_target(tk: &Toks<'_>, start: usize, i: usize) -> bool {
    tk.is(start, "SET") && (i == start + 1 || tk.kind(i - 1) == Some(Kind::Comma))
}
