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

pub(super) fn count_args(tk: &Toks<'_>, lparen: usize) -> u32 {
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
