//! The Sigma `condition`: `and`, `or`, `not`, parentheses, `1 of X*`, `all of X*`, `1 of them`,
//! `all of them` over the search identifiers, with Sigma's precedence (`or` < `and` < `not` <
//! `x of` < parentheses) — SIGMA-SPEC §6. Selectors match identifiers with `*` wildcards, whole
//! names, and skip identifiers starting with `_` unless the pattern does (pySigma 2.0.1); a
//! selector that matches nothing, an unknown identifier and the deprecated pipe aggregation are
//! errors.

use super::detection::Expr;

/// Deepest parenthesis / `not` nesting accepted.
const MAX_DEPTH: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokens(text: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '|' => {
                return Err(
                    "the condition uses the deprecated pipe aggregation (`| count() …`, `| near …`), which Sigma v2 replaced with correlation rules: refused (laneguard's thresholds count in a sliding event-time window and restart after a finding, not an exact equivalent)"
                        .into(),
                );
            }
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '*') => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_ascii_alphanumeric() || matches!(d, '_' | '-' | '*') {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(text[i..end].to_owned()));
            }
            other => return Err(format!("unexpected character {other:?} in the condition")),
        }
    }
    Ok(out)
}

/// Compiles a condition against the compiled search identifiers.
struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    searches: &'a [(String, Expr)],
    used: Vec<bool>,
}

impl Parser<'_> {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.pos) {
            Some(Token::Word(w)) => Some(w),
            _ => None,
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        self.chain(depth, "or", Self::and, Expr::Any)
    }

    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        self.chain(depth, "and", Self::not, Expr::All)
    }

    /// `operand (word operand)*`, left to right: one operand stands alone.
    fn chain(
        &mut self,
        depth: usize,
        word: &str,
        operand: fn(&mut Self, usize) -> Result<Expr, String>,
        join: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, String> {
        let mut parts = vec![operand(self, depth)?];
        while self.peek_word() == Some(word) {
            self.pos += 1;
            parts.push(operand(self, depth)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            join(parts)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the condition nests deeper than {MAX_DEPTH} levels"));
        }
        if self.peek_word() == Some("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.primary(depth)
    }

    fn primary(&mut self, depth: usize) -> Result<Expr, String> {
        let tok = self.toks.get(self.pos).cloned();
        self.pos += 1;
        match tok {
            None => Err("the condition ends where a selection was expected".into()),
            Some(Token::Close) => Err("unexpected `)` in the condition".into()),
            Some(Token::Open) => {
                let inner = self.or(depth + 1)?;
                match self.toks.get(self.pos) {
                    Some(Token::Close) => {
                        self.pos += 1;
                        Ok(inner)
                    }
                    _ => Err("missing `)` in the condition".into()),
                }
            }
            Some(Token::Word(w)) => {
                let quantifier = matches!(w.as_str(), "1" | "all" | "any");
                if quantifier && self.peek_word() == Some("of") {
                    self.pos += 1;
                    let target = match self.toks.get(self.pos) {
                        Some(Token::Word(t)) => t.clone(),
                        _ => return Err(format!("`{w} of` needs `them` or a pattern")),
                    };
                    self.pos += 1;
                    self.selector(&w, &target)
                } else if matches!(w.as_str(), "and" | "or" | "not" | "of" | "them")
                    || (is_keyword(&w) && self.index(&w).is_none())
                {
                    Err(unexpected(&w))
                } else {
                    let i = self.index(&w).ok_or_else(|| {
                        format!("the condition names `{w}`, which the detection does not define")
                    })?;
                    self.used[i] = true;
                    Ok(self.searches[i].1.clone())
                }
            }
        }
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.searches.iter().position(|(n, _)| n == name)
    }

    fn selector(&mut self, quantifier: &str, target: &str) -> Result<Expr, String> {
        let underscore = target.starts_with('_');
        let chosen: Vec<usize> = (0..self.searches.len())
            .filter(|&i| {
                let name = &self.searches[i].0;
                (target == "them" || pattern_matches(target, name)) && (underscore || !name.starts_with('_'))
            })
            .collect();
        if chosen.is_empty() {
            return Err(format!("`{quantifier} of {target}` matches no selection"));
        }
        let mut parts: Vec<Expr> = Vec::with_capacity(chosen.len());
        for i in chosen {
            self.used[i] = true;
            parts.push(self.searches[i].1.clone());
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else if quantifier == "all" {
            Expr::All(parts)
        } else {
            Expr::Any(parts)
        })
    }
}

/// Whether a word is a condition keyword in any case (`AND` is an error, with a hint).
fn is_keyword(w: &str) -> bool {
    matches!(
        w.to_ascii_lowercase().as_str(),
        "and" | "or" | "not" | "of" | "them"
    )
}

fn unexpected(w: &str) -> String {
    if is_keyword(w) && w.chars().any(|c| c.is_ascii_uppercase()) {
        format!("unexpected `{w}`: Sigma condition operators are lower case")
    } else {
        format!("unexpected `{w}` in the condition")
    }
}

/// Whether a selector pattern (`*` any run) matches a whole identifier.
fn pattern_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative wildcard match with backtracking to the last star.
    let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while j < n.len() {
        if i < p.len() && p[i] != '*' && p[i] == n[j] {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// A condition compiled against `searches` (name, compiled definition); also which searches it
/// uses.
pub fn compile(text: &str, searches: &[(String, Expr)]) -> Result<(Expr, Vec<bool>), String> {
    let toks = tokens(text)?;
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    let mut p = Parser {
        toks,
        pos: 0,
        searches,
        used: vec![false; searches.len()],
    };
    let expr = p.or(0)?;
    if let Some(t) = p.toks.get(p.pos) {
        return Err(match t {
            Token::Word(w) => unexpected(w),
            Token::Open => "unexpected `(` in the condition".into(),
            Token::Close => "unexpected `)` in the condition".into(),
        });
    }
    Ok((expr, p.used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(n: &str) -> Expr {
        Expr::Leaf(n.into(), toml::Value::Boolean(true))
    }

    fn searches() -> Vec<(String, Expr)> {
        [
            "a", "b", "c", "sel_1", "sel_2", "filter_x", "_hidden", "notsel", "android",
        ]
        .iter()
        .map(|n| ((*n).to_owned(), leaf(n)))
        .collect()
    }

    fn c(text: &str) -> Result<Expr, String> {
        compile(text, &searches()).map(|(e, _)| e)
    }

    fn all(v: Vec<Expr>) -> Expr {
        Expr::All(v)
    }

    fn any(v: Vec<Expr>) -> Expr {
        Expr::Any(v)
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    #[test]
    fn grammar_table() {
        let cases: Vec<(&str, Expr)> = vec![
            ("a", leaf("a")),
            ("a and b", all(vec![leaf("a"), leaf("b")])),
            ("a or b", any(vec![leaf("a"), leaf("b")])),
            ("not a", not(leaf("a"))),
            ("not not a", not(not(leaf("a")))),
            // Precedence: or < and < not.
            (
                "a or b and not c",
                any(vec![leaf("a"), all(vec![leaf("b"), not(leaf("c"))])]),
            ),
            (
                "(a or b) and c",
                all(vec![any(vec![leaf("a"), leaf("b")]), leaf("c")]),
            ),
            ("not (a and b)", not(all(vec![leaf("a"), leaf("b")]))),
            ("a and b and c", all(vec![leaf("a"), leaf("b"), leaf("c")])),
            ("1 of sel_*", any(vec![leaf("sel_1"), leaf("sel_2")])),
            ("any of sel_*", any(vec![leaf("sel_1"), leaf("sel_2")])),
            ("all of sel_*", all(vec![leaf("sel_1"), leaf("sel_2")])),
            ("1 of filter*", leaf("filter_x")),
            (
                "a and not 1 of filter*",
                all(vec![leaf("a"), not(leaf("filter_x"))]),
            ),
            ("1 of *_1", leaf("sel_1")),
            ("1 of _*", leaf("_hidden")),
            ("notsel and android", all(vec![leaf("notsel"), leaf("android")])),
            (
                "1 of them",
                any(["a", "b", "c", "sel_1", "sel_2", "filter_x", "notsel", "android"]
                    .map(leaf)
                    .to_vec()),
            ),
            (
                "all of them",
                all(["a", "b", "c", "sel_1", "sel_2", "filter_x", "notsel", "android"]
                    .map(leaf)
                    .to_vec()),
            ),
            ("( a )", leaf("a")),
        ];
        for (text, want) in cases {
            assert_eq!(c(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn errors_table() {
        let cases = [
            ("x", "does not define"),
            ("a and", "ends where"),
            ("a b", "unexpected `b`"),
            ("(a", "missing `)`"),
            ("a)", "unexpected `)`"),
            ("1 of zz*", "matches no selection"),
            ("1 of", "needs `them`"),
            ("a AND b", "lower case"),
            ("a | count() > 5", "deprecated pipe aggregation"),
            ("a | near b", "deprecated pipe aggregation"),
            ("a & b", "unexpected character"),
            ("", "empty condition"),
            ("and", "unexpected `and`"),
        ];
        for (text, want) in cases {
            let e = c(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
        let deep = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(c(&deep).unwrap_err().contains("deeper"));
    }

    #[test]
    fn selectors_match_whole_names() {
        assert!(pattern_matches("sel*", "selection"));
        assert!(pattern_matches("*", "x"));
        assert!(pattern_matches("a*b*c", "axxbyyc"));
        assert!(!pattern_matches("sel*_a", "sel_a_x"), "whole name, not prefix");
        assert!(!pattern_matches("sel", "selection"));
        let (_, used) = compile("a and 1 of sel_*", &searches()).unwrap();
        assert_eq!(used.iter().filter(|u| **u).count(), 3);
    }
}
