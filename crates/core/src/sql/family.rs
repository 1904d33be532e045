//! Statement families: the shape of a statement with the variation an ORM produces folded away,
//! so a learned allowlist generalizes from part of an application's traffic to the rest.
//!
//! The fingerprint (xxh3 of the normalized text) stays what it is — findings, caches and existing
//! allowlists key on it. The family is a second key, computed once per cache miss from the
//! normalized text (literals are already `?`, so the family depends on no literal):
//!
//! - lists of placeholders collapse whatever their form and arity: `IN (?::INTEGER, ?::INTEGER)`,
//!   `ARRAY [?, ?]`, multi-row `VALUES (…), (…)` with casts, a row the audit engine cut short;
//! - the simple conjuncts of a `WHERE` that is a pure `AND` chain — a column compared with a
//!   placeholder (`c = ?`, `? = c`, `c IN (?+)`, `c LIKE ?`, `c IS NULL`, `c BETWEEN ? AND ?`) —
//!   fold into one `…`: optional filters of a search form share a family;
//! - `LIMIT`, `OFFSET` and `FETCH` of placeholders disappear (pagination);
//! - select lists, `INSERT` column lists, `UPDATE … SET` assignments and `RETURNING` lists made
//!   only of plain columns (and placeholders) become `…` (deferred columns, dirty-column updates).
//!
//! Everything else is kept as it is: a conjunct comparing two constants, a subquery, a `UNION`, a
//! function call, an `OR`, a comment-cut tail — what injected SQL adds — changes the family.

use super::Dialect;
use super::lexer::{Kind, Lexer, Token};

/// A token or a bracketed group (`(…)`, `[…]`) of the normalized text.
#[derive(Debug)]
enum Node {
    Tok(Token),
    Group {
        open: Token,
        children: Vec<Node>,
        close: Option<Token>,
    },
}

/// Builds the bracket tree of `tokens[*at..]` until the closer of the current group.
fn tree(src: &str, tokens: &[Token], at: &mut usize, depth: u32) -> (Vec<Node>, Option<Token>) {
    let mut out = Vec::new();
    while *at < tokens.len() {
        let t = tokens[*at];
        *at += 1;
        if is_open(src, &t) && depth < 200 {
            let (children, close) = tree(src, tokens, at, depth + 1);
            out.push(Node::Group {
                open: t,
                children,
                close,
            });
        } else if is_close(src, &t) && depth > 0 {
            return (out, Some(t));
        } else {
            out.push(Node::Tok(t));
        }
    }
    (out, None)
}

fn is_open(src: &str, t: &Token) -> bool {
    t.kind == Kind::LParen || (t.kind == Kind::Op && t.text(src) == "[")
}

fn is_close(src: &str, t: &Token) -> bool {
    t.kind == Kind::RParen || (t.kind == Kind::Op && t.text(src) == "]")
}

/// Reading helpers over one level of nodes.
struct Level<'a> {
    src: &'a str,
    nodes: &'a [Node],
}

impl<'a> Level<'a> {
    fn tok(&self, i: usize) -> Option<&'a Token> {
        match self.nodes.get(i) {
            Some(Node::Tok(t)) => Some(t),
            _ => None,
        }
    }
    fn is(&self, i: usize, kw: &str) -> bool {
        self.tok(i).is_some_and(|t| t.is(self.src, kw))
    }
    fn is_any(&self, i: usize, kws: &[&str]) -> bool {
        kws.iter().any(|k| self.is(i, k))
    }
    fn is_op(&self, i: usize, op: &str) -> bool {
        self.tok(i)
            .is_some_and(|t| t.kind == Kind::Op && t.text(self.src) == op)
    }
    fn kind(&self, i: usize) -> Option<Kind> {
        self.tok(i).map(|t| t.kind)
    }
    fn group(&self, i: usize) -> Option<&'a [Node]> {
        match self.nodes.get(i) {
            Some(Node::Group { children, .. }) => Some(children),
            _ => None,
        }
    }
}

/// A placeholder with its casts at `i` (`?`, `-?`, `?::INTEGER`, `CAST (? AS x)`, `(?+)`,
/// `NULL`, `TRUE`/`FALSE`); returns the index after it.
fn placeholder(l: &Level<'_>, mut i: usize) -> Option<usize> {
    if l.is_op(i, "-") || l.is_op(i, "+") {
        i += 1;
    }
    if l.kind(i) == Some(Kind::Param) || l.is_any(i, &["NULL", "TRUE", "FALSE", "DEFAULT"]) {
        i += 1;
        // the `(?+)` marker of normalization
        if l.is_op(i, "+") && l.nodes.get(i + 1).is_none() {
            i += 1;
        }
    } else if l.is(i, "CAST") && l.group(i + 1).is_some_and(|g| cast_of_placeholder(l.src, g)) {
        i += 2;
    } else if l.group(i).is_some_and(|g| literal_list(l.src, g)) {
        i += 1;
    } else if l.is(i, "ARRAY") && l.group(i + 1).is_some_and(|g| literal_list(l.src, g)) {
        i += 2;
    } else {
        return None;
    }
    while l.is_op(i, "::") && l.kind(i + 1) == Some(Kind::Word) {
        i += 2;
        if l.group(i).is_some() {
            i += 1; // VARCHAR(30)
        }
        if l.group(i).is_some_and(|g| g.is_empty()) || l.is_op(i, "[") {
            i += 1;
        }
    }
    Some(i)
}

fn cast_of_placeholder(src: &str, g: &[Node]) -> bool {
    let l = Level { src, nodes: g };
    placeholder(&l, 0).is_some_and(|e| l.is(e, "AS"))
}

/// A group holding only placeholders separated by commas (at least one).
fn literal_list(src: &str, g: &[Node]) -> bool {
    let l = Level { src, nodes: g };
    let mut i = 0;
    loop {
        let Some(e) = placeholder(&l, i) else {
            return false;
        };
        if e == g.len() {
            return true;
        }
        if l.kind(e) != Some(Kind::Comma) {
            return false;
        }
        i = e + 1;
    }
}

/// A column reference at `i` (`c`, `t.c`, `s.t.c`, a quoted name); returns the index after it.
fn column(l: &Level<'_>, mut i: usize) -> Option<usize> {
    let ok = |t: &Token| t.kind == Kind::Quoted || (t.kind == Kind::Word && !t.kw);
    if !l.tok(i).is_some_and(ok) {
        return None;
    }
    i += 1;
    while l.kind(i) == Some(Kind::Dot) && l.tok(i + 1).is_some_and(|t| ok(t) || t.kind == Kind::Word) {
        i += 2;
    }
    Some(i)
}

/// A conjunct that compares a column with placeholders only (the optional filters of a form).
fn simple_conjunct(l: &Level<'_>, from: usize, to: usize) -> bool {
    let mut i = from;
    if l.is(i, "NOT") {
        i += 1;
    }
    // `(c = ?)`
    if to == i + 1
        && let Some(g) = l.group(i)
    {
        let inner = Level { src: l.src, nodes: g };
        return !g.is_empty() && simple_conjunct(&inner, 0, g.len());
    }
    const CMP: [&str; 8] = ["=", "!=", "<>", "<", ">", "<=", ">=", "<=>"];
    if let Some(c) = column(l, i) {
        let mut j = c;
        if l.is(j, "IS") {
            j += 1;
            if l.is(j, "NOT") {
                j += 1;
            }
            return l.is_any(j, &["NULL", "TRUE", "FALSE"]) && j + 1 == to;
        }
        if l.is(j, "NOT") {
            j += 1;
        }
        let after = if CMP.iter().any(|op| l.is_op(j, op)) {
            if l.is_any(j + 1, &["ANY", "ALL", "SOME"]) && l.group(j + 2).is_some() {
                let g = l.group(j + 2).unwrap_or_default();
                let inner = Level { src: l.src, nodes: g };
                return placeholder(&inner, 0) == Some(g.len()) && j + 3 == to;
            }
            placeholder(l, j + 1)
        } else if l.is_any(j, &["LIKE", "ILIKE", "IN"]) {
            placeholder(l, j + 1)
        } else if l.is(j, "BETWEEN") {
            placeholder(l, j + 1)
                .filter(|&k| l.is(k, "AND"))
                .and_then(|k| placeholder(l, k + 1))
        } else {
            None
        };
        return after == Some(to);
    }
    // `? = c`
    if let Some(p) = placeholder(l, i)
        && CMP.iter().any(|op| l.is_op(p, op))
    {
        return column(l, p + 1) == Some(to);
    }
    false
}

/// Words that end a clause at one query level.
const CLAUSE_END: &[&str] = &[
    "FROM",
    "WHERE",
    "GROUP",
    "HAVING",
    "ORDER",
    "LIMIT",
    "OFFSET",
    "FETCH",
    "UNION",
    "INTERSECT",
    "EXCEPT",
    "RETURNING",
    "FOR",
    "WINDOW",
    "ON",
    "VALUES",
    "SELECT",
    "SET",
    "INTO",
    "LOCK",
];

fn clause_end(l: &Level<'_>, from: usize) -> usize {
    (from..l.nodes.len())
        .find(|&i| l.is_any(i, CLAUSE_END) || l.kind(i) == Some(Kind::Semi))
        .unwrap_or(l.nodes.len())
}

/// Items of a comma list `from..to` made only of columns (with aliases) and placeholders.
fn plain_list(l: &Level<'_>, from: usize, to: usize, assignments: bool) -> bool {
    if from >= to {
        return false;
    }
    let mut i = from;
    loop {
        let e = if assignments {
            column(l, i)
                .filter(|&c| l.is_op(c, "="))
                .and_then(|c| placeholder(l, c + 1))
        } else {
            column(l, i).or_else(|| placeholder(l, i)).map(|e| {
                // alias: `AS x` or a bare word
                if l.is(e, "AS") && column(l, e + 1).is_some() {
                    e + 2
                } else if e < to && column(l, e) == Some(e + 1) && l.kind(e + 1) != Some(Kind::Dot) {
                    e + 1
                } else {
                    e
                }
            })
        };
        let Some(e) = e else { return false };
        if e == to {
            return true;
        }
        if l.kind(e) != Some(Kind::Comma) {
            return false;
        }
        i = e + 1;
    }
}

/// Output: the family text.
struct Out {
    text: String,
}

impl Out {
    fn push(&mut self, s: &str) {
        let glue_after =
            self.text.ends_with(['(', '[', '.']) || self.text.ends_with("::") || self.text.is_empty();
        let glue_before = matches!(s, ")" | "]" | "," | "." | "::" | ";") || s.starts_with("::");
        if !glue_after && !glue_before {
            self.text.push(' ');
        }
        self.text.push_str(s);
    }
}

/// Render one level with the folds applied.
fn render(src: &str, nodes: &[Node], out: &mut Out) {
    let l = Level { src, nodes };
    let n = nodes.len();
    let mut i = 0;
    let mut last_was_list = false;
    while i < n {
        // LIMIT / OFFSET / FETCH of placeholders: pagination.
        if l.is(i, "LIMIT") {
            if l.is(i + 1, "ALL") {
                i += 2;
                continue;
            }
            if let Some(e) = placeholder(&l, i + 1) {
                i = e;
                if l.kind(i) == Some(Kind::Comma)
                    && let Some(e) = placeholder(&l, i + 1)
                {
                    i = e;
                }
                continue;
            }
        }
        if l.is(i, "OFFSET")
            && let Some(e) = placeholder(&l, i + 1)
        {
            i = e;
            if l.is_any(i, &["ROW", "ROWS"]) {
                i += 1;
            }
            continue;
        }
        if l.is(i, "FETCH") && l.is_any(i + 1, &["FIRST", "NEXT"]) {
            let mut j = i + 2;
            if let Some(e) = placeholder(&l, j) {
                j = e;
            }
            if l.is_any(j, &["ROW", "ROWS"]) {
                j += 1;
            }
            if l.is(j, "ONLY") {
                i = j + 1;
                continue;
            }
            if l.is(j, "WITH") && l.is(j + 1, "TIES") {
                i = j + 2;
                continue;
            }
        }
        // Select lists, RETURNING lists and SET assignments of plain columns.
        if l.is_any(i, &["SELECT", "RETURNING", "SET"]) {
            let mut from = i + 1;
            while l.is_any(from, &["DISTINCT", "ALL"]) {
                from += 1;
            }
            let to = clause_end(&l, from);
            let assignments = l.is(i, "SET");
            if (!assignments || is_update_set(&l, i)) && plain_list(&l, from, to, assignments) {
                for k in i..from {
                    emit(&l, k, out);
                }
                out.push("…");
                i = to;
                continue;
            }
        }
        // WHERE: fold the simple conjuncts of a pure AND chain.
        if l.is(i, "WHERE") {
            let to = clause_end(&l, i + 1);
            if let Some(next) = fold_where(&l, i, to, out) {
                i = next;
                continue;
            }
        }
        // A list of placeholders; repeated rows collapse.
        if let Some(g) = l.group(i)
            && literal_list(src, g)
        {
            if last_was_list && out.text.ends_with(',') {
                out.text.pop();
            } else {
                out.push("(?+)");
            }
            last_was_list = true;
            i += 1;
            continue;
        }
        if !(last_was_list
            && l.kind(i) == Some(Kind::Comma)
            && l.group(i + 1).is_some_and(|g| literal_list(src, g)))
        {
            last_was_list = false;
        }
        // `INSERT INTO t (a, b, c)`: the column list.
        if let Some(g) = l.group(i)
            && i >= 1
            && column(&l, i - 1).is_some()
            && (l.is(i + 1, "VALUES") || l.is(i + 1, "SELECT") || l.group(i + 1).is_some())
            && {
                let inner = Level { src, nodes: g };
                plain_list(&inner, 0, g.len(), false)
            }
        {
            out.push("(…)");
            i += 1;
            continue;
        }
        // A row the audit engine cut short after collapsed rows: `(?+), (?, ?`
        if let Some(Node::Group { children, close: None, .. }) = nodes.get(i)
            && out.text.ends_with(',')
            && children.iter().all(|c| matches!(c, Node::Tok(t) if matches!(t.kind, Kind::Param | Kind::Comma | Kind::Op | Kind::Word)))
        {
            out.text.pop();
            i += 1;
            continue;
        }
        emit(&l, i, out);
        i += 1;
    }
}

/// Whether the `SET` at `i` is an `UPDATE … SET` (not `SET @x = …`, not `ON CONFLICT … SET`).
fn is_update_set(l: &Level<'_>, i: usize) -> bool {
    (0..i).any(|k| l.is(k, "UPDATE"))
}

/// The `WHERE` at `at` up to `to`: writes `WHERE …` plus the kept conjuncts and returns the
/// next index, or `None` (nothing folds: an `OR`/`XOR` at this level, or no simple conjunct).
fn fold_where(l: &Level<'_>, at: usize, to: usize, out: &mut Out) -> Option<usize> {
    // MySQL's `||` is OR; PostgreSQL's concatenation inside a conjunct just keeps it whole.
    if (at + 1..to).any(|k| l.is_any(k, &["OR", "XOR"]) || l.is_op(k, "||")) {
        return None;
    }
    // Conjunct bounds, with `BETWEEN x AND y` kept whole.
    let mut bounds = Vec::new();
    let mut start = at + 1;
    let mut k = at + 1;
    let mut between = false;
    while k < to {
        if l.is(k, "BETWEEN") {
            between = true;
        } else if l.is(k, "AND") {
            if between {
                between = false;
            } else {
                bounds.push((start, k));
                start = k + 1;
            }
        }
        k += 1;
    }
    bounds.push((start, to));
    let simple: Vec<bool> = bounds
        .iter()
        .map(|&(a, b)| a < b && simple_conjunct(l, a, b))
        .collect();
    if !simple.iter().any(|s| *s) {
        return None;
    }
    emit(l, at, out);
    out.push("…");
    for (&(a, b), s) in bounds.iter().zip(&simple) {
        if !s {
            out.push("AND");
            for x in a..b {
                emit(l, x, out);
            }
        }
    }
    Some(to)
}

/// Writes node `i` (a group rendered recursively).
fn emit(l: &Level<'_>, i: usize, out: &mut Out) {
    match &l.nodes[i] {
        Node::Tok(t) => out.push(t.text(l.src)),
        Node::Group {
            open,
            children,
            close,
        } => {
            out.push(open.text(l.src));
            render(l.src, children, out);
            if let Some(c) = close {
                out.push(c.text(l.src));
            }
        }
    }
}

/// The family of a normalized statement: its folded text (capped like `normalized`) and hash.
pub(crate) fn family(normalized: &str, dialect: Dialect, max: usize) -> (u64, String) {
    let mut lx = Lexer::new(normalized, dialect);
    let mut tokens = Vec::new();
    while let Some(t) = lx.next_token() {
        tokens.push(t);
    }
    let mut at = 0;
    let (nodes, _) = tree(normalized, &tokens, &mut at, 0);
    let mut out = Out {
        text: String::with_capacity(normalized.len()),
    };
    render(normalized, &nodes, &mut out);
    let hash = xxhash_rust::xxh3::xxh3_64(out.text.as_bytes());
    let mut text = out.text;
    if text.len() > max {
        let mut end = max;
        while end > 0 && !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    (hash, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::Analyzer;

    fn fam(sql: &str, d: Dialect) -> String {
        let mut a = Analyzer::new(16);
        family(&a.analyze(sql, d).normalized, d, 4096).1
    }

    #[test]
    fn lists_and_pagination_fold() {
        let d = Dialect::Postgres;
        assert_eq!(
            fam(
                "SELECT id FROM t WHERE id IN ($1::INTEGER, $2::INTEGER, $3::INTEGER) LIMIT 5 OFFSET 10",
                d
            ),
            fam("SELECT id FROM t WHERE id IN ($1::INTEGER) LIMIT 5", d)
        );
        assert_eq!(
            fam(
                "SELECT a.x FROM a WHERE a.k = ANY (ARRAY[$1::VARCHAR, $2::VARCHAR])",
                d
            ),
            fam("SELECT a.x FROM a WHERE a.k = ANY (ARRAY[$1::VARCHAR])", d)
        );
        let m = Dialect::Mysql;
        assert_eq!(
            fam("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", m),
            fam("INSERT INTO t (a, b, c) VALUES (1, 'x', 3)", m)
        );
        assert_eq!(fam("SELECT a FROM t LIMIT 10, 20", m), fam("SELECT a FROM t", m));
    }

    #[test]
    fn optional_filters_and_columns_fold() {
        let m = Dialect::Mysql;
        let base = fam(
            "SELECT id, name FROM products WHERE active = 1 ORDER BY id LIMIT 20",
            m,
        );
        assert_eq!(base, "SELECT … FROM products WHERE … ORDER BY id");
        assert_eq!(
            base,
            fam(
                "SELECT id, name, price FROM products WHERE active = 1 AND name LIKE '%a%' AND category = 'x' AND price BETWEEN 1 AND 9 ORDER BY id LIMIT 20 OFFSET 40",
                m
            )
        );
        assert_eq!(
            fam("UPDATE customers SET email = 'a', name = 'b' WHERE id = 1", m),
            fam("UPDATE customers SET name = 'c' WHERE customers.id = 2", m)
        );
        assert_eq!(
            fam("SELECT a FROM t WHERE 3 = t.b", m),
            fam("SELECT a FROM t WHERE t.c IS NOT NULL", m)
        );
    }

    #[test]
    fn injected_shapes_keep_their_own_family() {
        let m = Dialect::Mysql;
        let base = fam("SELECT id, name FROM products WHERE id = 7", m);
        for attack in [
            "SELECT id, name FROM products WHERE id = 7 AND 4648=7537",
            "SELECT id, name FROM products WHERE id = 7 OR 1=1",
            "SELECT id, name FROM products WHERE id = -1 UNION ALL SELECT NULL, CONCAT(user, 0x3a) FROM mysql.user",
            "SELECT id, name FROM products WHERE id = 7 AND SLEEP(1)",
            "SELECT id, name FROM products WHERE id = 7 ORDER BY 10-- -",
            "SELECT id, name FROM products WHERE id = 7 AND ORD(MID((SELECT card FROM t LIMIT 0,1),1,1))>64",
            "SELECT id, name FROM products",
        ] {
            assert_ne!(fam(attack, m), base, "{attack}");
        }
        // DELETE without WHERE is not a DELETE with one.
        assert_ne!(fam("DELETE FROM t", m), fam("DELETE FROM t WHERE id = 1", m));
    }
}
