//! Literal features: flags whose truth depends on literal values (tautologies, sqlmap
//! delimiters and hex markers, sleep arguments) and whether literals name identities — computed
//! on every call, cache hit or not, and part of the analysis cache key.

use super::Toks;
use crate::sql::lexer::{Kind, Token};
use crate::sql::{Dialect, Flags};

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
    let mut dynamic = false;
    let mut chr_calls = 0u32;
    let n = tokens.len();
    let mut i = 0;
    while i < n {
        let tok = tokens[i];
        match tok.kind {
            // Only words of these lengths are compared below (OR, XOR/chr, char, WHERE, HAVING,
            // LANGUAGE, set_config, current_setting, and the dynamic-SQL words): skip the rest
            // without comparing.
            // `table_schema = 'shop'`: the schema a catalog read is limited to is a literal,
            // and the analysis keeps it (`CatalogScope::Named`).
            Kind::Word
                if !sensitive
                    && schema_literal_follows(&tk, i + 1)
                    && super::catalog::is_schema_column(tok.text(src)) =>
            {
                sensitive = true;
            }
            Kind::Word if matches!(tok.end.wrapping_sub(tok.start), 2..=10 | 15) => {
                let w = tok.text(src);
                if is_condition_word(w) && constant_condition_at(&tk, i + 1) {
                    flags.insert(Flags::CONSTANT_CONDITION);
                }
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
                    } else if ["if", "elt", "iif"].iter().any(|f| w.eq_ignore_ascii_case(f))
                        && constant_condition_at(&tk, i + 2)
                    {
                        // `IF((25=25),SLEEP(1),1234)`, `ELT(1234=1234,1)`
                        flags.insert(Flags::CONSTANT_CONDITION);
                    }
                } else if w.eq_ignore_ascii_case("LANGUAGE") && tk.kind(i + 1) == Some(Kind::Str) {
                    sensitive = true;
                }
                // Dynamic SQL: the words that start it, and a routine body (`AS $$…$$`).
                dynamic |= super::dynamic::is_trigger_word(w)
                    || (w.eq_ignore_ascii_case("AS") && tk.kind(i + 1) == Some(Kind::Str));
            }
            Kind::Op if tk.text(i) == "||" => {
                if dialect == Dialect::Mysql {
                    if tautology_at(&tk, i + 1, false) {
                        flags.insert(Flags::TAUTOLOGY);
                    }
                    if constant_condition_at(&tk, i + 1) {
                        flags.insert(Flags::CONSTANT_CONDITION);
                    }
                } else if i > 0 && tokens[i - 1].kind == Kind::Str {
                    dynamic = true;
                }
            }
            Kind::Op if matches!(tk.text(i), "&&" | "!") && constant_condition_at(&tk, i + 1) => {
                flags.insert(Flags::CONSTANT_CONDITION);
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
                // A string where an object is named (`FROM 'a||b'`): some parsers read it as the
                // table's name, so the literal joins the key (found by the `sql` fuzz target).
                if i > 0 && tk.is_any(i - 1, &["FROM", "JOIN", "INTO", "UPDATE", "TABLE"]) {
                    sensitive = true;
                }
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
    if dynamic {
        flags.insert(super::dynamic::dynamic_features(&tk, 0));
    }
    if chr_calls >= 3 {
        flags.insert(Flags::CHAR_CHAIN);
    }
    // Account names are string literals in MySQL; DCL text must not share a cache entry across
    // different accounts. A component is named by a string (`UNINSTALL COMPONENT
    // 'file://component_audit_log'` is audit tampering, another component is not).
    // Every statement of the text, not only the first (`CREATE …; GRANT … 'b@h'` was answered
    // by the cache entry of another account: found by the `sql` fuzz target).
    let first_word = tokens.iter().position(|t| t.kind == Kind::Word);
    let starts = (0..n).filter(|&i| {
        tokens[i].kind == Kind::Word && (Some(i) == first_word || (i > 0 && tokens[i - 1].kind == Kind::Semi))
    });
    for first in starts {
        if tk.is_any(first, &["GRANT", "REVOKE", "RENAME", "INSTALL", "UNINSTALL"])
            || (tk.is_any(first, &["CREATE", "ALTER", "DROP"]) && tk.is_any(first + 1, &["USER", "ROLE"]))
            || (tk.is(first, "SET") && tk.is_any(first + 1, &["PASSWORD", "ROLE", "DEFAULT"]))
        {
            sensitive |= tokens.iter().any(|t| matches!(t.kind, Kind::Str | Kind::Num));
            break;
        }
    }
    (flags, sensitive)
}

pub(super) fn is_sqlmap_delim(s: &str) -> bool {
    // 'q' + three of zxjkvbp + 'q' at the start (sqlmap KB_CHARS_BOUNDARY_CHAR / alphabet).
    let b = s.as_bytes();
    b.len() >= 5 && b[0] == b'q' && b[4] == b'q' && b[1..4].iter().all(|c| b"zxjkvbp".contains(c))
}

pub(super) fn is_sqlmap_hex(hex: &str) -> bool {
    let h = hex.to_ascii_lowercase();
    if h.len() < 10 || !h.starts_with("71") {
        return false;
    }
    let mid = [&h[2..4], &h[4..6], &h[6..8]];
    mid.iter()
        .all(|m| ["7a", "78", "6a", "6b", "76", "62", "70"].contains(m))
        && &h[8..10] == "71"
}

/// Arguments of the call whose `(` is at `lparen`.
pub(super) fn count_args(tk: &Toks<'_>, lparen: usize) -> u32 {
    tk.group_end(lparen).1
}

/// Literal value of a token for tautology comparison: unquoted string or number text.
pub(super) fn operand_value<'a>(tk: &Toks<'a>, i: usize) -> Option<(&'a str, bool)> {
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
pub(super) fn tautology_at(tk: &Toks<'_>, mut i: usize, whole: bool) -> bool {
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
pub(super) fn first_non_paren(tk: &Toks<'_>) -> usize {
    let mut i = 0;
    while tk.kind(i) == Some(Kind::LParen) {
        i += 1;
    }
    i
}

/// Words after which a condition starts (`WHERE`, `AND`, `OR`, `XOR`, `NOT`, `HAVING`, `ON`, `WHEN`).
fn is_condition_word(w: &str) -> bool {
    w.len() <= 6
        && ["WHERE", "AND", "OR", "XOR", "NOT", "HAVING", "ON", "WHEN"]
            .iter()
            .any(|k| w.eq_ignore_ascii_case(k))
}

/// After a schema column at `i`: `= 'x'`, `IN ('x', …)`, `LIKE 'x'` (a literal names the schema).
fn schema_literal_follows(tk: &Toks<'_>, i: usize) -> bool {
    let lit = if tk.is_op(i, "=") || tk.is(i, "LIKE") {
        i + 1
    } else if tk.is(i, "IN") && tk.kind(i + 1) == Some(Kind::LParen) {
        i + 2
    } else {
        return false;
    };
    tk.kind(lit) == Some(Kind::Str)
}

/// Tokens a constant sub-expression is made of are scanned at most this far (keeps the check
/// linear on pathological input).
const MAX_CONSTANT_SCAN: usize = 256;

/// What a constant operand is, for the exemption of query builders' `1=1` / `1=0`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Constant {
    /// `0` or `1` (also `'0'`, `'1'`).
    ZeroOrOne,
    /// Any other literal, `NULL`, `TRUE`/`FALSE`, a system variable, a call or group of constants.
    Other,
}

/// Functions whose value depends on rows (aggregates, windows, subquery predicates): `HAVING
/// COUNT(1) > 1` is not a constant condition.
fn is_row_function(tk: &Toks<'_>, i: usize) -> bool {
    tk.is_any(
        i,
        &[
            "COUNT",
            "SUM",
            "AVG",
            "MIN",
            "MAX",
            "GROUP_CONCAT",
            "STRING_AGG",
            "ARRAY_AGG",
            "JSON_AGG",
            "JSONB_AGG",
            "JSON_ARRAYAGG",
            "JSON_OBJECTAGG",
            "BOOL_AND",
            "BOOL_OR",
            "EVERY",
            "BIT_AND",
            "BIT_OR",
            "BIT_XOR",
            "STDDEV",
            "VARIANCE",
            "ROW_NUMBER",
            "RANK",
            "DENSE_RANK",
            "EXISTS",
            "ANY",
            "ALL",
            "SOME",
            "ROW_COUNT",
            "FOUND_ROWS",
        ],
    )
}

/// A constant operand at `i`: a number or string literal, `NULL`/`TRUE`/`FALSE`, a system
/// variable (`@@x`), a function call or parenthesised group whose tokens name no column, with an
/// optional `::type` cast. Returns the index after it.
fn constant_operand(tk: &Toks<'_>, i: usize) -> Option<(usize, Constant)> {
    let t = tk.t.get(i)?;
    let (end, what) = match t.kind {
        Kind::Num | Kind::Str => {
            let v = tk.text(i).trim_matches(|c| c == '\'' || c == '"');
            let what = if v == "0" || v == "1" {
                Constant::ZeroOrOne
            } else {
                Constant::Other
            };
            (i + 1, what)
        }
        Kind::Var if tk.text(i).starts_with("@@") => (i + 1, Constant::Other),
        Kind::Word if tk.is_any(i, &["NULL", "TRUE", "FALSE"]) => (i + 1, Constant::Other),
        Kind::Word if tk.kind(i + 1) == Some(Kind::LParen) && !is_row_function(tk, i) => {
            (constant_group(tk, i + 1)?, Constant::Other)
        }
        Kind::LParen => {
            let end = constant_group(tk, i)?;
            // `(7393)` keeps the exemption of what it wraps.
            let what = match constant_operand(tk, i + 1) {
                Some((e, w)) if e + 1 == end => w,
                _ => Constant::Other,
            };
            (end, what)
        }
        _ => return None,
    };
    // `'x'::text`
    if tk.is_op(end, "::") && tk.kind(end + 1) == Some(Kind::Word) {
        return Some((end + 2, what));
    }
    Some((end, what))
}

/// The parenthesised group opening at `lparen` holds no column reference: only literals,
/// operators, keywords, system variables, function names (a word before `(`) and type or
/// character-set names (a word after `AS`, `USING` or `::`). Returns the index after its `)`.
fn constant_group(tk: &Toks<'_>, lparen: usize) -> Option<usize> {
    let mut depth = 0u32;
    let end = (lparen + MAX_CONSTANT_SCAN).min(tk.len());
    for j in lparen..end {
        let t = tk.t[j];
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            Kind::Num | Kind::Str | Kind::Comma => {}
            // `count(*)`, `t.*`: rows and columns, not constants.
            Kind::Op
                if tk.text(j) == "*"
                    && matches!(tk.kind(j - 1), Some(Kind::LParen | Kind::Comma | Kind::Dot)) =>
            {
                return None;
            }
            Kind::Op => {}
            Kind::Var if tk.text(j).starts_with("@@") => {}
            Kind::Word if tk.kind(j + 1) == Some(Kind::LParen) && is_row_function(tk, j) => return None,
            Kind::Word
                if t.kw
                    || tk.kind(j + 1) == Some(Kind::LParen)
                    || tk.is_any(j.wrapping_sub(1), &["AS", "USING"])
                    || tk.is_op(j.wrapping_sub(1), "::") => {}
            _ => return None,
        }
    }
    None
}

/// Is there a condition at `i` (after optional opening parentheses) that compares constants
/// only: `4648=7537`, `(7393)=7393`, `'oLOw'='oLOw'`, `8534 BETWEEN 8534 AND 8534`,
/// `QUARTER(NULL) IS NULL`, `@@x=@@x`? The comparisons of `0` and `1` with each other are
/// exempt (query builders write `WHERE 1=1 AND …` and `1 != 1` for empty lists).
pub(super) fn constant_condition_at(tk: &Toks<'_>, mut i: usize) -> bool {
    for _ in 0..8 {
        if let Some((end, lhs)) = constant_operand(tk, i)
            && constant_comparison(tk, end, lhs)
        {
            return true;
        }
        if tk.kind(i) != Some(Kind::LParen) {
            return false;
        }
        i += 1;
    }
    false
}

/// The rest of a comparison after a constant left operand ending at `k`.
fn constant_comparison(tk: &Toks<'_>, mut k: usize, lhs: Constant) -> bool {
    // The operand must end here: `1 + x = 2` is not a constant comparison.
    let op = tk.text(k);
    let rhs_at = match tk.kind(k) {
        Some(Kind::Op) if matches!(op, "=" | "<>" | "!=" | "<" | ">" | "<=" | ">=" | "<=>" | "==") => {
            let Some((end, rhs)) = constant_operand(tk, k + 1) else {
                return false;
            };
            let exempt = lhs == Constant::ZeroOrOne
                && rhs == Constant::ZeroOrOne
                && matches!(op, "=" | "<>" | "!=" | "==");
            return !exempt && operand_ends(tk, end);
        }
        Some(Kind::Word) => {
            if tk.is(k, "NOT") {
                k += 1;
            }
            if tk.is(k, "IS") {
                let mut j = k + 1;
                if tk.is(j, "NOT") {
                    j += 1;
                }
                return tk.is_any(j, &["NULL", "TRUE", "FALSE", "UNKNOWN"]) && lhs == Constant::Other;
            }
            if tk.is(k, "BETWEEN") {
                let Some((mid, _)) = constant_operand(tk, k + 1) else {
                    return false;
                };
                return tk.is(mid, "AND")
                    && constant_operand(tk, mid + 1).is_some_and(|(end, _)| operand_ends(tk, end));
            }
            if tk.is(k, "IN") && tk.kind(k + 1) == Some(Kind::LParen) {
                return constant_group(tk, k + 1).is_some_and(|end| operand_ends(tk, end))
                    && !tk.is(k + 2, "SELECT");
            }
            if tk.is_any(k, &["LIKE", "RLIKE", "REGEXP", "ILIKE"]) {
                k + 1
            } else {
                return false;
            }
        }
        _ => return false,
    };
    constant_operand(tk, rhs_at).is_some_and(|(end, _)| operand_ends(tk, end))
}

/// A right operand ending at `k` is the whole operand (no arithmetic or member access follows).
fn operand_ends(tk: &Toks<'_>, k: usize) -> bool {
    match tk.kind(k) {
        None | Some(Kind::RParen | Kind::Comma | Kind::Semi) => true,
        Some(Kind::Op) => !matches!(
            tk.text(k),
            "+" | "-" | "*" | "/" | "%" | "||" | "&" | "|" | "^" | "<<" | ">>" | "::" | "->" | "->>"
        ),
        Some(Kind::Dot) => false,
        _ => true,
    }
}
