//! Hand-written SQL lexer: the hot path of SQL analysis.
//!
//! Every audited statement goes through here, cache hit or not, so it is one forward pass over
//! the bytes with no regex, no sqlparser and no allocation beyond two reused buffers (tokens and
//! normalized text). It knows the dialect differences that change where a token ends — MySQL
//! `\'` escapes, `#` and `-- ` comments, double-quoted strings, versioned comments `/*!…*/`
//! whose content MySQL *executes*; PostgreSQL `$tag$…$tag$`, `E'…'`, nested block comments —
//! because a lexer that ends a string at the wrong quote would let an attacker hide code inside
//! what it thinks is a literal. Tokens are spans into the input; words are compared
//! case-insensitively where needed instead of being copied.

use super::Dialect;
use super::keywords::is_keyword;

/// Kind of a token; literals are everything that normalization turns into `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Unquoted identifier or keyword.
    Word,
    /// Quoted identifier: backticks, or double quotes outside MySQL.
    Quoted,
    /// String literal of any form (incl. dollar-quoted, `E'…'`, `X'…'`, MySQL `"…"`).
    Str,
    /// Numeric literal, incl. `0x…` / `0b…`.
    Num,
    /// Bind placeholder: `?`, `$1`.
    Param,
    /// MySQL user or system variable: `@v`, `@@global`.
    Var,
    /// Operator or other punctuation.
    Op,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `;`
    Semi,
    /// `.`
    Dot,
}

/// One token: a span of the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    /// A word on the keyword list (classified once, here, instead of per use).
    pub kw: bool,
    pub start: u32,
    pub end: u32,
}

impl Token {
    /// The token's text in `src`.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        src.get(self.start as usize..self.end as usize).unwrap_or("")
    }

    /// True for a word equal to `kw` ignoring ASCII case.
    pub fn is(&self, src: &str, kw: &str) -> bool {
        self.kind == Kind::Word && self.text(src).eq_ignore_ascii_case(kw)
    }

    /// True for a literal (string, number or placeholder).
    pub fn is_literal(&self) -> bool {
        matches!(self.kind, Kind::Str | Kind::Num | Kind::Param)
    }
}

/// Facts the lexer learns that are invisible in the normalized text (comments are dropped).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LexFacts {
    pub comment_obfuscation: bool,
    pub versioned_comment: bool,
    pub trailing_comment: bool,
    pub unterminated: bool,
    /// Deepest parenthesis nesting seen.
    pub max_depth: u32,
}

/// Streaming tokenizer over one text.
pub(crate) struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    dialect: Dialect,
    in_versioned: bool,
    /// End of the previous token, for comment adjacency.
    prev_end: usize,
    /// The previous token was a name (word or quoted identifier): a `.` touching it qualifies
    /// it (`db.2fa_codes`), it does not start a number.
    prev_name: bool,
    /// A token was produced in the current statement.
    stmt_has_token: bool,
    /// A trailing-comment candidate was seen after the last token.
    pending_trailing: bool,
    depth: u32,
    pub facts: LexFacts,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

impl<'a> Lexer<'a> {
    /// A lexer over `src` for `dialect`.
    pub fn new(src: &'a str, dialect: Dialect) -> Self {
        Lexer {
            src,
            b: src.as_bytes(),
            pos: 0,
            dialect,
            in_versioned: false,
            prev_end: 0,
            prev_name: false,
            stmt_has_token: false,
            pending_trailing: false,
            depth: 0,
            facts: LexFacts::default(),
        }
    }

    /// Whether a trailing comment ended the statement that just finished (call at `;`/EOF).
    pub fn take_trailing(&mut self) -> bool {
        std::mem::take(&mut self.pending_trailing)
    }

    fn peek(&self, off: usize) -> u8 {
        self.b.get(self.pos + off).copied().unwrap_or(0)
    }

    fn mysqlish(&self) -> bool {
        matches!(self.dialect, Dialect::Mysql | Dialect::Generic)
    }

    /// Skips whitespace and comments; records comment facts.
    fn skip_trivia(&mut self) {
        loop {
            let c = self.peek(0);
            if c == 0 && self.pos >= self.b.len() {
                return;
            }
            if c.is_ascii_whitespace() || c == 0 {
                self.pos += 1;
                continue;
            }
            if self.in_versioned && c == b'*' && self.peek(1) == b'/' {
                self.in_versioned = false;
                self.pos += 2;
                continue;
            }
            if c == b'/' && self.peek(1) == b'*' {
                let start = self.pos;
                // MySQL/MariaDB executable comments: `/*!NNNNN code */`, `/*M!NNNNN code */`.
                if self.mysqlish() && !self.in_versioned {
                    let bang = if self.peek(2) == b'!' {
                        Some(3)
                    } else if self.peek(2) == b'M' && self.peek(3) == b'!' {
                        Some(4)
                    } else {
                        None
                    };
                    if let Some(skip) = bang {
                        self.pos += skip;
                        let mut digits = 0;
                        while digits < 6 && self.peek(0).is_ascii_digit() {
                            self.pos += 1;
                            digits += 1;
                        }
                        self.in_versioned = true;
                        self.facts.versioned_comment = true;
                        continue;
                    }
                }
                self.skip_block_comment();
                let glued_before = self.stmt_has_token && start == self.prev_end;
                let next = self.peek(0);
                let glued_after = self.stmt_has_token
                    && self.pos < self.b.len()
                    && !next.is_ascii_whitespace()
                    && next != b';';
                if glued_before || glued_after {
                    self.facts.comment_obfuscation = true;
                }
                continue;
            }
            let line_comment = match c {
                b'#' => self.dialect == Dialect::Mysql,
                b'-' if self.peek(1) == b'-' => {
                    // MySQL needs whitespace (or end) after `--`; others do not.
                    self.dialect != Dialect::Mysql
                        || matches!(self.peek(2), 0 | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
                }
                _ => false,
            };
            if line_comment {
                let start = self.pos;
                let end = memchr::memchr(b'\n', &self.b[self.pos..]).map_or(self.b.len(), |i| self.pos + i);
                let body = &self.b[start..end];
                // What follows the marker: empty or one short word (`-- -`, `#`, sqlmap's
                // `-- ZzRz` on PostgreSQL) is a tag that cuts a template, not prose.
                let marker = if c == b'#' { 1 } else { 2 };
                let rest = body.get(marker..).unwrap_or(&[]).trim_ascii();
                let short = rest.len() <= 4 && !rest.iter().any(u8::is_ascii_whitespace);
                if self.stmt_has_token && (short || body.iter().any(|&c| c == b'\'' || c == b'"')) {
                    self.pending_trailing = true;
                }
                self.pos = end;
                continue;
            }
            return;
        }
    }

    fn skip_block_comment(&mut self) {
        // Positioned at `/*`. PostgreSQL nests block comments; MySQL does not.
        self.pos += 2;
        let nests = self.dialect == Dialect::Postgres;
        let mut level = 1u32;
        while self.pos < self.b.len() {
            match memchr::memchr2(b'*', b'/', &self.b[self.pos..]) {
                None => break,
                Some(i) => {
                    self.pos += i;
                    if self.peek(0) == b'*' && self.peek(1) == b'/' {
                        self.pos += 2;
                        level -= 1;
                        if level == 0 {
                            return;
                        }
                    } else if nests && self.peek(0) == b'/' && self.peek(1) == b'*' {
                        self.pos += 2;
                        level += 1;
                    } else {
                        self.pos += 1;
                    }
                }
            }
        }
        self.pos = self.b.len();
        self.facts.unterminated = true;
    }

    /// Consumes a quoted run starting at the opening `q`; `backslash` enables `\x` escapes.
    fn quoted(&mut self, q: u8, backslash: bool) {
        self.pos += 1;
        loop {
            let rest = &self.b[self.pos.min(self.b.len())..];
            let found = if backslash {
                memchr::memchr2(q, b'\\', rest)
            } else {
                memchr::memchr(q, rest)
            };
            match found {
                None => {
                    self.pos = self.b.len();
                    self.facts.unterminated = true;
                    return;
                }
                Some(i) => {
                    self.pos += i;
                    if self.b[self.pos] == b'\\' {
                        self.pos += 2;
                        if self.pos > self.b.len() {
                            self.pos = self.b.len();
                            self.facts.unterminated = true;
                            return;
                        }
                    } else if self.peek(1) == q {
                        self.pos += 2;
                    } else {
                        self.pos += 1;
                        return;
                    }
                }
            }
        }
    }

    /// `$tag$…$tag$` at `pos`; returns false when this is not a dollar quote.
    fn dollar_quoted(&mut self) -> bool {
        let start = self.pos;
        let mut i = start + 1;
        if i < self.b.len() && is_ident_start(self.b[i]) {
            while i < self.b.len() && is_ident_char(self.b[i]) && self.b[i] != b'$' {
                i += 1;
            }
        }
        if i >= self.b.len() || self.b[i] != b'$' {
            return false;
        }
        let tag = &self.b[start..=i];
        let body = i + 1;
        match memchr::memmem::find(&self.b[body..], tag) {
            Some(j) => self.pos = body + j + tag.len(),
            None => {
                self.pos = self.b.len();
                self.facts.unterminated = true;
            }
        }
        true
    }

    fn number(&mut self) -> Kind {
        let b = self.b;
        let start = self.pos;
        if b[start] == b'0' && matches!(self.peek(1), b'x' | b'X') && self.peek(2).is_ascii_hexdigit() {
            self.pos += 2;
            while self.peek(0).is_ascii_hexdigit() {
                self.pos += 1;
            }
        } else if b[start] == b'0'
            && matches!(self.peek(1), b'b' | b'B')
            && matches!(self.peek(2), b'0' | b'1')
        {
            self.pos += 2;
            while matches!(self.peek(0), b'0' | b'1') {
                self.pos += 1;
            }
        } else {
            while self.peek(0).is_ascii_digit() || self.peek(0) == b'_' {
                self.pos += 1;
            }
            if self.peek(0) == b'.' && self.peek(1) != b'.' {
                self.pos += 1;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
            }
            if matches!(self.peek(0), b'e' | b'E') {
                let sign = usize::from(matches!(self.peek(1), b'+' | b'-'));
                if self.peek(1 + sign).is_ascii_digit() {
                    self.pos += 1 + sign;
                    while self.peek(0).is_ascii_digit() {
                        self.pos += 1;
                    }
                }
            }
        }
        // MySQL identifiers may start with digits (`1abc`); a digit run glued to letters is a
        // word there.
        if self.dialect == Dialect::Mysql && is_ident_char(self.peek(0)) && self.peek(0) != b'$' {
            let all_digits = b[start..self.pos].iter().all(u8::is_ascii_digit);
            if all_digits {
                while is_ident_char(self.peek(0)) {
                    self.pos += 1;
                }
                return Kind::Word;
            }
        }
        Kind::Num
    }

    fn operator(&mut self) {
        const OPS3: [&[u8]; 4] = [b"<=>", b"->>", b"#>>", b"!~*"];
        const OPS2: [&[u8]; 15] = [
            b"<=", b">=", b"<>", b"!=", b"||", b"&&", b"::", b":=", b"->", b"<<", b">>", b"~*", b"!~", b"@>",
            b"<@",
        ];
        let rest = &self.b[self.pos..];
        if OPS3.iter().any(|op| rest.starts_with(op)) {
            self.pos += 3;
        } else if OPS2.iter().any(|op| rest.starts_with(op)) {
            self.pos += 2;
        } else {
            // One UTF-8 scalar: never split a multi-byte character.
            let len = self.src[self.pos..].chars().next().map_or(1, char::len_utf8);
            self.pos += len;
        }
    }

    /// The next token, or `None` at the end of the text.
    pub fn next_token(&mut self) -> Option<Token> {
        self.skip_trivia();
        if self.pos >= self.b.len() {
            return None;
        }
        let start = self.pos;
        let c = self.b[start];
        let kind = match c {
            b'\'' => {
                let bs = self.mysqlish();
                self.quoted(b'\'', bs);
                Kind::Str
            }
            b'"' => {
                if self.dialect == Dialect::Mysql {
                    self.quoted(b'"', true);
                    Kind::Str
                } else {
                    self.quoted(b'"', false);
                    Kind::Quoted
                }
            }
            b'`' => {
                self.quoted(b'`', false);
                Kind::Quoted
            }
            b'(' => {
                self.pos += 1;
                self.depth += 1;
                self.facts.max_depth = self.facts.max_depth.max(self.depth);
                Kind::LParen
            }
            b')' => {
                self.pos += 1;
                self.depth = self.depth.saturating_sub(1);
                Kind::RParen
            }
            b',' => {
                self.pos += 1;
                Kind::Comma
            }
            b';' => {
                self.pos += 1;
                Kind::Semi
            }
            b'.' if self.peek(1).is_ascii_digit() && !(self.prev_name && self.prev_end == start) => {
                self.number()
            }
            b'.' => {
                self.pos += 1;
                Kind::Dot
            }
            b'?' => {
                self.pos += 1;
                Kind::Param
            }
            b'$' if self.dialect != Dialect::Mysql && self.peek(1).is_ascii_digit() => {
                self.pos += 1;
                while self.peek(0).is_ascii_digit() {
                    self.pos += 1;
                }
                Kind::Param
            }
            b'$' if self.dialect != Dialect::Mysql && self.dollar_quoted() => Kind::Str,
            b'@' if self.mysqlish() && (is_ident_char(self.peek(1)) || self.peek(1) == b'@') => {
                self.pos += 1;
                if self.peek(0) == b'@' {
                    self.pos += 1;
                }
                while is_ident_char(self.peek(0)) {
                    self.pos += 1;
                }
                Kind::Var
            }
            b'0'..=b'9' => self.number(),
            c if is_ident_start(c) => self.word_or_prefixed_string(),
            _ => {
                self.operator();
                Kind::Op
            }
        };
        self.prev_end = self.pos;
        self.prev_name = matches!(kind, Kind::Word | Kind::Quoted);
        if kind == Kind::Semi {
            self.stmt_has_token = false;
        } else {
            self.stmt_has_token = true;
            self.pending_trailing = false;
        }
        let kw = kind == Kind::Word && self.src.get(start..self.pos).is_some_and(is_keyword);
        Some(Token {
            kind,
            kw,
            start: start as u32,
            end: self.pos as u32,
        })
    }

    fn word_or_prefixed_string(&mut self) -> Kind {
        let start = self.pos;
        while is_ident_char(self.peek(0)) {
            self.pos += 1;
        }
        let word = &self.b[start..self.pos];
        let next = self.peek(0);
        if next == b'\'' {
            let (is_prefix, backslash) = match word {
                [b'e' | b'E'] => (self.dialect != Dialect::Mysql, true),
                [b'n' | b'N' | b'x' | b'X' | b'b' | b'B'] => (true, self.mysqlish()),
                [b'_', ..] => (self.dialect == Dialect::Mysql, true),
                _ => (false, false),
            };
            if is_prefix {
                self.quoted(b'\'', backslash);
                return Kind::Str;
            }
        }
        if next == b'&' && self.peek(1) == b'\'' && matches!(word, [b'u' | b'U']) {
            self.pos += 1;
            self.quoted(b'\'', false);
            return Kind::Str;
        }
        Kind::Word
    }
}

/// Output of one normalization pass.
#[derive(Debug, Default)]
pub(crate) struct Normalized {
    /// Normalized text (reused buffer).
    pub text: String,
    /// All tokens of the text (reused buffer).
    pub tokens: Vec<Token>,
    /// Facts not visible in `text`.
    pub facts: LexFacts,
    /// Statements found (non-empty runs between `;` at top level).
    pub statements: u32,
}

/// An open parenthesis during normalization: may its content collapse to `?+`?
#[derive(Clone, Copy)]
struct Frame {
    out_pos: usize,
    collapsible: bool,
    only_literals: bool,
    literals: u32,
    /// The next token must be a list element (just after `(` or `,`): a list collapses only if
    /// every element is one literal — `(?, )`, `(?,, ?)` and `(? ?)` do not parse and must not
    /// share the shape of `(?+)` (found by the `sql` fuzz target: the cache answered for them).
    expect_element: bool,
}

const MAX_FRAMES: usize = 256;

/// True when the token continues an expression as an operand.
fn is_operand(tok: &Token) -> bool {
    match tok.kind {
        Kind::Str | Kind::Num | Kind::Param | Kind::Var | Kind::Quoted | Kind::RParen => true,
        Kind::Word => !tok.kw,
        _ => false,
    }
}

/// Appends `w` ASCII-lower-cased (non-ASCII characters unchanged).
#[inline]
fn push_lower(out: &mut String, w: &str) {
    let from = out.len();
    out.push_str(w);
    if let Some(tail) = out.get_mut(from..) {
        tail.make_ascii_lowercase();
    }
}

/// Appends `w` ASCII-upper-cased (non-ASCII characters unchanged).
#[inline]
fn push_upper(out: &mut String, w: &str) {
    let from = out.len();
    out.push_str(w);
    if let Some(tail) = out.get_mut(from..) {
        tail.make_ascii_uppercase();
    }
}

/// Writes a word folded for the normalized text: keywords upper-case, identifiers lower-case.
fn push_word(out: &mut String, w: &str, kw: bool) {
    if kw {
        push_upper(out, w);
    } else {
        push_lower(out, w);
    }
}

/// Writes a quoted identifier: bare when quoting changes nothing, so `` `users` ``, `"users"`
/// and `users` share a fingerprint.
fn push_quoted(out: &mut String, tok: &str, dialect: Dialect) {
    let q = tok.as_bytes().first().copied().unwrap_or(b'"');
    let inner = tok.get(1..tok.len().saturating_sub(1)).unwrap_or("");
    let folds = dialect == Dialect::Mysql || q == b'`';
    let plain = !inner.is_empty()
        && inner.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !inner.as_bytes()[0].is_ascii_digit()
        && !is_keyword(inner)
        && (folds || !inner.bytes().any(|c| c.is_ascii_uppercase()));
    if plain {
        push_lower(out, inner);
    } else if folds {
        out.push('`');
        push_lower(out, inner);
        out.push('`');
    } else {
        out.push_str(tok);
    }
}

/// Lexes `src` once: fills tokens, writes the normalized text, counts statements.
pub(crate) fn normalize_into(src: &str, dialect: Dialect, out: &mut Normalized) {
    out.text.clear();
    out.tokens.clear();
    out.statements = 0;
    let mut lx = Lexer::new(src, dialect);
    let mut frames: Vec<Frame> = Vec::new();
    let mut overflow = 0usize;
    let mut prev: Option<Token> = None;
    let mut sign_pos: Option<usize> = None;
    let mut stmt_tokens = 0u32;
    let mut trailing = false;
    let text = &mut out.text;
    while let Some(tok) = lx.next_token() {
        out.tokens.push(tok);
        let t = tok.text(src);
        let prev_kind = prev.map(|p| p.kind);
        let prev_kw = prev.is_some_and(|p| p.kw);
        let prev_text = prev.map_or("", |p| p.text(src));
        // Spacing: one space between tokens, none inside `(`…`)`, before `,`/`.`, around `::`.
        let glue = match tok.kind {
            Kind::RParen | Kind::Comma | Kind::Dot | Kind::Semi => true,
            Kind::LParen => matches!(prev_kind, Some(Kind::Word | Kind::Quoted)) && !prev_kw,
            _ => t == "::",
        } || matches!(prev_kind, Some(Kind::LParen | Kind::Dot))
            || prev_text == "::"
            || (prev_text == "@" && tok.kind == Kind::Str)
            || (t == "@" && prev_kind == Some(Kind::Str))
            || text.is_empty();
        // Unary sign: `-` / `+` where no operand precedes it may belong to the next number.
        let prev_operand = prev.as_ref().is_some_and(is_operand);
        let is_sign = tok.kind == Kind::Op && (t == "-" || t == "+") && !prev_operand;
        // Literal-only list tracking for the innermost open parenthesis.
        if let Some(f) = frames.last_mut() {
            match tok.kind {
                Kind::Str | Kind::Num | Kind::Param => {
                    f.literals += 1;
                    f.only_literals &= f.expect_element;
                    f.expect_element = false;
                }
                Kind::Comma => {
                    f.only_literals &= !f.expect_element;
                    f.expect_element = true;
                }
                Kind::RParen => f.only_literals &= !f.expect_element,
                Kind::Op if is_sign => f.only_literals &= f.expect_element,
                _ => f.only_literals = false,
            }
        }
        let this_start = text.len();
        if !glue {
            text.push(' ');
        }
        match tok.kind {
            Kind::Word if prev_kind == Some(Kind::Dot) => push_lower(text, t),
            Kind::Word => push_word(text, t, tok.kw),
            Kind::Quoted => push_quoted(text, t, dialect),
            Kind::Var => push_lower(text, t),
            Kind::Str | Kind::Num | Kind::Param => {
                // A sign folds into a number or parameter (`-1`, `-?`), never into a string:
                // `+ 'b'@'h'` is not the user list `'b'@'h'`, and one normalized text must give
                // one analysis (the cache is keyed by it; found by the `sql` fuzz target).
                if tok.kind == Kind::Str {
                    sign_pos = None;
                }
                if let Some(p) = sign_pos.take() {
                    text.truncate(p);
                    if !text.is_empty() && !text.ends_with(['(', ' ']) {
                        text.push(' ');
                    }
                }
                text.push('?');
            }
            Kind::LParen => {
                text.push('(');
                if frames.len() < MAX_FRAMES {
                    frames.push(Frame {
                        out_pos: text.len(),
                        collapsible: !matches!(prev_kind, Some(Kind::Word | Kind::Quoted)) || prev_kw,
                        only_literals: true,
                        literals: 0,
                        expect_element: true,
                    });
                } else {
                    overflow += 1;
                }
            }
            Kind::RParen => {
                if overflow > 0 {
                    overflow -= 1;
                } else if let Some(f) = frames.pop() {
                    if f.collapsible && f.only_literals && f.literals > 0 {
                        text.truncate(f.out_pos);
                        text.push_str("?+");
                        // Multi-row VALUES: `(?+), (?+)` → `(?+)`.
                        if text.ends_with("(?+), (?+") {
                            text.truncate(text.len() - "(?+), (?+".len());
                            text.push_str("(?+");
                        }
                    }
                }
                text.push(')');
            }
            Kind::Semi => text.push(';'),
            _ => text.push_str(t),
        }
        if is_sign {
            sign_pos = Some(this_start);
        } else if !tok.is_literal() {
            sign_pos = None;
        }
        if tok.kind == Kind::Semi {
            if stmt_tokens > 0 {
                out.statements += 1;
            }
            trailing |= lx.take_trailing();
            stmt_tokens = 0;
        } else {
            stmt_tokens += 1;
        }
        prev = Some(tok);
    }
    if stmt_tokens > 0 {
        out.statements += 1;
    }
    trailing |= lx.take_trailing();
    // A trailing `;` adds nothing to the shape.
    while text.ends_with(';') {
        text.pop();
    }
    out.facts = lx.facts;
    out.facts.trailing_comment = trailing;
}
